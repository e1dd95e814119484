/*  pm_json.h: the JSON <-> protobuf bridge.

    Works for any protobuf-c message through its descriptor: there is no
    code per message. pmctl uses it today, an HTTP gateway tomorrow.

    Mapping (proto2, as in the files under proto/):
    - field names are the .proto names (snake_case);
    - string -> JSON string (must be valid UTF-8);
    - bool -> true/false; int32/uint32/sint32/fixed32/... -> JSON integer,
      range-checked; int64/uint64/... -> JSON integer, or a string of
      digits on input (JSON numbers above 2^53 lose precision elsewhere);
    - float/double -> JSON number; enum -> its name ("FEMALE"), a number is
      accepted on input; bytes -> base64 (RFC 4648, with padding);
    - message -> object; repeated -> array.
    Input is strict: unknown fields, duplicate keys, wrong types, values out
    of range, nesting deeper than PM_JSON_MAX_DEPTH and trailing garbage are
    all refused with a message naming the field path ("patient.name.given[1]").
    Output omits fields that are not set (has_x false, NULL string or
    message, empty repeated).                                              */
#ifndef PM_JSON_H
#define PM_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "pm_err.h"

#define PM_JSON_MAX_DEPTH 32

//  Parses `len` bytes of JSON text as a message of type `desc`. On PM_OK,
//  *msg_out is the caller's: free it with
//  protobuf_c_message_free_unpacked (msg, NULL). On PM_EINVAL, *msg_out is
//  NULL and `err` (errlen bytes, NUL-terminated) says what and where.
pm_err pm_json_parse (const ProtobufCMessageDescriptor *desc, const char *text,
                      size_t len, ProtobufCMessage **msg_out, char *err,
                      size_t errlen);

//  Converts an already-parsed JSON value; same contract as pm_json_parse.
pm_err pm_json_to_msg (const ProtobufCMessageDescriptor *desc, json_t *value,
                       ProtobufCMessage **msg_out, char *err, size_t errlen);

//  Parses JSON text and packs the message: on PM_OK *buf_out (malloc'd,
//  caller frees) holds *len_out bytes of protobuf wire format.
pm_err pm_json_to_pb (const ProtobufCMessageDescriptor *desc, const char *text,
                      size_t len, uint8_t **buf_out, size_t *len_out, char *err,
                      size_t errlen);

//  The message as a new JSON object (caller json_decref's), NULL on OOM.
json_t *pm_json_from_msg (const ProtobufCMessage *msg);

//  Unpacks `len` bytes of type `desc` and renders them as a new JSON
//  object; NULL when they do not decode.
json_t *pm_json_from_pb (const ProtobufCMessageDescriptor *desc,
                         const uint8_t *data, size_t len);

//  Self test: asserts on failure.
void pm_json_test (bool verbose);

#endif
