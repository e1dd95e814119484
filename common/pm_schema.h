/*  pm_schema.h: what a service speaks, as data.

    A service's <name>_schema.c lists its commands (name, read or write,
    request and reply message types) and its events (type, data message).
    The service binds handlers to these names; pmctl and the JSON bridge
    use the same table to turn JSON into the right message, so nothing is
    written twice. Every service also answers the built-in pm.* commands. */
#ifndef PM_SCHEMA_H
#define PM_SCHEMA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "pm_auth.h"

typedef enum {
    PM_READ,  //  served at once in a read transaction
    PM_WRITE, //  goes through the batched, durable, idempotent write path
} pm_access_t;

typedef struct {
    const char *type;                         //  "patients.Register"
    pm_access_t access;
    const ProtobufCMessageDescriptor *request; //  body; NULL = none
    const ProtobufCMessageDescriptor *reply;   //  reply body; NULL = none
    const char *summary;                       //  one line, for pmctl
    unsigned roles;  //  PM_ROLE_* bits that may call it (network-admin
                     //  always may); 0 = network-admin and services only
} pm_command_def_t;

typedef struct {
    const char *type;                       //  "patients.patient.registered"
    const ProtobufCMessageDescriptor *data; //  what Event.data holds
} pm_event_def_t;

typedef struct {
    const char *service;              //  "patients"
    const pm_command_def_t *commands; //  ends with a NULL type
    const pm_event_def_t *events;     //  ends with a NULL type
} pm_schema_t;

//  The commands every service answers: pm.EventsRead, pm.Health.
extern const pm_schema_t pm_schema_builtin;

//  The command named `type` in `schema` or in the built-ins; NULL if none.
const pm_command_def_t *pm_schema_command (const pm_schema_t *schema,
                                           const char *type);

//  The event named `type` (including "<service>.$heartbeat" and the
//  runtime's own "pm.*" events); NULL if none.
const pm_event_def_t *pm_schema_event (const pm_schema_t *schema,
                                       const char *type);

#endif
