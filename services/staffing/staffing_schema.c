/*  staffing_schema.c: the staffing service's commands and events.

    Roles: network-admin may call everything; practice managers run their
    sites (settings, resources, people, rosters, leave decisions); reads
    of sites are open to every role and to other services.               */
#include "staffing_schema.h"

//  Everyone who may read site settings: every role, services included.
#define READ_SITES PM_ROLES_ALL
//  Everyone who may read staff records and rosters.
#define READ_STAFF (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK | PM_ROLE_CLINICIAN \
                    | PM_ROLE_HIRING_MANAGER | PM_ROLE_FINANCE | PM_ROLE_AUDITOR    \
                    | PM_ROLE_SERVICE | PM_ROLE_GATEWAY)

#define D(name) &pm__staffing__##name##__descriptor

static const pm_command_def_t s_commands[] = {
    //  Sites and resources
    {"staffing.CreateSite", PM_WRITE, D (create_site), D (site),
     "create a site (id, zone, hours, closures, currency, policy)", 0},
    {"staffing.UpdateSite", PM_WRITE, D (update_site), D (site),
     "replace a site's settings (needs expected_version)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.CloseSite", PM_WRITE, D (set_site_status), D (site),
     "mark a site closed (reason)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ReopenSite", PM_WRITE, D (set_site_status), D (site),
     "mark a site open again (reason)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.GetSite", PM_READ, D (get_site), D (site), "a site by id", READ_SITES},
    {"staffing.ListSites", PM_READ, NULL, D (site_list), "every site, by id",
     READ_SITES},
    {"staffing.AddResource", PM_WRITE, D (add_resource), D (resource),
     "add a room or piece of equipment to a site", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.UpdateResource", PM_WRITE, D (update_resource), D (resource),
     "change a resource (needs expected_version)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ListResources", PM_READ, D (list_resources), D (resource_list),
     "a site's resources, by kind", READ_SITES},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"staffing.site.created", D (site)},
    {"staffing.site.updated", D (site)},
    {"staffing.site.closed", D (site)},
    {"staffing.site.reopened", D (site)},
    {"staffing.resource.added", D (resource)},
    {"staffing.resource.updated", D (resource)},
    {NULL, NULL},
};

const pm_schema_t staffing_schema = {"staffing", s_commands, s_events};
