/*  scheduling.h: the scheduling service: appointment types, slots from
    staffing's shifts, holds and booking, the appointment lifecycle,
    series, waitlist offers and the views over them. The store layout is
    in scheduling_store.h; each concept's commands are in
    scheduling_<concept>.c. main.c and the fuzz harness both set the
    service up through scheduling_setup.                                 */
#ifndef SCHEDULING_H
#define SCHEDULING_H

#include "pm_server.h"

//  Opens the service's sub-databases (bringing a store of an older
//  version up to date first: sch_store_migrate), binds its handlers,
//  follows the staffing and patients streams and starts the timed work
//  (its first run also re-points what merges of an older version left
//  behind), with the settings from the environment (PM_SCHEDULING_*).
//  -1 on failure.
int scheduling_setup (pm_server_t *server);

#endif
