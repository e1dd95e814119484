/*  recruitment_requisitions.h: requisitions (what is to be hired, its
    approval) and their postings (what a careers page shows).             */
#ifndef RECRUITMENT_REQUISITIONS_H
#define RECRUITMENT_REQUISITIONS_H

#include "recruitment_store.h"

typedef Pm__Recruitment__Requisition rec_job_t;

//  Binds the requisition and posting commands.
void rec_requisitions_setup (pm_server_t *server);

//  Loads requisition `id` (caller frees), failing naming `field`.
pm_err rec_job_load (pm_ctx_t *ctx, const char *id, const char *field,
                     rec_job_t **out);

//  Counts one more hire into the requisition; at its headcount it is
//  FILLED and its postings close. Emits what changed.
pm_err rec_job_hired (pm_ctx_t *ctx, const char *job_id);

#endif
