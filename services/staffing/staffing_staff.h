/*  staffing_staff.h: the people who work at the sites: onboarding,
    changes, termination, and the questions rosters ask about them.       */
#ifndef STAFFING_STAFF_H
#define STAFFING_STAFF_H

#include <stdbool.h>

#include "pm_server.h"
#include "staffing.pb-c.h"

typedef Pm__Staffing__Staff stf_staff_t;

//  Binds the staff commands.
void stf_staff_setup (pm_server_t *server);

//  Onboards `s` (as given in a request: no id, version or status): checks
//  every field, gives it an id (written into id_out, PM_ID_MAX bytes),
//  stores and indexes it, emits staffing.staff.onboarded and, in a
//  command, replies with it. A refusal writes nothing.
pm_err stf_staff_onboard (pm_ctx_t *ctx, const stf_staff_t *s, char *id_out);

//  A further hire of someone with staff record `staff_id` (another opening
//  filled by the same candidate; `hire` as for onboarding, one role and
//  one site): an active member gains the role and the site (pay and
//  contract stay theirs; ECONFLICT when they hold both already); a
//  terminated one is active again from the hire's start date at the
//  hire's site, contract and pay. Emits staffing.staff.updated.
pm_err stf_staff_rehire (pm_ctx_t *ctx, const char *staff_id, const stf_staff_t *hire);

//  Loads staff member `id` (caller frees), failing as stf_load does.
pm_err stf_staff_load (pm_ctx_t *ctx, const char *id, const char *field,
                       stf_staff_t **out);

//  True when `s` has role `role`.
bool stf_staff_has_role (const stf_staff_t *s, const char *role);

//  True when `s` is attached to site `site`.
bool stf_staff_at_site (const stf_staff_t *s, const char *site);

//  The primary site (the first), whose zone dates their credentials.
const char *stf_staff_primary_site (const stf_staff_t *s);

//  Refuses (EFORBIDDEN) a caller who does not work at `s`'s primary site
//  (to change their records) or, with `any`, at any of their sites (to
//  read them).
pm_err stf_staff_access (pm_ctx_t *ctx, const stf_staff_t *s, bool any,
                         const char *field);

//  Refuses (ECONFLICT) changes to the records of a terminated person.
pm_err stf_staff_active (pm_ctx_t *ctx, const stf_staff_t *s, const char *field);

//  Called after a staff member is onboarded, changed or terminated, in
//  the same transaction (training recomputes what they must do). NULL =
//  none.
typedef pm_err (stf_staff_hook_fn) (pm_ctx_t *ctx, const stf_staff_t *s);
void stf_staff_on_change (stf_staff_hook_fn *fn);

//  Called after a staff member is terminated, in the same transaction
//  (rosters unassign their shifts after the end date). NULL = none.
void stf_staff_on_terminate (stf_staff_hook_fn *fn);

#endif
