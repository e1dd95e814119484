/*  finance.h: the finance service: price lists and site fees, charges from
    scheduling's stream, invoices, payments and credit notes, patient
    accounts, daily close and period locks. The store layout is in
    finance_store.h; each concept's commands are in finance_<concept>.c. */
#ifndef FINANCE_H
#define FINANCE_H

#include "pm_server.h"

//  Opens the service's sub-databases, binds its handlers and followers.
//  -1 on failure.
int finance_setup (pm_server_t *server);

#endif
