/*  recruitment_interviews.h: interviews. Interviewers' availability is
    projected from staffing's stream (rostered hours, approved leave, site
    zones); slots are proposed inside every panel member's free time on
    the site's local days; the candidate's pick is booked race-free;
    interviews are rescheduled and cancelled with their history kept; each
    panel member submits their own scorecard.                            */
#ifndef RECRUITMENT_INTERVIEWS_H
#define RECRUITMENT_INTERVIEWS_H

#include "recruitment_candidates.h"

//  Binds the interview commands and follows staffing's stream.
void rec_interviews_setup (pm_server_t *server);

//  Applies one staffing event to the availability projection.
pm_err rec_itv_feed_staffing (pm_ctx_t *ctx, const Pm__Event *event);

//  Drops everything projected from staffing (its stream was replaced).
pm_err rec_itv_reset_staffing (pm_ctx_t *ctx, const char *source);

//  PM_OK when application `app` may leave its interviews behind
//  (INTERVIEW_DONE): no interview of it is booked and still waiting for
//  scorecards. Otherwise fails ECONFLICT naming who has not submitted.
pm_err rec_itv_feedback_in (pm_ctx_t *ctx, const rec_app_t *app);

//  Interview-to-feedback times of application `app_id`'s completed
//  interviews: adds their count, sum and max (ms) to the out values.
pm_err rec_itv_feedback_times (pm_ctx_t *ctx, const char *app_id, uint32_t *count,
                               int64_t *sum, int64_t *max);

#endif
