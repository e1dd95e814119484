/*  recruitment_redact.h: after a candidate's erasure, the older events of
    recruitment's stream that carried their data are rewritten in place by
    the erasure's own rules (recruitment_privacy.h), in bounded passes on
    a timer; recruitment.candidate.events_redacted says when it is done.  */
#ifndef RECRUITMENT_REDACT_H
#define RECRUITMENT_REDACT_H

#include "recruitment_candidates.h"

//  Starts the rewriting of the stream's events about candidate `c`, just
//  erased in this unit, from the stream's first event.
pm_err rec_redaction_start (pm_ctx_t *ctx, const rec_cand_t *c);

//  Timed work: one bounded pass over the stream for the waiting jobs; a
//  job that reached the end of the stream is done and announced.
pm_err rec_redact_tick (pm_ctx_t *ctx);

#endif
