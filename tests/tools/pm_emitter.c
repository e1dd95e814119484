/*  pm_emitter: stands in for a service that does not exist yet, or that a
    test wants to control exactly. It takes the name in PM_EMITTER_SERVICE
    (e.g. "scheduling"), binds that service's endpoints, and appends
    whatever event emitter.Emit asks for to a real, durable stream: same
    runtime, same seq, heartbeat and catch-up as the real service. Tests
    of consumers use it to feed them chosen events, replays included.    */
#include <stdio.h>
#include <string.h>

#include "pm.h"
#include "pm_test.pb-c.h"

static pm_err
s_emit (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Test__Emit *req = (const Pm__Test__Emit *) body;
    if (!req->type || !strchr (req->type, '.')) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type", "an event type like a.b.c");
    }
    pm_err rc = pm_ctx_emit_packed (ctx, req->type, req->site_id, req->subject,
                                    req->has_data ? req->data.data : NULL,
                                    req->has_data ? req->data.len : 0);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Test__Emitted out = PM__TEST__EMITTED__INIT;
    return pm_ctx_reply (ctx, &out.base);
}

int
main (void)
{
    static char service[32];
    static pm_command_def_t commands[] = {
        {"emitter.Emit", PM_WRITE, &pm__test__emit__descriptor,
         &pm__test__emitted__descriptor, "append an event"},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    static const pm_event_def_t events[] = {{NULL, NULL}};
    snprintf (service, sizeof service, "%s", pm_cfg_get ("PM_EMITTER_SERVICE", "emitter"));
    pm_schema_t schema = {service, commands, events};
    pm_log_init (service, pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&schema, NULL);
    if (!server) {
        return 1;
    }
    pm_server_handle (server, "emitter.Emit", s_emit);
    pm_server_run (server);
    pm_server_destroy (&server);
    return 0;
}
