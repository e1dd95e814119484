/*  staffing.c: wires the staffing service together: its store, each
    concept's commands, the recruitment follower and the timers.          */
#include "pm_cfg.h"
#include "staffing.h"
#include "staffing_credentials.h"
#include "staffing_hires.h"
#include "staffing_leave.h"
#include "staffing_rosters.h"
#include "staffing_sites.h"
#include "staffing_staff.h"
#include "staffing_store.h"
#include "staffing_training.h"

//  Timed work, through the write path: expiry warnings, overdue training.
static pm_err
s_tick (pm_ctx_t *ctx)
{
    pm_err rc = stf_credentials_tick (ctx);
    return rc == PM_OK ? stf_training_tick (ctx) : rc;
}

//  --------------------------------------------------------------------------
int
staffing_setup (pm_server_t *server)
{
    if (stf_store_open (pm_server_store (server)) != PM_OK) {
        return -1;
    }
    stf_sites_setup (server);
    stf_staff_setup (server);
    stf_hires_setup (server);
    stf_credentials_setup (server);
    stf_rosters_setup (server);
    stf_leave_setup (server);
    stf_training_setup (server);
    int tick_ms = (int) pm_cfg_int ("PM_STAFFING_TICK_MS", 60000);
    pm_server_every (server, tick_ms > 0 ? tick_ms : 60000, s_tick);
    return 0;
}
