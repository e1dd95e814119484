/*  pm_schema.c: the built-in commands and schema lookups.                */
#include <string.h>

#include "pm.pb-c.h"
#include "pm_schema.h"

static const pm_command_def_t s_builtin_commands[] = {
    {"pm.EventsRead", PM_READ, &pm__events_read__descriptor,
     &pm__event_batch__descriptor, "read the event stream from a seq",
     PM_ROLE_SERVICE | PM_ROLE_AUDITOR},
    {"pm.Health", PM_READ, NULL, &pm__health__descriptor,
     "store, stream and consumer state", PM_ROLES_ALL},
    {"pm.AuditRead", PM_READ, &pm__audit_read__descriptor,
     &pm__audit_batch__descriptor, "the audit log from a seq (break-glass review)",
     PM_ROLE_AUDITOR},
    {"pm.AuditVerify", PM_READ, &pm__audit_verify__descriptor,
     &pm__audit_verdict__descriptor,
     "check the audit log's hash chain (and against anchors kept elsewhere)",
     PM_ROLE_AUDITOR},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_builtin_events[] = {
    {"pm.audit.anchored", &pm__audit_anchor__descriptor},
    {NULL, NULL},
};

const pm_schema_t pm_schema_builtin = {"pm", s_builtin_commands,
                                       s_builtin_events};

const pm_command_def_t *
pm_schema_command (const pm_schema_t *schema, const char *type)
{
    const pm_schema_t *tables[] = {schema, &pm_schema_builtin};
    for (int t = 0; t < 2 && type; t++) {
        for (const pm_command_def_t *c = tables[t] ? tables[t]->commands : NULL;
             c && c->type; c++) {
            if (strcmp (c->type, type) == 0) {
                return c;
            }
        }
    }
    return NULL;
}

const pm_event_def_t *
pm_schema_event (const pm_schema_t *schema, const char *type)
{
    static const pm_event_def_t heartbeat = {"$heartbeat",
                                             &pm__heartbeat__descriptor};
    const char *dot = type ? strrchr (type, '.') : NULL;
    if (dot && strcmp (dot + 1, "$heartbeat") == 0) {
        return &heartbeat;
    }
    const pm_schema_t *tables[] = {schema, &pm_schema_builtin};
    for (int t = 0; t < 2 && type; t++) {
        for (const pm_event_def_t *e = tables[t] ? tables[t]->events : NULL; e && e->type;
             e++) {
            if (strcmp (e->type, type) == 0) {
                return e;
            }
        }
    }
    return NULL;
}
