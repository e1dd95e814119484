/*  recruitment.h: the recruitment service: requisitions and postings,
    candidates and applications, the pipeline, offers and hires. The store
    layout is in recruitment_store.h; each concept's commands are in its
    own recruitment_<concept>.c.                                          */
#ifndef RECRUITMENT_H
#define RECRUITMENT_H

#include "pm_server.h"

//  Opens the service's sub-databases, binds its handlers and timers. -1
//  on failure.
int recruitment_setup (pm_server_t *server);

#endif
