/*  main.c: pm-recruitment, the recruitment service.                      */
#include <stdio.h>
#include <string.h>

#include "pm_cfg.h"
#include "pm_log.h"
#include "recruitment.h"
#include "recruitment_schema.h"
#include "recruitment_tz.h"

//  Settings of this service beyond the common ones.
static const pm_cfg_var_t s_settings[] = {
    {"PM_RECRUITMENT_TICK_MS", "60000", "how often lapsed offers, service-level breaches and ended retention are handled"},
    {"PM_RECRUITMENT_REDACT_EVERY_MS", "250", "how often an erased candidate's older events are rewritten (one pass)"},
    {"PM_RECRUITMENT_REDACT_PER_PASS", "5000", "events one pass of that rewriting looks at, at most"},
    {NULL, NULL, NULL},
};

int
main (int argc, char *argv[])
{
    if (argc > 1) {
        bool help = strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0;
        pm_cfg_print_help (help ? stdout : stderr, "pm-recruitment", "recruitment",
                           s_settings);
        return help ? 0 : 2;
    }
    pm_log_init ("recruitment", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&recruitment_schema, NULL);
    if (!server || recruitment_setup (server) != 0) {
        pm_error ("cannot start", NULL);
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_run (server);
    pm_server_destroy (&server);
    rec_tz_shutdown ();
    return 0;
}
