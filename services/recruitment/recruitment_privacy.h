/*  recruitment_privacy.h: candidates' consent, retention and erasure.
    A candidate with no open process is kept until retain_until (their
    last process's end plus their retention period, by default their
    site's); then, or when they ask, their personal data is removed and
    the anonymous measures stay.                                          */
#ifndef RECRUITMENT_PRIVACY_H
#define RECRUITMENT_PRIVACY_H

#include "recruitment_candidates.h"

//  Binds SetCandidatePrivacy and EraseCandidate.
void rec_privacy_setup (pm_server_t *server);

//  Timed work: erases candidates whose retention ended.
pm_err rec_privacy_tick (pm_ctx_t *ctx);

//  Application `app` (in memory, not yet stored) just ended: when its
//  candidate has no other open process, their retention clock starts.
pm_err rec_privacy_ended (pm_ctx_t *ctx, const rec_app_t *app);

//  Candidate `c` (in memory) opens a process again: their retention clock
//  stops. True when `c` changed (the caller stores it).
bool rec_privacy_reopened (pm_ctx_t *ctx, rec_cand_t *c);

//  Stamps consent given in a request as recorded now by the caller: a
//  malloc'd copy (free with free_unpacked), NULL when none was given.
Pm__Recruitment__Consent *rec_consent_stamp (pm_ctx_t *ctx,
                                             const Pm__Recruitment__Consent *in);

#endif
