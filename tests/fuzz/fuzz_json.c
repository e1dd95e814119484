/*  fuzz_json.c: libFuzzer harness for the JSON bridge's input side.

    Each input names a message type on the wire (fuzz_pick) and holds
    JSON text as pmctl (and later an HTTP gateway) takes it from a user,
    parsed as that type. Checked:
    - a refusal is EINVAL with a message saying what is wrong;
    - an accepted text gives a well-formed message that renders back to
      JSON (pm_json_from_msg), and that rendering parses to the same
      message, byte for byte once packed;
    - pm_json_to_pb agrees with pm_json_parse.
    No crash, no leak, no undefined behaviour.                            */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "pm_json.h"

//  Packs `msg` into a new buffer.
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (*len ? *len : 1);
    if (!buf) {
        fuzz_fail ("out of memory", NULL);
    }
    protobuf_c_message_pack (msg, buf);
    return buf;
}

//  An accepted message renders and parses back to itself.
static void
s_check_accepted (const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg,
                  const char *text, size_t size)
{
    if (!protobuf_c_message_check (msg)) {
        fuzz_fail ("parsed message fails protobuf_c_message_check", desc->name);
    }
    size_t len, len2, len3;
    uint8_t *packed = s_pack (msg, &len);
    json_t *json = pm_json_from_msg (msg);
    if (!json) {
        fuzz_fail ("an accepted message does not render", desc->name);
    }
    char *rendered = json_dumps (json, JSON_COMPACT);
    ProtobufCMessage *back = NULL;
    char err[256];
    if (!rendered
        || pm_json_parse (desc, rendered, strlen (rendered), &back, err, sizeof err)
               != PM_OK) {
        fprintf (stderr, "%s\n%s\n", rendered ? rendered : "(null)", err);
        fuzz_fail ("a rendered message does not parse back", desc->name);
    }
    uint8_t *packed2 = s_pack (back, &len2);
    if (len != len2 || memcmp (packed, packed2, len) != 0) {
        fprintf (stderr, "%s\n", rendered);
        fuzz_fail ("JSON round trip changed the message", desc->name);
    }
    uint8_t *packed3 = NULL;
    if (pm_json_to_pb (desc, text, size, &packed3, &len3, err, sizeof err) != PM_OK
        || len3 != len || memcmp (packed3, packed, len) != 0) {
        fuzz_fail ("pm_json_to_pb disagrees with pm_json_parse", desc->name);
    }
    free (packed3);
    protobuf_c_message_free_unpacked (back, NULL);
    free (rendered);
    json_decref (json);
    free (packed);
    free (packed2);
}

//  --------------------------------------------------------------------------
//  libFuzzer: one input, parsed as the type it names.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc = fuzz_pick (&data, &size);
    const char *text = (const char *) data;
    ProtobufCMessage *msg = NULL;
    char err[256] = "";
    pm_err rc = pm_json_parse (desc, text, size, &msg, err, sizeof err);
    if (rc == PM_OK) {
        if (!msg) {
            fuzz_fail ("PM_OK without a message", desc->name);
        }
        s_check_accepted (desc, msg, text, size);
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    else if (rc != PM_EINVAL || msg || !err[0]) {
        fuzz_fail ("a refusal must be EINVAL with a message", desc->name);
    }
    return 0;
}
