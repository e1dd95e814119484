/*  patients_schema.c: the patients service's commands and events.        */
#include "patients_schema.h"

static const pm_command_def_t s_commands[] = {
    {"patients.Register", PM_WRITE, &pm__patients__register__descriptor,
     &pm__patients__patient__descriptor, "register a new patient",
     PM_ROLES_CARE | PM_ROLE_GATEWAY},
    {"patients.Get", PM_READ, &pm__patients__get__descriptor,
     &pm__patients__patient__descriptor, "a patient by id, or by site and MRN",
     PM_ROLES_CARE | PM_ROLE_FINANCE | PM_ROLE_AUDITOR | PM_ROLE_SERVICE
         | PM_ROLE_GATEWAY},
    {"patients.Update", PM_WRITE, &pm__patients__update__descriptor,
     &pm__patients__patient__descriptor,
     "change fields of a patient (needs expected_version)",
     PM_ROLES_CARE | PM_ROLE_GATEWAY},
    {"patients.Search", PM_READ, &pm__patients__search__descriptor,
     &pm__patients__search_result__descriptor,
     "find patients by name prefix, birth date, phone or MRN",
     PM_ROLES_CARE | PM_ROLE_FINANCE | PM_ROLE_AUDITOR | PM_ROLE_GATEWAY},
    {"patients.Deactivate", PM_WRITE, &pm__patients__set_active__descriptor,
     &pm__patients__patient__descriptor, "mark a patient inactive (reason)",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK},
    {"patients.Reactivate", PM_WRITE, &pm__patients__set_active__descriptor,
     &pm__patients__patient__descriptor, "mark a patient active again (reason)",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK},
    {"patients.FindDuplicates", PM_READ, &pm__patients__find_duplicates__descriptor,
     &pm__patients__duplicates__descriptor,
     "score the records that may be the same person as a patient or a probe",
     PM_ROLES_CARE | PM_ROLE_AUDITOR},
    {"patients.DuplicateWorklist", PM_READ,
     &pm__patients__duplicate_worklist__descriptor,
     &pm__patients__duplicate_worklist_page__descriptor,
     "a site's likely duplicate pairs, best first",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK | PM_ROLE_AUDITOR},
    {"patients.DismissDuplicate", PM_WRITE,
     &pm__patients__dismiss_duplicate__descriptor,
     &pm__patients__duplicate_pair__descriptor,
     "review a pair as two different people (note)",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"patients.patient.registered", &pm__patients__patient__descriptor},
    {"patients.patient.updated", &pm__patients__patient__descriptor},
    {"patients.patient.deactivated", &pm__patients__patient__descriptor},
    {"patients.patient.reactivated", &pm__patients__patient__descriptor},
    {"patients.duplicate.dismissed", &pm__patients__duplicate_pair__descriptor},
    {NULL, NULL},
};

const pm_schema_t patients_schema = {"patients", s_commands, s_events};
