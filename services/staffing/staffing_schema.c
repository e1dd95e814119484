/*  staffing_schema.c: the staffing service's commands and events.

    Roles: network-admin may call everything; practice managers run their
    sites (settings, resources, people, rosters, leave decisions); reads
    of sites are open to every role and to other services.               */
#include "staffing_schema.h"

//  Everyone who may read site settings: every role, services included.
#define READ_SITES PM_ROLES_ALL
//  Everyone on the staff, asking for themselves (leave, swaps, claims).
#define STAFF_SELF (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK | PM_ROLE_CLINICIAN \
                    | PM_ROLE_RECRUITER | PM_ROLE_HIRING_MANAGER | PM_ROLE_FINANCE)
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
     D (role_requirements), "the credentials and training a role requires", 0},
    {"staffing.GetRoleRequirements", PM_READ, D (get_role_requirements),
     D (role_requirements), "what a role requires", READ_STAFF},
    //  Rosters
    {"staffing.CreateShiftTemplate", PM_WRITE, D (create_shift_template),
     D (shift_template), "a shift pattern (site, role, local start and end)",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ListShiftTemplates", PM_READ, D (list_shift_templates),
     D (shift_template_list), "a site's shift templates", READ_STAFF},
    {"staffing.AddShifts", PM_WRITE, D (add_shifts), D (shift_list),
     "shifts from a template over a date range, assigned or open",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.AssignShift", PM_WRITE, D (assign_shift), D (shift),
     "give an open shift to a staff member", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ClaimShift", PM_WRITE, D (assign_shift), D (shift),
     "take an open shift (a qualified staff member)",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_CLINICIAN | PM_ROLE_FRONT_DESK},
    {"staffing.UnassignShift", PM_WRITE, D (release_shift), D (shift),
     "take the assignee off a shift (it opens again)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.CancelShift", PM_WRITE, D (release_shift), D (shift),
     "cancel a shift", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ListShifts", PM_READ, D (list_shifts), D (shift_list),
     "a site's shifts in a time range (open only, or one person's)", READ_STAFF},
    {"staffing.RequestSwap", PM_WRITE, D (request_swap), D (swap_request),
     "ask to hand an assigned shift to someone else",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_CLINICIAN | PM_ROLE_FRONT_DESK},
    {"staffing.ApproveSwap", PM_WRITE, D (decide_swap), D (swap_request),
     "approve a swap: the shift moves", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.DenySwap", PM_WRITE, D (decide_swap), D (swap_request),
     "deny a swap (reason)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.AddCoverageRule", PM_WRITE, D (add_coverage_rule), D (coverage_rule),
     "minimum headcount of a role at a site over a daily window",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.RemoveCoverageRule", PM_WRITE, D (remove_coverage_rule),
     D (coverage_rule), "drop a coverage rule", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.CoverageGaps", PM_READ, D (coverage_gaps), D (coverage_report),
     "where rostered headcount falls short of the rules",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_AUDITOR | PM_ROLE_SERVICE},
    //  Leave
    {"staffing.SetLeaveType", PM_WRITE, D (set_leave_type), D (leave_type),
     "create or change a leave type: yearly days, hours per day, accrual, "
     "carry-over, pro-rating", 0},
    {"staffing.ListLeaveTypes", PM_READ, NULL, D (leave_type_list),
     "every leave type", READ_STAFF},
    {"staffing.SetLeaveAllocation", PM_WRITE, D (set_leave_allocation),
     D (leave_allocation), "one person's days of a leave type for a year",
     PM_ROLE_PRACTICE_MANAGER},
    {"staffing.LeaveBalance", PM_READ, D (leave_balance), D (balance),
     "allocated, approved, requested and remaining days and minutes; accrued and "
     "available as of a date", READ_STAFF},
    {"staffing.RequestLeave", PM_WRITE, D (request_leave), D (leave),
     "ask for days off, or hours of one day", STAFF_SELF},
    {"staffing.ApproveLeave", PM_WRITE, D (decide_leave), D (leave),
     "approve leave (a practice manager of the site)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.DenyLeave", PM_WRITE, D (decide_leave), D (leave),
     "deny leave (reason)", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.CancelLeave", PM_WRITE, D (cancel_leave), D (leave),
     "withdraw requested or approved leave", STAFF_SELF},
    {"staffing.ListLeave", PM_READ, D (list_leave), D (leave_list),
     "a person's leave, by start date", READ_STAFF},
    //  Training
    {"staffing.RecordTraining", PM_WRITE, D (record_training), D (training_completion),
     "record a completed course", PM_ROLE_PRACTICE_MANAGER},
    {"staffing.ListTraining", PM_READ, D (list_training), D (training_status_list),
     "a person's required courses and due dates", READ_STAFF},
    {"staffing.TrainingOverdue", PM_READ, D (training_overdue), D (training_status_list),
     "who at a site is past a training due date",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_AUDITOR | PM_ROLE_SERVICE},
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
    {"staffing.shift_template.created", D (shift_template)},
    {"staffing.shift.opened", D (shift)},
    {"staffing.shift.assigned", D (shift)},
    {"staffing.shift.unassigned", D (shift)},
    {"staffing.shift.cancelled", D (shift)},
    {"staffing.swap.requested", D (swap_request)},
    {"staffing.swap.approved", D (swap_request)},
    {"staffing.swap.denied", D (swap_request)},
    {"staffing.coverage.added", D (coverage_rule)},
    {"staffing.coverage.removed", D (coverage_rule)},
    {"staffing.leave_type.set", D (leave_type)},
    {"staffing.leave.allocation_set", D (leave_allocation)},
    {"staffing.leave.requested", D (leave)},
    {"staffing.leave.approved", D (leave)},
    {"staffing.leave.denied", D (leave)},
    {"staffing.leave.cancelled", D (leave)},
    {"staffing.training.completed", D (training_completion)},
    {"staffing.training.overdue", D (training_status)},
    {NULL, NULL},
};

const pm_schema_t staffing_schema = {"staffing", s_commands, s_events};
