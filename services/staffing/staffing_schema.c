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
    //  Staff
    {"staffing.Onboard", PM_WRITE, D (onboard), D (staff),
     "onboard a staff member (roles, sites with FTE, pay, start date)",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.UpdateStaff", PM_WRITE, D (update_staff), D (staff),
     "replace a staff member's details (needs expected_version)",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.Terminate", PM_WRITE, D (terminate), D (staff),
     "terminate a staff member with a last working day", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.GetStaff", PM_READ, D (get_staff), D (staff), "a staff member by id",
     READ_STAFF},
    {"staffing.ListStaff", PM_READ, D (list_staff), D (staff_list),
     "who works at a site, by role", READ_STAFF},
    {"staffing.GetHire", PM_READ, D (get_hire), D (hire_record),
     "what became of a recruitment hire (candidate id)",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_RECRUITER | PM_ROLE_HIRING_MANAGER
         | PM_ROLE_SERVICE},
    //  Credentials
    {"staffing.AddCredential", PM_WRITE, D (add_credential), D (credential),
     "record a licence or certificate of a staff member", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.UpdateCredential", PM_WRITE, D (update_credential), D (credential),
     "renew or correct a credential (needs expected_version)",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.VerifyCredential", PM_WRITE, D (verify_credential), D (credential),
     "record who checked a credential's original", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ListCredentials", PM_READ, D (list_credentials), D (credential_list),
     "a staff member's credentials", READ_STAFF},
    {"staffing.ExpiringCredentials", PM_READ, D (expiring_credentials),
     D (expiring_list), "what expires at a site in the next N days",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_AUDITOR | PM_ROLE_SERVICE},
    {"staffing.SetRoleRequirements", PM_WRITE, D (set_role_requirements),
     D (role_requirements), "the credential types a role requires", 0},
    {"staffing.GetRoleRequirements", PM_READ, D (get_role_requirements),
     D (role_requirements), "what a role requires", READ_STAFF},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"staffing.site.created", D (site)},
    {"staffing.site.updated", D (site)},
    {"staffing.site.closed", D (site)},
    {"staffing.site.reopened", D (site)},
    {"staffing.resource.added", D (resource)},
    {"staffing.resource.updated", D (resource)},
    {"staffing.staff.onboarded", D (staff)},
    {"staffing.staff.updated", D (staff)},
    {"staffing.staff.terminated", D (staff)},
    {"staffing.hire.rejected", D (hire_record)},
    {"staffing.credential.added", D (credential)},
    {"staffing.credential.updated", D (credential)},
    {"staffing.credential.verified", D (credential)},
    {"staffing.credential.expiring", D (credential_alert)},
    {"staffing.credential.expired", D (credential_alert)},
    {"staffing.role.requirements_set", D (role_requirements)},
    {NULL, NULL},
};

const pm_schema_t staffing_schema = {"staffing", s_commands, s_events};
