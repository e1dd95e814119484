/*  recruitment_candidates.h: candidates (people, network-wide, one per
    e-mail or phone) and their applications to postings.                  */
#ifndef RECRUITMENT_CANDIDATES_H
#define RECRUITMENT_CANDIDATES_H

#include "recruitment_store.h"

typedef Pm__Recruitment__Candidate rec_cand_t;
typedef Pm__Recruitment__Application rec_app_t;

//  Binds Apply, GetCandidate, GetApplication, ListApplications.
void rec_candidates_setup (pm_server_t *server);

//  Loads candidate `id` (caller frees), failing naming `field`; puts the
//  access on the audit log (a candidate's record is a person's) and
//  refuses one who applied to none of the caller's sites.
pm_err rec_cand_open (pm_ctx_t *ctx, const char *id, const char *field,
                      rec_cand_t **out);

//  Loads application `id` (caller frees), checks the caller works at its
//  site and audits the access to its candidate.
pm_err rec_app_open (pm_ctx_t *ctx, const char *id, const char *field,
                     rec_app_t **out);

//  Drops the duplicate-detection entries of the candidate's e-mail and
//  phone (erasure): no later application is matched to them.
pm_err rec_cand_forget_contact (pm_ctx_t *ctx, const rec_cand_t *c);

//  Stores an application, emits recruitment.application.moved with it,
//  replies with it (when serving a request).
pm_err rec_app_commit (pm_ctx_t *ctx, rec_app_t *app);

#endif
