/*  recruitment.c: wires the recruitment service together: its store (and
    the one-time migrations of an older one), each concept's commands, the timers (offers, service levels, retention,
    the rewriting of erased candidates' older events) and the staffing
    follower.                               */
#include "pm_cfg.h"
#include "recruitment.h"
#include "recruitment_candidates.h"
#include "recruitment_experience.h"
#include "recruitment_interviews.h"
#include "recruitment_metrics.h"
#include "recruitment_offers.h"
#include "recruitment_pipeline.h"
#include "recruitment_pool.h"
#include "recruitment_privacy.h"
#include "recruitment_redact.h"
#include "recruitment_requisitions.h"
#include "recruitment_store.h"

//  --------------------------------------------------------------------------
int
recruitment_setup (pm_server_t *server)
{
    if (rec_store_open (pm_server_store (server)) != PM_OK
        || rec_pool_migrate (pm_server_store (server)) != 0) {
        return -1;
    }
    rec_requisitions_setup (server);
    rec_candidates_setup (server);
    rec_pipeline_setup (server);
    rec_offers_setup (server);
    rec_interviews_setup (server);
    rec_metrics_setup (server);
    rec_experience_setup (server);
    rec_privacy_setup (server);
    rec_pool_setup (server);
    int tick_ms = (int) pm_cfg_int ("PM_RECRUITMENT_TICK_MS", 60000);
    pm_server_every (server, tick_ms > 0 ? tick_ms : 60000, rec_offers_tick);
    pm_server_every (server, tick_ms > 0 ? tick_ms : 60000, rec_sla_tick);
    pm_server_every (server, tick_ms > 0 ? tick_ms : 60000, rec_privacy_tick);
    int redact_ms = (int) pm_cfg_int ("PM_RECRUITMENT_REDACT_EVERY_MS", 250);
    pm_server_every (server, redact_ms > 0 ? redact_ms : 250, rec_redact_tick);
    return 0;
}
