/*  pm_auth.c: role names.                                                 */
#include <string.h>

#include "pm_auth.h"

static const char *s_names[PM_ROLE_COUNT] = {
    "network-admin", "practice-manager", "front-desk", "clinician",
    "recruiter",     "hiring-manager",   "finance",    "auditor",
    "service",       "gateway",
};

const char *
pm_role_name (unsigned role)
{
    for (int i = 0; i < PM_ROLE_COUNT; i++) {
        if (role == 1u << i) {
            return s_names[i];
        }
    }
    return NULL;
}

unsigned
pm_role_from_name (const char *name)
{
    for (int i = 0; name && i < PM_ROLE_COUNT; i++) {
        if (strcmp (name, s_names[i]) == 0) {
            return 1u << i;
        }
    }
    return 0;
}
