/*  staffing.c: wires the staffing service together: its store, each
    concept's commands, the recruitment follower and the timers.          */
#include "staffing.h"
#include "staffing_hires.h"
#include "staffing_sites.h"
#include "staffing_staff.h"
#include "staffing_store.h"

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
    return 0;
}
