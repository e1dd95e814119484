/*  pm_cfg.c: the PM_* settings tables and their lookup.                    */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pm_cfg.h"

const pm_cfg_var_t pm_cfg_common[] = {
    {"PM_DATA_DIR", "./var/<service>", "directory of the service's LMDB store"},
    {"PM_MAP_SIZE", "1G", "initial LMDB map size; grows by doubling when full"},
    {"PM_MAP_MAX", "64G", "the map never grows beyond this (EFULL after)"},
    {"PM_BATCH_MAX", "256", "most write requests committed together (1 = no batching)"},
    {"PM_MAX_REQUEST", "1M", "largest request accepted; larger gets ETOOBIG"},
    {"PM_HEARTBEAT_MS", "1000", "interval of the event stream heartbeat"},
    {"PM_REPLY_TTL_S", "86400", "how long stored replies answer retries"},
    {"PM_AUDIT_ANCHOR_S", "3600", "how often the audit chain's head goes out as the "
                                  "event pm.audit.anchored (0: never)"},
    {"PM_EVENTS_READ_MAX", "1000", "most events one pm.EventsRead returns"},
    {"PM_PUB_HWM", "100000", "events queued per subscriber before live delivery drops"},
    {"PM_FOLLOW_HWM", "0", "live events a follower queues (0 = libzmq default)"},
    {"PM_CLOCK_OFFSET_MS", "0", "shifts the service clock (drills, tests)"},
    {"PM_LOG_LEVEL", "info", "debug, info, warn or error"},
    {"PM_KEYS_DIR", "./var/keys", "CURVE key store: public/, secret/, revoked/"},
    {"PM_IDENTITY", "admin", "the principal a client (pmctl) runs as"},
    {"PM_CURVE", "on", "off: no authentication or authorization (debugging only)"},
    {"PM_CLIENT_TIMEOUT_MS", "3000", "pmctl and service clients: wait per try"},
    {"PM_CLIENT_RETRIES", "3", "pmctl and service clients: tries per request"},
    {NULL, NULL, NULL},
};

const pm_service_def_t pm_services[] = {
    {"patients", 7101, 7102},    {"scheduling", 7201, 7202},
    {"staffing", 7301, 7302},    {"recruitment", 7401, 7402},
    {"finance", 7501, 7502},     {NULL, 0, 0},
};

//  --------------------------------------------------------------------------
//  The service named `name`, or NULL.
const pm_service_def_t *
pm_service_lookup (const char *name)
{
    for (const pm_service_def_t *s = pm_services; name && s->name; s++) {
        if (strcmp (s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  The setting's value.
const char *
pm_cfg_get (const char *name, const char *fallback)
{
    const char *env = getenv (name);
    if (env && *env) {
        return env;
    }
    for (const pm_cfg_var_t *v = pm_cfg_common; v->name; v++) {
        if (strcmp (v->name, name) == 0) {
            return v->value;
        }
    }
    return fallback;
}

//  --------------------------------------------------------------------------
//  The setting as an integer with an optional K/M/G suffix.
int64_t
pm_cfg_int (const char *name, int64_t fallback)
{
    const char *text = pm_cfg_get (name, NULL);
    if (!text) {
        return fallback;
    }
    char *end;
    long long v = strtoll (text, &end, 10);
    if (end == text) {
        return fallback;
    }
    switch (toupper ((unsigned char) *end)) {
    case 'K':
        v *= 1024LL, end++;
        break;
    case 'M':
        v *= 1024LL * 1024, end++;
        break;
    case 'G':
        v *= 1024LL * 1024 * 1024, end++;
        break;
    default:
        break;
    }
    return *end ? fallback : v;
}

//  Upper-cases a service name into a variable name piece.
static void
s_var_name (char *out, size_t outlen, const char *service, const char *suffix)
{
    size_t at = (size_t) snprintf (out, outlen, "PM_");
    for (const char *c = service; *c && at + 1 < outlen; c++) {
        out[at++] = (char) toupper ((unsigned char) *c);
    }
    out[at] = 0;
    snprintf (out + at, outlen - at, "_%s", suffix);
}

//  --------------------------------------------------------------------------
//  Where clients connect to `service`.
void
pm_cfg_endpoint (const char *service, const char *kind, char *out,
                 size_t outlen)
{
    char var[64];
    s_var_name (var, sizeof var, service, kind);
    const char *env = getenv (var);
    const pm_service_def_t *def = pm_service_lookup (service);
    if (env && *env) {
        snprintf (out, outlen, "%s", env);
    }
    else if (def) {
        int port = strcmp (kind, "EVENTS") == 0 ? def->events_port
                                                : def->command_port;
        snprintf (out, outlen, "tcp://127.0.0.1:%d", port);
    }
    else {
        snprintf (out, outlen, "ipc:///tmp/praxis-%s-%s", service, kind);
    }
}

//  --------------------------------------------------------------------------
//  Where `service` itself binds.
void
pm_cfg_bind (const char *service, const char *kind, char *out, size_t outlen)
{
    char var[64], suffix[32];
    snprintf (suffix, sizeof suffix, "%s_BIND",
              strcmp (kind, "EVENTS") == 0 ? "EVENTS" : "COMMANDS");
    s_var_name (var, sizeof var, service, suffix);
    const char *env = getenv (var);
    if (env && *env) {
        snprintf (out, outlen, "%s", env);
    }
    else {
        pm_cfg_endpoint (service, kind, out, outlen);
    }
}

//  --------------------------------------------------------------------------
//  Where `service` serves metrics.
void
pm_cfg_metrics (const char *service, char *out, size_t outlen)
{
    char var[64];
    s_var_name (var, sizeof var, service, "METRICS");
    const char *env = getenv (var);
    const pm_service_def_t *def = pm_service_lookup (service);
    if (env && *env) {
        snprintf (out, outlen, "%s", env);
    }
    else if (def) {
        snprintf (out, outlen, "127.0.0.1:%d", def->command_port + 2);
    }
    else {
        snprintf (out, outlen, "off");
    }
}

static void
s_print_var (FILE *out, const char *name, const char *value, const char *help)
{
    const char *env = getenv (name);
    fprintf (out, "  %-28s %-22s %s%s%s\n", name, value ? value : "(unset)",
             help, env && *env ? "  [now: " : "", env && *env ? env : "");
    if (env && *env) {
        fputs ("]\n", out);
    }
}

//  --------------------------------------------------------------------------
//  Prints the settings table.
void
pm_cfg_print_help (FILE *out, const char *program, const char *service,
                   const pm_cfg_var_t *extra)
{
    fprintf (out, "usage: %s [--help]\n\nSettings (environment):\n"
                  "  %-28s %-22s %s\n", program, "VARIABLE", "DEFAULT", "MEANING");
    for (const pm_cfg_var_t *v = pm_cfg_common; v->name; v++) {
        s_print_var (out, v->name, v->value, v->help);
    }
    for (const pm_service_def_t *s = pm_services; s->name; s++) {
        if (service && strcmp (service, s->name) != 0) {
            continue;
        }
        char var[64], def[64];
        s_var_name (var, sizeof var, s->name, "ENDPOINT");
        snprintf (def, sizeof def, "tcp://127.0.0.1:%d", s->command_port);
        s_print_var (out, var, def, "commands: where clients connect");
        s_var_name (var, sizeof var, s->name, "EVENTS");
        snprintf (def, sizeof def, "tcp://127.0.0.1:%d", s->events_port);
        s_print_var (out, var, def, "events: where subscribers connect");
        s_var_name (var, sizeof var, s->name, "METRICS");
        snprintf (def, sizeof def, "127.0.0.1:%d", s->command_port + 2);
        s_print_var (out, var, def, "Prometheus metrics (host:port, or off)");
        s_var_name (var, sizeof var, s->name, "COMMANDS_BIND");
        s_print_var (out, var, "(= ENDPOINT)", "commands: where the service binds");
        s_var_name (var, sizeof var, s->name, "EVENTS_BIND");
        s_print_var (out, var, "(= EVENTS)", "events: where the service binds");
    }
    for (const pm_cfg_var_t *v = extra; v && v->name; v++) {
        s_print_var (out, v->name, v->value, v->help);
    }
}
