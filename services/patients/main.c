/*  main.c: pm-patients, the patients service.                            */
#include <stdio.h>
#include <string.h>

#include "patients.h"
#include "patients_schema.h"
#include "pm_cfg.h"
#include "pm_log.h"

int
main (int argc, char *argv[])
{
    if (argc > 1) {
        bool help = strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0;
        static const pm_cfg_var_t extra[] = {
            {"PM_PATIENTS_SLA_CHECK_MS", "60000",
             "how often complaint service levels are checked for breaches"},
            {"PM_PATIENTS_REDACT_EVERY_MS", "250",
             "how often, after an erasure, a pass rewrites older events"},
            {"PM_PATIENTS_REDACT_PER_PASS", "5000",
             "events one such pass looks at, at most (bounds its pause)"},
            {NULL, NULL, NULL},
        };
        pm_cfg_print_help (help ? stdout : stderr, "pm-patients", "patients", extra);
        return help ? 0 : 2;
    }
    pm_log_init ("patients", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&patients_schema, NULL);
    if (!server || patients_setup (server) != 0) {
        pm_error ("cannot start", NULL);
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_run (server);
    pm_server_destroy (&server);
    return 0;
}
