/*  main.c: pm-finance, the finance service.                              */
#include <stdio.h>
#include <string.h>

#include "finance.h"
#include "finance_schema.h"
#include "finance_tz.h"
#include "pm_cfg.h"
#include "pm_log.h"

int
main (int argc, char *argv[])
{
    if (argc > 1) {
        bool help = strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0;
        pm_cfg_print_help (help ? stdout : stderr, "pm-finance", "finance", NULL);
        return help ? 0 : 2;
    }
    pm_log_init ("finance", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&finance_schema, NULL);
    if (!server || finance_setup (server) != 0) {
        pm_error ("cannot start", NULL);
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_run (server);
    pm_server_destroy (&server);
    fin_tz_shutdown ();
    return 0;
}
