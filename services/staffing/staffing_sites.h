/*  staffing_sites.h: sites (zone, hours, closures, currency, policy,
    open/closed) and their bookable rooms and equipment.                  */
#ifndef STAFFING_SITES_H
#define STAFFING_SITES_H

#include "pm_server.h"
#include "staffing.pb-c.h"

//  Binds the site and resource commands.
void stf_sites_setup (pm_server_t *server);

//  The reason the site is closed on local `date` (a closure), or NULL.
const char *stf_site_closure (const Pm__Staffing__Site *site, const char *date);

#endif
