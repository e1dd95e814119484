/*  scheduling.c: sets the scheduling service up on a server: its store,
    its handlers, the streams it follows and its timed work. Shared by
    main.c and the fuzz harness (tests/fuzz/fuzz_cmd.c).                 */
#include "pm_cfg.h"
#include "scheduling.h"
#include "scheduling_appts.h"
#include "scheduling_feeds.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
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

//  --------------------------------------------------------------------------
int
scheduling_setup (pm_server_t *server)
{
    if (sch_store_open (pm_server_store (server)) != 0) {
        return -1;
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
    return 0;
}
