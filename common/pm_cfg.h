/*  pm_cfg.h: twelve-factor configuration. Every setting is an environment
    variable PM_*, declared once in a table with its default and meaning;
    the same table prints --help and documents the README.

    Endpoints: each service has a command endpoint (ROUTER) and an events
    endpoint (PUB). PM_<SVC>_ENDPOINT / PM_<SVC>_EVENTS are where others
    connect; the service binds PM_<SVC>_COMMANDS_BIND and
    PM_<SVC>_EVENTS_BIND, which default to the same addresses (compose
    binds the wildcard address there).                                    */
#ifndef PM_CFG_H
#define PM_CFG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *name;  //  "PM_DATA_DIR"
    const char *value; //  default; NULL = unset
    const char *help;  //  one line
} pm_cfg_var_t;

//  The settings every service reads (data dir, map size, batch size, ...).
extern const pm_cfg_var_t pm_cfg_common[];

//  A Praxis service and its default loopback ports.
typedef struct {
    const char *name;  //  "patients"
    int command_port;  //  ROUTER: commands and reads
    int events_port;   //  PUB: events and heartbeats
} pm_service_def_t;

//  The five services, NULL-terminated by name.
extern const pm_service_def_t pm_services[];

//  The service named `name`, or NULL.
const pm_service_def_t *pm_service_lookup (const char *name);

//  The setting's value: the environment's if set and non-empty, else the
//  default from the tables (common and endpoint ones), else `fallback`.
const char *pm_cfg_get (const char *name, const char *fallback);

//  The setting as an integer with an optional K/M/G suffix (x1024);
//  `fallback` when unset or malformed.
int64_t pm_cfg_int (const char *name, int64_t fallback);

//  Where clients connect to `service`: kind "ENDPOINT" (commands) or
//  "EVENTS". Writes into out (outlen bytes).
void pm_cfg_endpoint (const char *service, const char *kind, char *out,
                      size_t outlen);

//  Where `service` itself binds: kind "ENDPOINT" or "EVENTS".
void pm_cfg_bind (const char *service, const char *kind, char *out,
                  size_t outlen);

//  Where `service` serves Prometheus metrics: PM_<SVC>_METRICS, default
//  127.0.0.1:<command port + 2> for the five services, "off" otherwise.
void pm_cfg_metrics (const char *service, char *out, size_t outlen);

//  Prints the settings table for `program`: the common table, the
//  endpoint settings of `service` (NULL = all services), then `extra`
//  (NULL-terminated by name, or NULL).
void pm_cfg_print_help (FILE *out, const char *program, const char *service,
                        const pm_cfg_var_t *extra);

#endif
