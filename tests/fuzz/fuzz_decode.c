/*  fuzz_decode.c: libFuzzer harness for every decoder on the wire.

    Each input names a message type (fuzz_pick: the pm.* envelopes and
    stream messages, every service's bodies, replies and event data, and
    the messages nested in them) and holds bytes to decode as it: what a
    service, a consumer or pmctl does with bytes from the network or the
    event log. When they decode, the harness checks what the rest of
    Praxis relies on:
    - the decoded message is well formed (protobuf_c_message_check);
    - re-encoding is stable: pack, unpack, pack gives the same bytes;
    - the JSON bridge renders it (pm_json_from_pb) unless a string is not
      UTF-8, and the rendering parses back (pm_json_parse) to a message
      that renders the same, so pmctl's output can be fed back to it;
      the one refusal allowed is an enum number this build has no name for.
    No crash, no leak, no undefined behaviour (ASan, UBSan, LSan).        */
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
    if (protobuf_c_message_pack (msg, buf) != *len) {
        fuzz_fail ("packed size differs from get_packed_size",
                   msg->descriptor->name);
    }
    return buf;
}

//  Re-encoding is stable: pack(unpack(pack(msg))) == pack(msg).
static void
s_check_repack (const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg)
{
    size_t len, len2;
    uint8_t *packed = s_pack (msg, &len);
    ProtobufCMessage *again = protobuf_c_message_unpack (desc, NULL, len, packed);
    if (!again && !fuzz_strict () && fuzz_has_zero_tag (msg)) {
        free (packed); //  libprotobuf-c's own finding (fuzz_util.h)
        return;
    }
    if (!again) {
        fuzz_fail ("a packed message does not decode", desc->name);
    }
    uint8_t *packed2 = s_pack (again, &len2);
    if (len != len2 || memcmp (packed, packed2, len) != 0) {
        fuzz_fail ("re-encoding is not stable", desc->name);
    }
    protobuf_c_message_free_unpacked (again, NULL);
    free (packed);
    free (packed2);
}

//  The JSON rendering parses back to a message that renders the same.
static void
s_check_json (const ProtobufCMessageDescriptor *desc, const uint8_t *data,
              size_t size)
{
    json_t *json = pm_json_from_pb (desc, data, size);
    if (!json) {
        return; //  a string that is not UTF-8: JSON cannot carry it
    }
    char *text = json_dumps (json, JSON_COMPACT);
    if (!text) {
        fuzz_fail ("rendered JSON does not serialise", desc->name);
    }
    ProtobufCMessage *back = NULL;
    char err[256];
    pm_err rc = pm_json_parse (desc, text, strlen (text), &back, err, sizeof err);
    if (rc != PM_OK) {
        //  An enum number from a newer sender renders as a number, and
        //  strict input refuses numbers it has no name for.
        if (rc != PM_EINVAL || !strstr (err, "unknown enum value")) {
            fprintf (stderr, "%s\n%s\n", text, err);
            fuzz_fail ("JSON rendered from a message does not parse back",
                       desc->name);
        }
    }
    else {
        if (!protobuf_c_message_check (back)) {
            fuzz_fail ("JSON parsed into an ill-formed message", desc->name);
        }
        json_t *json2 = pm_json_from_msg (back);
        if (!json2 || !json_equal (json, json2)) {
            fprintf (stderr, "%s\n", text);
            fuzz_fail ("JSON does not round-trip", desc->name);
        }
        json_decref (json2);
        protobuf_c_message_free_unpacked (back, NULL);
    }
    free (text);
    json_decref (json);
}

//  --------------------------------------------------------------------------
//  libFuzzer: one input, decoded as the type it names.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc = fuzz_pick (&data, &size);
    ProtobufCMessage *msg = protobuf_c_message_unpack (desc, NULL, size, data);
    if (!msg) {
        return 0;
    }
    if (!protobuf_c_message_check (msg)) {
        fuzz_fail ("decoded message fails protobuf_c_message_check", desc->name);
    }
    s_check_repack (desc, msg);
    protobuf_c_message_free_unpacked (msg, NULL);
    s_check_json (desc, data, size);
    return 0;
}
