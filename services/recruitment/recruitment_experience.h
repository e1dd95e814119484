/*  recruitment_experience.h: what the practice promises candidates and
    whether it keeps it: per-site service levels, measured by clocks that
    the pipeline and the message log start and stop; breaches found by the
    timer, each once; the log of messages to and from candidates; and the
    survey after each process.                                            */
#ifndef RECRUITMENT_EXPERIENCE_H
#define RECRUITMENT_EXPERIENCE_H

#include "recruitment_candidates.h"

typedef Pm__Recruitment__ServiceLevels rec_levels_t;

//  Binds the service-level, breach, message and survey commands.
void rec_experience_setup (pm_server_t *server);

//  Timed work: every clock past its site's limit becomes a Breach
//  (recruitment.sla.breached), once.
pm_err rec_sla_tick (pm_ctx_t *ctx);

//  Starts the acknowledge clock of a new application.
pm_err rec_sla_applied (pm_ctx_t *ctx, const rec_app_t *app);

//  Stops and starts the clocks for a step just made: `app` is at its new
//  stage, it entered `from` at `from_at`; `by_person` when a person (not
//  the service) made it.
pm_err rec_sla_stepped (pm_ctx_t *ctx, const rec_app_t *app,
                        Pm__Recruitment__Stage from, int64_t from_at,
                        bool by_person);

//  The site's service levels into *out (caller frees); version 0 and no
//  limits when never set.
pm_err rec_levels_get (pm_ctx_t *ctx, const char *site, rec_levels_t **out);

//  The survey score of an application (0..10), or -1 when none.
int rec_survey_score (pm_ctx_t *ctx, const char *app_id);

//  Adds the breaches of requisition `job_id` by kind into counts[0..3]
//  (counts[0]: all kinds).
pm_err rec_breach_counts (pm_ctx_t *ctx, const char *job_id, uint32_t counts[4]);

//  Erasure: the texts of an application's messages and its survey comment
//  are removed (rec_erase_message_fields, rec_erase_survey_fields);
//  directions, channels, times and the score stay.
pm_err rec_experience_erase (pm_ctx_t *ctx, const char *app_id);

#endif
