/*  recruitment_pipeline.h: the application pipeline as one transition
    table (features.md s.4.2): which stage goes to which, who may move it
    (recruiter, hiring manager, interviewer, the candidate), by which
    command, and whether a reason is required.                            */
#ifndef RECRUITMENT_PIPELINE_H
#define RECRUITMENT_PIPELINE_H

#include "recruitment_candidates.h"

//  Binds recruitment.Move.
void rec_pipeline_setup (pm_server_t *server);

//  Moves `app` to `to` if the table allows it from its stage, by command
//  `via` (the request's type; NULL for the service's own timed work), for
//  the caller's role; appends the stamped change to its history and bumps
//  its version. Refuses (ECONFLICT naming the allowed stages, EFORBIDDEN,
//  EINVAL for a missing reason) and changes nothing otherwise.
pm_err rec_pipeline_step (pm_ctx_t *ctx, rec_app_t *app,
                          Pm__Recruitment__Stage to, const char *reason,
                          const char *via);

//  The stage's name ("SHORTLISTED").
const char *rec_stage_name (Pm__Recruitment__Stage stage);

#endif
