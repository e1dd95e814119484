/*  staffing.h: the staffing service: sites, people, credentials, training,
    rosters and leave. The store layout is in staffing_store.h; each
    concept's commands are in its own staffing_<concept>.c.               */
#ifndef STAFFING_H
#define STAFFING_H

#include "pm_server.h"

//  Opens the service's sub-databases, binds its handlers, followers and
//  timers. -1 on failure.
int staffing_setup (pm_server_t *server);

#endif
