/*  main.c: pm-scheduling, the scheduling service. Follows the staffing
    and patients streams, serves booking and the appointment lifecycle,
    and runs the timed work (lapsed holds, automatic no-shows).          */
#include <stdio.h>
#include <string.h>

#include "pm_cfg.h"
#include "pm_log.h"
#include "scheduling_appts.h"
#include "scheduling_feeds.h"
#include "scheduling_schema.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
#include "scheduling_tz.h"
#include "scheduling_views.h"
#include "scheduling_waitlist.h"

static const struct {
    const char *type;
    pm_handler_fn *fn;
} s_handlers[] = {
    {"scheduling.DefineType", sch_define_type},
    {"scheduling.UpdateType", sch_update_type},
    {"scheduling.GetType", sch_get_type},
    {"scheduling.ListTypes", sch_list_types},
    {"scheduling.FindSlots", sch_find_slots},
    {"scheduling.HoldSlot", sch_hold},
    {"scheduling.ReleaseHold", sch_release_hold},
    {"scheduling.Book", sch_book},
    {"scheduling.Get", sch_get},
    {"scheduling.List", sch_list},
    {"scheduling.Reschedule", sch_reschedule},
    {"scheduling.Arrive", sch_arrive},
    {"scheduling.CheckIn", sch_check_in},
    {"scheduling.Fulfil", sch_fulfil},
    {"scheduling.Cancel", sch_cancel},
    {"scheduling.NoShow", sch_noshow},
    {"scheduling.EnteredInError", sch_entered_in_error},
    {"scheduling.Reset", sch_reset},
    {"scheduling.BookSeries", sch_book_series},
    {"scheduling.CancelSeries", sch_cancel_series},
    {"scheduling.RescheduleSeries", sch_reschedule_series},
    {"scheduling.ListAtRisk", sch_list_at_risk},
    {"scheduling.DaySheet", sch_day_sheet},
    {"scheduling.Utilisation", sch_utilisation},
    {"scheduling.ExportCalendar", sch_export_calendar},
    {"scheduling.AddToWaitlist", sch_waitlist_add},
    {"scheduling.AcceptOffer", sch_waitlist_accept},
    {"scheduling.DeclineOffer", sch_waitlist_decline},
    {"scheduling.RemoveFromWaitlist", sch_waitlist_remove},
    {"scheduling.ListWaitlist", sch_waitlist_list},
};

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
    if (!server || sch_store_open (pm_server_store (server)) != 0) {
        pm_error ("cannot start", NULL);
        pm_server_destroy (&server);
        return 1;
    }
    for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++) {
        pm_server_handle (server, s_handlers[i].type, s_handlers[i].fn);
    }
    pm_server_follow (server, "staffing", sch_feed_staffing, sch_reset_staffing);
    pm_server_follow (server, "patients", sch_feed_patients, sch_reset_patients);
    int64_t early = pm_cfg_int ("PM_SCHEDULING_EARLY_ARRIVAL_MINUTES", 120);
    sch_early_arrival_ms = (early >= 0 && early <= 1440 ? early : 120) * SCH_MINUTE_MS;
    int64_t offer = pm_cfg_int ("PM_SCHEDULING_OFFER_SECONDS", 900);
    sch_offer_ms = (offer >= 1 && offer <= 86400 ? offer : 900) * 1000;
    int tick = (int) pm_cfg_int ("PM_SCHEDULING_TICK_MS", 10000);
    pm_server_every (server, tick > 0 ? tick : 10000, sch_tick);
    pm_server_run (server);
    pm_server_destroy (&server);
    sch_tz_shutdown ();
    return 0;
}
