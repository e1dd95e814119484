/*  main.c: pm-scheduling, the scheduling service. Follows the staffing
    and patients streams, serves booking and the appointment lifecycle,
    and runs the timed work (lapsed holds, automatic no-shows).          */
#include <stdio.h>
#include <string.h>

#include "pm_cfg.h"
#include "pm_log.h"
#include "scheduling.h"
#include "scheduling_schema.h"
#include "scheduling_tz.h"

int
main (int argc, char *argv[])
{
    static const pm_cfg_var_t extra[] = {
        {"PM_SCHEDULING_TICK_MS", "10000",
         "how often lapsed holds and overdue no-shows are handled"},
        {"PM_SCHEDULING_EARLY_ARRIVAL_MINUTES", "120",
         "how long before the start a patient may arrive or check in (0..1440)"},
        {"PM_SCHEDULING_OFFER_SECONDS", "900",
         "how long a freed slot is held for the waitlist entry it is offered to (1..86400)"},
        {"PM_STAFFING_ENDPOINT", "", "staffing's command endpoint (its stream is followed)"},
        {"PM_PATIENTS_ENDPOINT", "", "patients' command endpoint (its stream is followed)"},
        {NULL, NULL, NULL},
    };
    if (argc > 1) {
        bool help = strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0;
        pm_cfg_print_help (help ? stdout : stderr, "pm-scheduling", "scheduling", extra);
        return help ? 0 : 2;
    }
    pm_log_init ("scheduling", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&scheduling_schema, NULL);
    if (!server || scheduling_setup (server) != 0) {
        pm_error ("cannot start", NULL);
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_run (server);
    pm_server_destroy (&server);
    sch_tz_shutdown ();
    return 0;
}
