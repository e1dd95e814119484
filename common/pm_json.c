/*  pm_json.c: the JSON <-> protobuf bridge (see pm_json.h).

    One generic walker over protobuf-c descriptors, so that pmctl (and
    later an HTTP gateway) can speak JSON for any message without code per
    message. Input is strict and every refusal names the field path; the
    messages built here are plain malloc'd trees, so the caller frees them
    with protobuf_c_message_free_unpacked (msg, NULL) like unpacked ones.  */

#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_json.h"

//  Longest field path kept for error text; deeper paths are cut short,
//  which only shortens the message.
#define PM_JSON_PATH_MAX 512

//  Room for the list of enum names quoted in an error.
#define PM_JSON_ENUM_LIST_MAX 200

//  Integral JSON reals are accepted for integer fields only up to 2^53:
//  beyond that a double no longer holds every integer exactly.
#define PM_JSON_EXACT_REAL 9007199254740992.0

//  FLT_MAX plus half a float step: the first double that a float cannot
//  round to a finite value.
#define PM_JSON_FLOAT_LIMIT 0x1.ffffffp127

//  State of one conversion: where we are, and the first error seen.
typedef struct {
    char path [PM_JSON_PATH_MAX];
    size_t path_len;
    char *err;
    size_t errlen;
    pm_err rc;
} s_ctx_t;

//  ---------------------------------------------------------------------
//  Writes a string into err (if there is room at all); the common way out
//  for failures that happen before a context exists.

static void
s_set_err (char *err, size_t errlen, const char *text)
{
    if (err && errlen > 0) {
        snprintf (err, errlen, "%s", text);
    }
}


//  ---------------------------------------------------------------------
//  Cuts a possibly truncated string back to a whole UTF-8 character, so
//  that an error quoting user text never ends in half a character.

static void
s_utf8_trim (char *text)
{
    size_t len = strlen (text);
    size_t start = len;
    //  Find the first byte of the last character
    while (start > 0 && ((unsigned char) text [start - 1] & 0xC0) == 0x80) {
        start--;
    }
    if (start == 0) {
        //  Only continuation bytes (or empty): nothing sane to keep
        text [0] = 0;
        return;
    }
    start--;
    unsigned char lead = (unsigned char) text [start];
    size_t need = lead < 0x80? 1: lead >= 0xF0? 4: lead >= 0xE0? 3: lead >= 0xC0? 2: 1;
    if (len - start < need) {
        text [start] = 0;
    }
}


//  ---------------------------------------------------------------------
//  Records a refusal as "path: message" (just "message" at the top level)
//  unless an error is already recorded. Always returns -1.

static int
s_fail (s_ctx_t *ctx, const char *format, ...)
{
    if (ctx->rc != PM_OK) {
        return -1;              //  Keep the first, most precise error
    }
    ctx->rc = PM_EINVAL;
    if (!ctx->err || ctx->errlen == 0) {
        return -1;
    }
    size_t used = 0;
    if (ctx->path_len > 0) {
        int n = snprintf (ctx->err, ctx->errlen, "%s: ", ctx->path);
        used = n < 0? 0: (size_t) n;
        if (used >= ctx->errlen) {
            used = ctx->errlen - 1;
        }
    }
    va_list args;
    va_start (args, format);
    int n = vsnprintf (ctx->err + used, ctx->errlen - used, format, args);
    va_end (args);
    if (n < 0 || used + (size_t) n >= ctx->errlen) {
        s_utf8_trim (ctx->err);
    }
    return -1;
}


//  ---------------------------------------------------------------------
//  Records an allocation failure: not the caller's fault, so not EINVAL.

static int
s_oom (s_ctx_t *ctx)
{
    if (ctx->rc == PM_OK) {
        s_set_err (ctx->err, ctx->errlen, "out of memory");
        ctx->rc = PM_EINTERNAL;
    }
    return -1;
}


//  ---------------------------------------------------------------------
//  Appends ".name" (or "name" at the start) to the path; returns the old
//  length for s_path_pop. A path too long for the buffer is cut short.

static size_t
s_path_push_name (s_ctx_t *ctx, const char *name)
{
    size_t old = ctx->path_len;
    size_t room = sizeof (ctx->path) - old;
    int n = snprintf (ctx->path + old, room, "%s%s", old? ".": "", name);
    if (n > 0) {
        ctx->path_len = (size_t) n < room? old + (size_t) n: sizeof (ctx->path) - 1;
    }
    return old;
}


//  ---------------------------------------------------------------------
//  Appends "[index]" to the path; returns the old length for s_path_pop.

static size_t
s_path_push_index (s_ctx_t *ctx, size_t index)
{
    size_t old = ctx->path_len;
    size_t room = sizeof (ctx->path) - old;
    int n = snprintf (ctx->path + old, room, "[%zu]", index);
    if (n > 0) {
        ctx->path_len = (size_t) n < room? old + (size_t) n: sizeof (ctx->path) - 1;
    }
    return old;
}


//  ---------------------------------------------------------------------
//  Restores the path to a length returned by a push.

static void
s_path_pop (s_ctx_t *ctx, size_t old)
{
    ctx->path_len = old;
    ctx->path [old] = 0;
}


//  ---------------------------------------------------------------------
//  The .proto spelling of a field type, for error text.

static const char *
s_type_name (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:    return "int32";
        case PROTOBUF_C_TYPE_SINT32:   return "sint32";
        case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
        case PROTOBUF_C_TYPE_INT64:    return "int64";
        case PROTOBUF_C_TYPE_SINT64:   return "sint64";
        case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
        case PROTOBUF_C_TYPE_UINT32:   return "uint32";
        case PROTOBUF_C_TYPE_FIXED32:  return "fixed32";
        case PROTOBUF_C_TYPE_UINT64:   return "uint64";
        case PROTOBUF_C_TYPE_FIXED64:  return "fixed64";
        case PROTOBUF_C_TYPE_FLOAT:    return "float";
        case PROTOBUF_C_TYPE_DOUBLE:   return "double";
        case PROTOBUF_C_TYPE_BOOL:     return "bool";
        case PROTOBUF_C_TYPE_ENUM:     return "enum";
        case PROTOBUF_C_TYPE_STRING:   return "string";
        case PROTOBUF_C_TYPE_BYTES:    return "bytes";
        case PROTOBUF_C_TYPE_MESSAGE:  return "message";
    }
    return "?";
}


//  ---------------------------------------------------------------------
//  Size of one element of a repeated field's array, as protobuf-c lays
//  it out (enums and bools are ints).

static size_t
s_elt_size (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return sizeof (uint32_t);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return sizeof (uint64_t);
        case PROTOBUF_C_TYPE_FLOAT:
            return sizeof (float);
        case PROTOBUF_C_TYPE_DOUBLE:
            return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
            return sizeof (int);
        case PROTOBUF_C_TYPE_STRING:
            return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (ProtobufCMessage *);
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  The value of one base64 character, -1 if it is not in the RFC 4648
//  standard alphabet (so '-', '_', '=', whitespace are all refused here).

static int
s_b64_value (char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}


//  ---------------------------------------------------------------------
//  Strict base64 decode: padded, standard alphabet, no whitespace, and
//  the unused bits of the last character zero (one text per value).
//  Returns 0 with a malloc'd *out (NULL when empty), -1 on bad input,
//  -2 when out of memory.

static int
s_b64_decode (const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len == 0) {
        return 0;
    }
    if (len % 4 != 0) {
        return -1;
    }
    size_t pad = 0;
    if (in [len - 1] == '=') {
        pad = in [len - 2] == '='? 2: 1;
    }
    size_t size = len / 4 * 3 - pad;
    uint8_t *buf = malloc (size);
    if (!buf) {
        return -2;
    }
    size_t at = 0;
    int value [4] = { 0 };
    for (size_t quad = 0; quad < len; quad += 4) {
        for (size_t k = 0; k < 4; k++) {
            //  The last `pad` characters are known to be '='
            if (quad + k >= len - pad) {
                value [k] = 0;
            }
            else
            if ((value [k] = s_b64_value (in [quad + k])) < 0) {
                free (buf);
                return -1;
            }
        }
        uint32_t triple = (uint32_t) value [0] << 18 | (uint32_t) value [1] << 12
                        | (uint32_t) value [2] << 6 | (uint32_t) value [3];
        buf [at++] = (uint8_t) (triple >> 16);
        if (at < size) {
            buf [at++] = (uint8_t) (triple >> 8);
        }
        if (at < size) {
            buf [at++] = (uint8_t) triple;
        }
    }
    //  Non-canonical tails ("Zh==" for "f") would let two texts mean one
    //  value; refuse them
    if ((pad == 1 && (value [2] & 0x03)) || (pad == 2 && (value [1] & 0x0F))) {
        free (buf);
        return -1;
    }
    *out = buf;
    *out_len = size;
    return 0;
}


//  ---------------------------------------------------------------------
//  Base64 encode with padding; returns a malloc'd NUL-terminated string,
//  NULL when out of memory.

static char *
s_b64_encode (const uint8_t *data, size_t len)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3) {
        return NULL;
    }
    char *text = malloc ((len + 2) / 3 * 4 + 1);
    if (!text) {
        return NULL;
    }
    size_t at = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t triple = (uint32_t) data [i] << 16
                        | (left > 1? (uint32_t) data [i + 1] << 8: 0)
                        | (left > 2? (uint32_t) data [i + 2]: 0);
        text [at++] = alphabet [(triple >> 18) & 0x3F];
        text [at++] = alphabet [(triple >> 12) & 0x3F];
        text [at++] = left > 1? alphabet [(triple >> 6) & 0x3F]: '=';
        text [at++] = left > 2? alphabet [triple & 0x3F]: '=';
    }
    text [at] = 0;
    return text;
}


//  ---------------------------------------------------------------------
//  True when the value nests containers deeper than PM_JSON_MAX_DEPTH;
//  `level` is the depth of value if it is a container. Stops descending
//  at the limit, so it is safe on any tree.

static bool
s_too_deep (json_t *value, int level)
{
    if (!json_is_object (value) && !json_is_array (value)) {
        return false;
    }
    if (level > PM_JSON_MAX_DEPTH) {
        return true;
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *child;
        json_object_foreach (value, key, child) {
            if (s_too_deep (child, level + 1)) {
                return true;
            }
        }
    }
    else {
        size_t index;
        json_t *child;
        json_array_foreach (value, index, child) {
            if (s_too_deep (child, level + 1)) {
                return true;
            }
        }
    }
    return false;
}


//  ---------------------------------------------------------------------
//  Writes a double for error text in the fewest digits that read back as
//  the same value, so "1.0000001" does not show as "1".

static void
s_format_real (double value, char *text, size_t size)
{
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, size, "%.*g", precision, value);
        if (strtod (text, NULL) == value) {
            return;
        }
    }
}


//  ---------------------------------------------------------------------
//  Reads an integer for a field of `type` from a JSON integer, a real
//  with no fractional part, or (64-bit types only) a string of decimal
//  digits, and range-checks it. Signed results go to *sval, unsigned to
//  *uval.

static int
s_read_integer (s_ctx_t *ctx, json_t *value, ProtobufCType type,
                int64_t *sval, uint64_t *uval)
{
    bool wide = type == PROTOBUF_C_TYPE_INT64 || type == PROTOBUF_C_TYPE_SINT64
             || type == PROTOBUF_C_TYPE_SFIXED64 || type == PROTOBUF_C_TYPE_UINT64
             || type == PROTOBUF_C_TYPE_FIXED64;
    bool is_unsigned = type == PROTOBUF_C_TYPE_UINT32 || type == PROTOBUF_C_TYPE_FIXED32
                    || type == PROTOBUF_C_TYPE_UINT64 || type == PROTOBUF_C_TYPE_FIXED64;
    //  Work in sign and magnitude, so that every int64 and uint64 fits
    bool negative = false;
    uint64_t magnitude = 0;

    if (json_is_integer (value)) {
        json_int_t number = json_integer_value (value);
        negative = number < 0;
        magnitude = negative? (uint64_t) (-(number + 1)) + 1: (uint64_t) number;
    }
    else
    if (json_is_real (value)) {
        double number = json_real_value (value);
        double size = number < 0? -number: number;
        char shown [32];
        s_format_real (number, shown, sizeof (shown));
        if (size > PM_JSON_EXACT_REAL) {
            return s_fail (ctx, "%s is too large to be exact as a JSON number; "
                                "write it as an integer%s", shown,
                                wide? " or a string of digits": "");
        }
        if ((double) (int64_t) number != number) {
            return s_fail (ctx, "expected an integer, got %s", shown);
        }
        negative = number < 0;
        magnitude = (uint64_t) size;
    }
    else
    if (wide && json_is_string (value)) {
        const char *text = json_string_value (value);
        size_t len = json_string_length (value);
        size_t at = 0;
        if (len > 0 && text [0] == '-') {
            negative = true;
            at = 1;
        }
        if (at == len) {
            return s_fail (ctx, "expected a string of decimal digits, got \"%s\"", text);
        }
        for (; at < len; at++) {
            if (text [at] < '0' || text [at] > '9') {
                return s_fail (ctx, "expected a string of decimal digits, got \"%s\"", text);
            }
            uint64_t digit = (uint64_t) (text [at] - '0');
            if (magnitude > (UINT64_MAX - digit) / 10) {
                return s_fail (ctx, "%s is out of range for %s", text, s_type_name (type));
            }
            magnitude = magnitude * 10 + digit;
        }
    }
    else {
        return s_fail (ctx, wide? "expected an integer or a string of digits"
                                : "expected an integer");
    }
    if (magnitude == 0) {
        negative = false;       //  "-0" is plain zero
    }
    if (is_unsigned) {
        uint64_t limit = wide? UINT64_MAX: UINT32_MAX;
        if (negative) {
            return s_fail (ctx, "-%" PRIu64 " is negative, but %s is unsigned",
                           magnitude, s_type_name (type));
        }
        if (magnitude > limit) {
            return s_fail (ctx, "%" PRIu64 " is out of range for %s",
                           magnitude, s_type_name (type));
        }
        *uval = magnitude;
    }
    else {
        uint64_t limit = wide? (uint64_t) INT64_MAX: (uint64_t) INT32_MAX;
        if (magnitude > limit + (negative? 1: 0)) {
            return s_fail (ctx, "%s%" PRIu64 " is out of range for %s",
                           negative? "-": "", magnitude, s_type_name (type));
        }
        //  Written so that -2^63 does not overflow on the way
        *sval = negative? -(int64_t) (magnitude - 1) - 1: (int64_t) magnitude;
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  Reads a float or double: any JSON number, or one of the strings "NaN",
//  "Infinity" and "-Infinity" that pm_json_from_msg writes for values no
//  JSON number can hold.

static int
s_read_real (s_ctx_t *ctx, json_t *value, ProtobufCType type, double *out)
{
    if (json_is_number (value)) {
        *out = json_number_value (value);
    }
    else
    if (json_is_string (value) && strcmp (json_string_value (value), "NaN") == 0) {
        *out = NAN;
    }
    else
    if (json_is_string (value) && strcmp (json_string_value (value), "Infinity") == 0) {
        *out = INFINITY;
    }
    else
    if (json_is_string (value) && strcmp (json_string_value (value), "-Infinity") == 0) {
        *out = -INFINITY;
    }
    else {
        return s_fail (ctx, "expected a number");
    }
    if (type == PROTOBUF_C_TYPE_FLOAT && isfinite (*out)) {
        //  Values up to half a float step above FLT_MAX round to it (that
        //  is how "3.4028235e38" is usually written); beyond, they would
        //  become infinity
        double size = *out < 0? -*out: *out;
        if (size >= PM_JSON_FLOAT_LIMIT) {
            char shown [32];
            s_format_real (*out, shown, sizeof (shown));
            return s_fail (ctx, "%s is out of range for float", shown);
        }
        if (size > FLT_MAX) {
            *out = *out < 0? -FLT_MAX: FLT_MAX;
        }
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  Lists an enum's names as "A, B, C" for error text, ending in "..."
//  when they do not all fit in `size` bytes.

static void
s_enum_names (const ProtobufCEnumDescriptor *desc, char *list, size_t size)
{
    size_t used = 0;
    list [0] = 0;
    for (unsigned i = 0; i < desc->n_values; i++) {
        const char *name = desc->values [i].name;
        const char *comma = i > 0? ", ": "";
        //  Keep room for a trailing ", ..." in case more follow
        if (used + strlen (comma) + strlen (name) + 6 > size) {
            snprintf (list + used, size - used, "%s...", comma);
            return;
        }
        used += (size_t) snprintf (list + used, size - used, "%s%s", comma, name);
    }
}


//  ---------------------------------------------------------------------
//  Reads an enum: its name, or a number that is one of its values.

static int
s_read_enum (s_ctx_t *ctx, json_t *value, const ProtobufCEnumDescriptor *desc,
             int *out)
{
    const ProtobufCEnumValue *known = NULL;
    char names [PM_JSON_ENUM_LIST_MAX];
    if (json_is_string (value)) {
        const char *name = json_string_value (value);
        //  A name with a NUL in it would match on its first part
        if (json_string_length (value) == strlen (name)) {
            known = protobuf_c_enum_descriptor_get_value_by_name (desc, name);
        }
        if (!known) {
            s_enum_names (desc, names, sizeof (names));
            return s_fail (ctx, "unknown enum value \"%s\" (expected one of %s)",
                           name, names);
        }
    }
    else
    if (json_is_integer (value)) {
        json_int_t number = json_integer_value (value);
        if (number >= INT_MIN && number <= INT_MAX) {
            known = protobuf_c_enum_descriptor_get_value (desc, (int) number);
        }
        if (!known) {
            s_enum_names (desc, names, sizeof (names));
            return s_fail (ctx, "unknown enum value %lld (expected one of %s)",
                           (long long) number, names);
        }
    }
    else {
        return s_fail (ctx, "expected an enum name or number");
    }
    *out = known->value;
    return 0;
}


//  ---------------------------------------------------------------------
//  A new, initialised, empty message of type desc; NULL when out of
//  memory. malloc'd, as protobuf_c_message_free_unpacked expects.

static ProtobufCMessage *
s_new_message (const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *msg = malloc (desc->sizeof_message);
    if (msg) {
        protobuf_c_message_init (desc, msg);
    }
    return msg;
}


static int
    s_fill_message (s_ctx_t *ctx, const ProtobufCMessageDescriptor *desc,
                    ProtobufCMessage *msg, json_t *object);

//  ---------------------------------------------------------------------
//  Converts one JSON value into one value of field's type at slot (the
//  member itself, or one element of a repeated array). On failure slot
//  is left as it was, so nothing half-built is ever reachable from it.

static int
s_set_value (s_ctx_t *ctx, const ProtobufCFieldDescriptor *field,
             json_t *value, void *slot)
{
    int64_t sval = 0;
    uint64_t uval = 0;
    double real = 0;

    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            if (s_read_integer (ctx, value, field->type, &sval, &uval)) {
                return -1;
            }
            *(int32_t *) slot = (int32_t) sval;
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (s_read_integer (ctx, value, field->type, &sval, &uval)) {
                return -1;
            }
            *(int64_t *) slot = sval;
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            if (s_read_integer (ctx, value, field->type, &sval, &uval)) {
                return -1;
            }
            *(uint32_t *) slot = (uint32_t) uval;
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (s_read_integer (ctx, value, field->type, &sval, &uval)) {
                return -1;
            }
            *(uint64_t *) slot = uval;
            break;
        case PROTOBUF_C_TYPE_FLOAT:
            if (s_read_real (ctx, value, field->type, &real)) {
                return -1;
            }
            *(float *) slot = (float) real;
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            if (s_read_real (ctx, value, field->type, &real)) {
                return -1;
            }
            *(double *) slot = real;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean (value)) {
                return s_fail (ctx, "expected true or false");
            }
            *(protobuf_c_boolean *) slot = json_is_true (value);
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            int number = 0;
            if (s_read_enum (ctx, value, field->descriptor, &number)) {
                return -1;
            }
            *(int *) slot = number;
            break;
        }
        case PROTOBUF_C_TYPE_STRING: {
            if (!json_is_string (value)) {
                return s_fail (ctx, "expected a string");
            }
            //  jansson can carry \u0000, but a C string cannot
            size_t len = json_string_length (value);
            if (memchr (json_string_value (value), 0, len)) {
                return s_fail (ctx, "the string contains a NUL character");
            }
            char *copy = malloc (len + 1);
            if (!copy) {
                return s_oom (ctx);
            }
            memcpy (copy, json_string_value (value), len + 1);
            //  Any previous pointer was NULL or the field's static default
            *(char **) slot = copy;
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            if (!json_is_string (value)) {
                return s_fail (ctx, "expected a base64 string");
            }
            uint8_t *data;
            size_t len;
            int rc = s_b64_decode (json_string_value (value),
                                   json_string_length (value), &data, &len);
            if (rc == -2) {
                return s_oom (ctx);
            }
            if (rc != 0) {
                return s_fail (ctx, "invalid base64 (RFC 4648, padded, no "
                                    "whitespace)");
            }
            ((ProtobufCBinaryData *) slot)->data = data;
            ((ProtobufCBinaryData *) slot)->len = len;
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            if (!json_is_object (value)) {
                return s_fail (ctx, "expected an object");
            }
            const ProtobufCMessageDescriptor *desc = field->descriptor;
            ProtobufCMessage *sub = s_new_message (desc);
            if (!sub) {
                return s_oom (ctx);
            }
            if (s_fill_message (ctx, desc, sub, value)) {
                protobuf_c_message_free_unpacked (sub, NULL);
                return -1;
            }
            *(ProtobufCMessage **) slot = sub;
            break;
        }
        default:
            return s_fail (ctx, "unsupported field type %d", (int) field->type);
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  Sets one field of msg from a non-null JSON value, with its quantifier:
//  the count of a repeated field, has_ of an optional scalar, the case of
//  a oneof.

static int
s_set_field (s_ctx_t *ctx, const ProtobufCFieldDescriptor *field,
             ProtobufCMessage *msg, json_t *value)
{
    char *member = (char *) msg + field->offset;
    char *quantifier = (char *) msg + field->quantifier_offset;

    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_is_array (value)) {
            return s_fail (ctx, "expected an array");
        }
        size_t count = json_array_size (value);
        if (count == 0) {
            return 0;
        }
        size_t size = s_elt_size (field->type);
        char *array = calloc (count, size);
        if (!array) {
            return s_oom (ctx);
        }
        //  Attach the array before filling it, and count only finished
        //  elements, so that freeing msg after a failure frees just what
        //  was built
        *(void **) member = array;
        *(size_t *) quantifier = 0;
        for (size_t index = 0; index < count; index++) {
            size_t old = s_path_push_index (ctx, index);
            int rc = s_set_value (ctx, field, json_array_get (value, index),
                                  array + index * size);
            s_path_pop (ctx, old);
            if (rc) {
                return -1;
            }
            *(size_t *) quantifier = index + 1;
        }
        return 0;
    }
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        //  Members of a oneof share storage: a second one would overwrite
        //  (and leak) the first
        uint32_t *choice = (uint32_t *) quantifier;
        if (*choice != 0) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field (msg->descriptor, *choice);
            return s_fail (ctx, "\"%s\" is already set, and only one field of "
                                "its oneof may be", other? other->name: "?");
        }
        if (s_set_value (ctx, field, value, member)) {
            return -1;
        }
        *choice = field->id;
        return 0;
    }
    if (s_set_value (ctx, field, value, member)) {
        return -1;
    }
    //  proto2 optional scalars and bytes carry a has_ flag; strings and
    //  messages are present when non-NULL
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL
    &&  field->type != PROTOBUF_C_TYPE_STRING
    &&  field->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *) quantifier = 1;
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  Fills an initialised message from a JSON object: every key must be a
//  field, null means absent, and required fields must be there.

static int
s_fill_message (s_ctx_t *ctx, const ProtobufCMessageDescriptor *desc,
                ProtobufCMessage *msg, json_t *object)
{
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach (object, key, key_len, value) {
        const ProtobufCFieldDescriptor *field = NULL;
        //  A key with a NUL in it would match a field on its first part
        if (key_len == strlen (key)) {
            field = protobuf_c_message_descriptor_get_field_by_name (desc, key);
        }
        if (!field) {
            return s_fail (ctx, "unknown field \"%s\"", key);
        }
        if (json_is_null (value)) {
            continue;
        }
        size_t old = s_path_push_name (ctx, field->name);
        int rc = s_set_field (ctx, field, msg, value);
        s_path_pop (ctx, old);
        if (rc) {
            return -1;
        }
    }
    //  protobuf-c packs a message that lacks a required field, but nobody
    //  can unpack it again: refuse it here, where we can say which
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = desc->fields + i;
        if (field->label == PROTOBUF_C_LABEL_REQUIRED) {
            json_t *given = json_object_get (object, field->name);
            if (!given || json_is_null (given)) {
                return s_fail (ctx, "missing required field \"%s\"", field->name);
            }
        }
    }
    return 0;
}


//  ---------------------------------------------------------------------
//  Parses `len` bytes of JSON text as a message of type desc.

pm_err
pm_json_parse (const ProtobufCMessageDescriptor *desc, const char *text,
               size_t len, ProtobufCMessage **msg_out, char *err,
               size_t errlen)
{
    assert (msg_out);
    *msg_out = NULL;
    s_set_err (err, errlen, "");
    if (!desc || (!text && len > 0)) {
        s_set_err (err, errlen, "no message type or no text");
        return PM_EINVAL;
    }
    //  No JSON_DISABLE_EOF_CHECK, so trailing garbage is an error; no
    //  JSON_ALLOW_NUL, so \u0000 in a string is one too
    json_error_t jerr;
    json_t *value = json_loadb (text? text: "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!value) {
        if (json_error_code (&jerr) == json_error_out_of_memory) {
            s_set_err (err, errlen, "out of memory");
            return PM_EINTERNAL;
        }
        if (err && errlen > 0) {
            snprintf (err, errlen, "invalid JSON at line %d, column %d: %s",
                      jerr.line, jerr.column, jerr.text);
            s_utf8_trim (err);
        }
        return PM_EINVAL;
    }
    pm_err rc = pm_json_to_msg (desc, value, msg_out, err, errlen);
    json_decref (value);
    return rc;
}


//  ---------------------------------------------------------------------
//  Converts an already-parsed JSON value into a message of type desc.

pm_err
pm_json_to_msg (const ProtobufCMessageDescriptor *desc, json_t *value,
                ProtobufCMessage **msg_out, char *err, size_t errlen)
{
    assert (msg_out);
    *msg_out = NULL;
    s_set_err (err, errlen, "");
    if (!desc || !value) {
        s_set_err (err, errlen, "no message type or no JSON value");
        return PM_EINVAL;
    }
    assert (desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (!json_is_object (value)) {
        s_set_err (err, errlen, "expected a JSON object");
        return PM_EINVAL;
    }
    //  Checked up front so that the recursive walk below is bounded too
    if (s_too_deep (value, 1)) {
        if (err && errlen > 0) {
            snprintf (err, errlen, "JSON nests deeper than %d levels",
                      PM_JSON_MAX_DEPTH);
        }
        return PM_EINVAL;
    }
    s_ctx_t ctx = { .err = err, .errlen = errlen, .rc = PM_OK };
    ProtobufCMessage *msg = s_new_message (desc);
    if (!msg) {
        s_set_err (err, errlen, "out of memory");
        return PM_EINTERNAL;
    }
    if (s_fill_message (&ctx, desc, msg, value)) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return ctx.rc;
    }
    *msg_out = msg;
    return PM_OK;
}


//  ---------------------------------------------------------------------
//  Parses JSON text and packs the message into a malloc'd buffer.

pm_err
pm_json_to_pb (const ProtobufCMessageDescriptor *desc, const char *text,
               size_t len, uint8_t **buf_out, size_t *len_out, char *err,
               size_t errlen)
{
    assert (buf_out);
    assert (len_out);
    *buf_out = NULL;
    *len_out = 0;
    ProtobufCMessage *msg;
    pm_err rc = pm_json_parse (desc, text, len, &msg, err, errlen);
    if (rc != PM_OK) {
        return rc;
    }
    size_t size = protobuf_c_message_get_packed_size (msg);
    //  An empty message packs to nothing; still hand back a buffer, so
    //  that PM_OK always comes with something to free
    uint8_t *buf = malloc (size > 0? size: 1);
    if (!buf) {
        protobuf_c_message_free_unpacked (msg, NULL);
        s_set_err (err, errlen, "out of memory");
        return PM_EINTERNAL;
    }
    size_t packed = protobuf_c_message_pack (msg, buf);
    assert (packed == size);
    protobuf_c_message_free_unpacked (msg, NULL);
    *buf_out = buf;
    *len_out = packed;
    return PM_OK;
}


//  ---------------------------------------------------------------------
//  A float or double as JSON: a number when it is finite, else the
//  string spelling of proto3's JSON mapping (JSON has no NaN).

static json_t *
s_render_real (double value)
{
    if (isnan (value)) {
        return json_string ("NaN");
    }
    if (isinf (value)) {
        return json_string (value > 0? "Infinity": "-Infinity");
    }
    return json_real (value);
}


static json_t *
    s_render_message (const ProtobufCMessage *msg);

//  ---------------------------------------------------------------------
//  One value of field's type at slot as a new JSON value; NULL when out
//  of memory or when a string is not valid UTF-8.

static json_t *
s_render_value (const ProtobufCFieldDescriptor *field, const void *slot)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer (*(const int32_t *) slot);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (*(const uint32_t *) slot);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return json_integer (*(const int64_t *) slot);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64: {
            uint64_t value = *(const uint64_t *) slot;
            //  json_int_t is long long: above that, digits in a string
            if (value > (uint64_t) LLONG_MAX) {
                char digits [24];
                snprintf (digits, sizeof (digits), "%" PRIu64, value);
                return json_string (digits);
            }
            return json_integer ((json_int_t) value);
        }
        case PROTOBUF_C_TYPE_FLOAT:
            return s_render_real (*(const float *) slot);
        case PROTOBUF_C_TYPE_DOUBLE:
            return s_render_real (*(const double *) slot);
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean (*(const protobuf_c_boolean *) slot);
        case PROTOBUF_C_TYPE_ENUM: {
            int value = *(const int *) slot;
            const ProtobufCEnumValue *known =
                protobuf_c_enum_descriptor_get_value (field->descriptor, value);
            //  A number from a newer sender that this build has no name for
            return known? json_string (known->name): json_integer (value);
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *text = *(const char *const *) slot;
            return json_string (text? text: "");
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bytes = slot;
            char *text = s_b64_encode (bytes->data, bytes->len);
            json_t *value = text? json_string (text): NULL;
            free (text);
            return value;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) slot;
            return sub? s_render_message (sub): json_object ();
        }
    }
    return NULL;
}


//  ---------------------------------------------------------------------
//  True when a non-repeated field is set and so belongs in the output.

static bool
s_is_present (const ProtobufCFieldDescriptor *field, const ProtobufCMessage *msg)
{
    const char *member = (const char *) msg + field->offset;
    const char *quantifier = (const char *) msg + field->quantifier_offset;

    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        return *(const uint32_t *) quantifier == field->id;
    }
    if (field->type == PROTOBUF_C_TYPE_STRING
    ||  field->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *pointer = *(const void *const *) member;
        //  A proto2 string left at its [default] points at the static
        //  default, and protobuf-c does not send it either
        if (pointer && pointer == field->default_value
        &&  field->label == PROTOBUF_C_LABEL_OPTIONAL) {
            return false;
        }
        if (pointer && field->label == PROTOBUF_C_LABEL_NONE
        &&  field->type == PROTOBUF_C_TYPE_STRING) {
            return *(const char *) pointer != 0;
        }
        return pointer != NULL;
    }
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL) {
        return *(const protobuf_c_boolean *) quantifier;
    }
    if (field->label == PROTOBUF_C_LABEL_NONE) {
        //  proto3 without presence: only non-zero values are sent
        if (field->type == PROTOBUF_C_TYPE_BYTES) {
            return ((const ProtobufCBinaryData *) member)->len > 0;
        }
        static const uint8_t zero [sizeof (uint64_t)] = { 0 };
        return memcmp (member, zero, s_elt_size (field->type)) != 0;
    }
    return true;                //  Required
}


//  ---------------------------------------------------------------------
//  A message as a new JSON object, fields in descriptor order; NULL when
//  out of memory or a string is not valid UTF-8.

static json_t *
s_render_message (const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *object = json_object ();
    if (!object) {
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = desc->fields + i;
        json_t *value;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) ((const char *) msg + field->quantifier_offset);
            if (count == 0) {
                continue;
            }
            const char *array = *(const char *const *) ((const char *) msg + field->offset);
            size_t size = s_elt_size (field->type);
            value = json_array ();
            for (size_t index = 0; value && index < count; index++) {
                if (json_array_append_new (value, s_render_value (field, array + index * size))) {
                    json_decref (value);
                    value = NULL;
                }
            }
        }
        else {
            if (!s_is_present (field, msg)) {
                continue;
            }
            value = s_render_value (field, (const char *) msg + field->offset);
        }
        //  json_object_set_new refuses (and we fail on) a NULL value
        if (json_object_set_new (object, field->name, value)) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}


//  ---------------------------------------------------------------------
//  The message as a new JSON object, NULL on OOM (or a string in it that
//  is not valid UTF-8, which JSON cannot carry).

json_t *
pm_json_from_msg (const ProtobufCMessage *msg)
{
    if (!msg) {
        return NULL;
    }
    assert (msg->descriptor);
    assert (msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    return s_render_message (msg);
}


//  ---------------------------------------------------------------------
//  Unpacks protobuf wire format and renders it; NULL when it does not
//  decode.

json_t *
pm_json_from_pb (const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                 size_t len)
{
    if (!desc || (!data && len > 0)) {
        return NULL;
    }
    static const uint8_t empty [1] = { 0 };
    ProtobufCMessage *msg = protobuf_c_message_unpack (desc, NULL, len,
                                                       data? data: empty);
    if (!msg) {
        return NULL;
    }
    json_t *value = s_render_message (msg);
    protobuf_c_message_free_unpacked (msg, NULL);
    return value;
}


//  =====================================================================
//  Selftest. It is made of asserts, so keep them even in an NDEBUG build.

#undef NDEBUG
#include <assert.h>

#include "pm_test.pb-c.h"

//  Everything, fully populated, in exactly the form pm_json_from_msg
//  writes it, so that a round trip must give it back unchanged.
static const char *
s_everything =
    "{"
    "\"opt_int32\": -2147483648,"
    "\"opt_sint32\": -7,"
    "\"opt_sfixed32\": 2147483647,"
    "\"opt_int64\": -9223372036854775808,"
    "\"opt_sint64\": -9223372036854775808,"
    "\"opt_sfixed64\": 9223372036854775807,"
    "\"opt_uint32\": 4294967295,"
    "\"opt_fixed32\": 7,"
    "\"opt_uint64\": \"18446744073709551615\","
    "\"opt_fixed64\": \"18446744073709551615\","
    "\"opt_float\": -3.25,"
    "\"opt_double\": 0.1,"
    "\"opt_bool\": false,"
    "\"opt_enum\": \"VIOLET\","
    "\"opt_string\": \"h\\u00e9llo \\\"w\\u00f6rld\\\" \\u2713\","
    "\"opt_bytes\": \"AP8=\","
    "\"inner\": {\"label\": \"in\", \"n\": 3},"
    "\"rep_int32\": [0, -1, 2147483647, -2147483648],"
    "\"rep_sint32\": [-2147483648, 2147483647],"
    "\"rep_sfixed32\": [-1, 1],"
    "\"rep_int64\": [-9223372036854775808, 9223372036854775807, 0],"
    "\"rep_sint64\": [-9223372036854775808, 9223372036854775807],"
    "\"rep_sfixed64\": [-9223372036854775808, 9223372036854775807],"
    "\"rep_uint32\": [0, 4294967295],"
    "\"rep_fixed32\": [4294967295, 0],"
    "\"rep_uint64\": [0, 9223372036854775807, \"9223372036854775808\","
                    " \"18446744073709551615\"],"
    "\"rep_fixed64\": [\"18446744073709551615\", 1],"
    "\"rep_float\": [0.0, 0.5, -1.5e9],"
    "\"rep_double\": [1e-300, -0.5, 1.7976931348623157e308],"
    "\"rep_bool\": [true, false, true],"
    "\"rep_enum\": [\"RED\", \"COLOR_UNSET\", \"BLUE\"],"
    "\"rep_string\": [\"\", \"a\", \"\\u00fc\"],"
    "\"rep_bytes\": [\"\", \"Zg==\", \"Zm8=\", \"Zm9v\"],"
    "\"inners\": [{}, {\"label\": \"x\"}, {\"n\": -1}],"
    "\"choice_inner\": {\"label\": \"c\"}"
    "}";

//  ---------------------------------------------------------------------
//  Asserts that text converts as desc, packs, unpacks and renders back to
//  JSON equal to text, with the keys in descriptor order.

static void
s_test_round_trip (const ProtobufCMessageDescriptor *desc, const char *text)
{
    char err [256];
    uint8_t *buf;
    size_t len;
    pm_err rc = pm_json_to_pb (desc, text, strlen (text), &buf, &len, err, sizeof (err));
    if (rc != PM_OK) {
        fprintf (stderr, "round trip refused: %s\n", err);
    }
    assert (rc == PM_OK);
    assert (buf);
    json_t *out = pm_json_from_pb (desc, buf, len);
    free (buf);
    assert (out);
    json_t *expected = json_loads (text, JSON_REJECT_DUPLICATES, NULL);
    assert (expected);
    if (!json_equal (out, expected)) {
        char *dump = json_dumps (out, JSON_COMPACT);
        fprintf (stderr, "round trip gave %s\n", dump? dump: "?");
        free (dump);
    }
    assert (json_equal (out, expected));

    //  Output follows descriptor order
    int last = -1;
    const char *key;
    json_t *value;
    json_object_foreach (out, key, value) {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (desc, key);
        assert (field);
        assert ((int) (field - desc->fields) > last);
        last = (int) (field - desc->fields);
    }
    json_decref (expected);
    json_decref (out);
}


//  ---------------------------------------------------------------------
//  Asserts that text is refused as desc with an error containing needle.

static void
s_test_refused (const ProtobufCMessageDescriptor *desc, const char *text,
                const char *needle, bool verbose)
{
    char err [256];
    ProtobufCMessage *msg = (ProtobufCMessage *) desc;      //  Not NULL
    pm_err rc = pm_json_parse (desc, text, strlen (text), &msg, err, sizeof (err));
    if (verbose) {
        printf ("    %-50s -> %s\n", text, err);
    }
    if (rc != PM_EINVAL || !strstr (err, needle)) {
        fprintf (stderr, "%s: got %d \"%s\", wanted \"%s\"\n", text, rc, err, needle);
    }
    assert (rc == PM_EINVAL);
    assert (msg == NULL);
    assert (strstr (err, needle));

    //  The packing entry point refuses the same way
    uint8_t *buf = (uint8_t *) err;
    size_t len = 1;
    rc = pm_json_to_pb (desc, text, strlen (text), &buf, &len, NULL, 0);
    assert (rc == PM_EINVAL);
    assert (buf == NULL && len == 0);
}


//  ---------------------------------------------------------------------
//  A Node chain `levels` objects deep, as malloc'd JSON text.

static char *
s_node_text (int levels)
{
    static const char open [] = "{\"child\": ";
    static const char leaf [] = "{\"name\": \"leaf\"}";
    size_t size = (size_t) levels * (sizeof (open) + 1) + sizeof (leaf);
    char *text = malloc (size);
    assert (text);
    text [0] = 0;
    size_t at = 0;
    for (int level = 1; level < levels; level++) {
        memcpy (text + at, open, sizeof (open) - 1);
        at += sizeof (open) - 1;
    }
    memcpy (text + at, leaf, sizeof (leaf) - 1);
    at += sizeof (leaf) - 1;
    for (int level = 1; level < levels; level++) {
        text [at++] = '}';
    }
    text [at] = 0;
    assert (at < size);
    return text;
}


//  ---------------------------------------------------------------------
//  Asserts a base64 pair both ways.

static void
s_test_b64_pair (const char *plain, const char *encoded)
{
    char *text = s_b64_encode ((const uint8_t *) plain, strlen (plain));
    assert (text);
    assert (strcmp (text, encoded) == 0);
    free (text);
    uint8_t *data;
    size_t len;
    assert (s_b64_decode (encoded, strlen (encoded), &data, &len) == 0);
    assert (len == strlen (plain));
    assert (len == 0 || memcmp (data, plain, len) == 0);
    assert (len > 0 || data == NULL);
    free (data);
}


//  ---------------------------------------------------------------------
//  Self test: asserts on failure, prints only when verbose.

void
pm_json_test (bool verbose)
{
    if (verbose) {
        printf (" * pm_json:\n");
    }
    const ProtobufCMessageDescriptor *everything = &pm__test__everything__descriptor;
    char err [256];
    pm_err rc;

    //  Base64: RFC 4648 vectors both ways, then every refusal
    s_test_b64_pair ("", "");
    s_test_b64_pair ("f", "Zg==");
    s_test_b64_pair ("fo", "Zm8=");
    s_test_b64_pair ("foo", "Zm9v");
    s_test_b64_pair ("foob", "Zm9vYg==");
    s_test_b64_pair ("fooba", "Zm9vYmE=");
    s_test_b64_pair ("foobar", "Zm9vYmFy");
    const char *bad_b64 [] = {
        "Zg=", "Zg", "Z", "Z===", "====", "=Zg=", "Zm=v", "Zg==Zg==",
        "Zm9*", "Zm9v\n", " Zm9v", "Zm9-", "Zm9_", "Zh==", "Zm9=", "Zm 8",
        "Zm8=Zm9v", NULL
    };
    for (int i = 0; bad_b64 [i]; i++) {
        uint8_t *data = (uint8_t *) err;
        size_t len = 1;
        assert (s_b64_decode (bad_b64 [i], strlen (bad_b64 [i]), &data, &len) == -1);
        assert (data == NULL && len == 0);
    }
    {
        //  A NUL is just another bad character
        uint8_t *data;
        size_t len;
        assert (s_b64_decode ("Zg\0=", 4, &data, &len) == -1);

        //  All byte values, every tail length
        uint8_t all [256];
        for (int i = 0; i < 256; i++) {
            all [i] = (uint8_t) i;
        }
        for (size_t size = 253; size <= 256; size++) {
            char *text = s_b64_encode (all, size);
            assert (text);
            assert (strlen (text) == (size + 2) / 3 * 4);
            assert (s_b64_decode (text, strlen (text), &data, &len) == 0);
            assert (len == size && memcmp (data, all, size) == 0);
            free (data);
            free (text);
        }
    }

    //  Enum name lists are cut short safely
    {
        char list [20];
        s_enum_names (&pm__test__color__descriptor, list, sizeof (list));
        assert (strcmp (list, "COLOR_UNSET, ...") == 0);
        s_enum_names (&pm__test__color__descriptor, list, 4);
        assert (strcmp (list, "...") == 0);
    }

    //  A fully populated message round-trips unchanged, through every
    //  member of the oneof
    s_test_round_trip (everything, s_everything);
    s_test_round_trip (everything, "{\"choice_text\": \"t\"}");
    s_test_round_trip (everything, "{\"choice_number\": 0}");
    s_test_round_trip (everything, "{\"choice_inner\": {}}");
    s_test_round_trip (everything, "{}");
    //  A string left at its [default] is not output, one set to the same
    //  text is
    s_test_round_trip (&pm__test__strict__descriptor, "{\"id\": \"\", \"n\": 0}");
    s_test_round_trip (&pm__test__strict__descriptor,
                       "{\"id\": \"a\", \"n\": 1, \"note\": \"none\"}");

    //  ... and lands in the C struct as expected
    ProtobufCMessage *msg;
    rc = pm_json_parse (everything, s_everything, strlen (s_everything), &msg,
                        err, sizeof (err));
    assert (rc == PM_OK);
    assert (err [0] == 0);
    {
        Pm__Test__Everything *e = (Pm__Test__Everything *) msg;
        assert (e->has_opt_int32 && e->opt_int32 == INT32_MIN);
        assert (e->has_opt_int64 && e->opt_int64 == INT64_MIN);
        assert (e->has_opt_sint64 && e->opt_sint64 == INT64_MIN);
        assert (e->has_opt_sfixed64 && e->opt_sfixed64 == INT64_MAX);
        assert (e->has_opt_uint32 && e->opt_uint32 == UINT32_MAX);
        assert (e->has_opt_uint64 && e->opt_uint64 == UINT64_MAX);
        assert (e->has_opt_fixed64 && e->opt_fixed64 == UINT64_MAX);
        assert (e->has_opt_float && e->opt_float == -3.25f);
        assert (e->has_opt_double && e->opt_double == 0.1);
        assert (e->has_opt_bool && !e->opt_bool);
        assert (e->has_opt_enum && e->opt_enum == PM__TEST__COLOR__VIOLET);
        assert (strcmp (e->opt_string, "h\xc3\xa9llo \"w\xc3\xb6rld\" \xe2\x9c\x93") == 0);
        assert (e->has_opt_bytes && e->opt_bytes.len == 2);
        assert (e->opt_bytes.data [0] == 0x00 && e->opt_bytes.data [1] == 0xFF);
        assert (e->inner && strcmp (e->inner->label, "in") == 0);
        assert (e->inner->has_n && e->inner->n == 3);
        assert (e->n_rep_uint64 == 4 && e->rep_uint64 [3] == UINT64_MAX);
        assert (e->rep_uint64 [2] == (uint64_t) INT64_MAX + 1);
        assert (e->n_rep_bytes == 4 && e->rep_bytes [0].len == 0);
        assert (e->rep_bytes [3].len == 3 && memcmp (e->rep_bytes [3].data, "foo", 3) == 0);
        assert (e->n_rep_enum == 3 && e->rep_enum [2] == PM__TEST__COLOR__BLUE);
        assert (e->n_inners == 3 && e->inners [0]->label == NULL);
        assert (!e->inners [0]->has_n);
        assert (e->choice_case == PM__TEST__EVERYTHING__CHOICE_CHOICE_INNER);
        assert (strcmp (e->choice_inner->label, "c") == 0);
        protobuf_c_message_free_unpacked (msg, NULL);
    }

    //  null is absent, also for a oneof member next to another
    {
        const char *text = "{\"opt_int32\": null, \"opt_string\": null, \"inner\": null,"
                           " \"rep_int32\": null, \"choice_text\": null,"
                           " \"choice_number\": 3, \"opt_bytes\": null}";
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, sizeof (err));
        assert (rc == PM_OK);
        Pm__Test__Everything *e = (Pm__Test__Everything *) msg;
        assert (!e->has_opt_int32 && !e->has_opt_bytes);
        assert (e->opt_string == NULL && e->inner == NULL && e->n_rep_int32 == 0);
        assert (e->choice_case == PM__TEST__EVERYTHING__CHOICE_CHOICE_NUMBER);
        assert (e->choice_number == 3);
        json_t *out = pm_json_from_msg (msg);
        json_t *expected = json_pack ("{s:i}", "choice_number", 3);
        assert (out && expected && json_equal (out, expected));
        json_decref (out);
        json_decref (expected);
        protobuf_c_message_free_unpacked (msg, NULL);
    }

    //  Lenient where it is harmless: integral reals, enum numbers, 64-bit
    //  values as strings, non-finite reals as proto3 spells them
    {
        const char *text = "{\"opt_int32\": 2.0, \"opt_int64\": -1e3, \"opt_enum\": 5,"
                           " \"opt_sint64\": \"-9223372036854775808\","
                           " \"opt_uint64\": \"0\", \"opt_fixed64\": \"9223372036854775808\","
                           " \"opt_sfixed64\": \"-0\", \"opt_double\": \"NaN\","
                           " \"opt_float\": \"-Infinity\", \"rep_double\": [\"Infinity\", 1],"
                           " \"rep_float\": [3.4028235e38, -3.4028235e38]}";
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, sizeof (err));
        assert (rc == PM_OK);
        Pm__Test__Everything *e = (Pm__Test__Everything *) msg;
        assert (e->opt_int32 == 2 && e->opt_int64 == -1000);
        assert (e->opt_enum == PM__TEST__COLOR__VIOLET);
        assert (e->opt_sint64 == INT64_MIN && e->has_opt_uint64 && e->opt_uint64 == 0);
        assert (e->opt_fixed64 == (uint64_t) INT64_MAX + 1);
        assert (e->has_opt_sfixed64 && e->opt_sfixed64 == 0);
        assert (isnan (e->opt_double) && isinf (e->opt_float) && e->opt_float < 0);
        assert (e->n_rep_double == 2 && isinf (e->rep_double [0]) && e->rep_double [1] == 1);
        assert (e->n_rep_float == 2);
        assert (e->rep_float [0] == FLT_MAX && e->rep_float [1] == -FLT_MAX);
        json_t *out = pm_json_from_msg (msg);
        json_t *expected = json_loads (
            "{\"opt_int32\": 2, \"opt_int64\": -1000, \"opt_enum\": \"VIOLET\","
            " \"opt_sint64\": -9223372036854775808, \"opt_uint64\": 0,"
            " \"opt_fixed64\": \"9223372036854775808\", \"opt_sfixed64\": 0,"
            " \"opt_double\": \"NaN\", \"opt_float\": \"-Infinity\","
            " \"rep_double\": [\"Infinity\", 1.0],"
            " \"rep_float\": [3.4028234663852886e38, -3.4028234663852886e38]}", 0, NULL);
        assert (out && expected && json_equal (out, expected));
        json_decref (out);
        json_decref (expected);
        protobuf_c_message_free_unpacked (msg, NULL);
    }

    //  A message built in C: an enum number with no name comes out as a
    //  number, and a missing sub-message, NULL string and has_ false are
    //  all left out
    {
        Pm__Test__Everything e;
        pm__test__everything__init (&e);
        e.has_opt_enum = 1;
        e.opt_enum = (Pm__Test__Color) 4;
        e.opt_int32 = 99;               //  has_opt_int32 still false
        json_t *out = pm_json_from_msg (&e.base);
        json_t *expected = json_pack ("{s:i}", "opt_enum", 4);
        assert (out && expected && json_equal (out, expected));
        json_decref (out);
        json_decref (expected);

        //  Strings JSON cannot carry are not rendered at all
        e.opt_string = "\xff";
        assert (pm_json_from_msg (&e.base) == NULL);
        assert (pm_json_from_msg (NULL) == NULL);
    }

    //  Empty input packs to an empty buffer that is still ours to free
    {
        uint8_t *buf;
        size_t len;
        rc = pm_json_to_pb (everything, "{}", 2, &buf, &len, err, sizeof (err));
        assert (rc == PM_OK && buf && len == 0);
        json_t *out = pm_json_from_pb (everything, buf, len);
        assert (out && json_object_size (out) == 0);
        json_decref (out);
        free (buf);
        out = pm_json_from_pb (everything, NULL, 0);
        assert (out && json_object_size (out) == 0);
        json_decref (out);
    }

    //  Bytes that do not decode give NULL
    {
        const uint8_t truncated [] = { 0x08 };          //  Tag, no value
        const uint8_t overlong [] = { 0x7A, 0x05, 0x01 };   //  Length past end
        assert (pm_json_from_pb (everything, truncated, sizeof (truncated)) == NULL);
        assert (pm_json_from_pb (everything, overlong, sizeof (overlong)) == NULL);
        //  Strict with no required fields set
        assert (pm_json_from_pb (&pm__test__strict__descriptor, NULL, 0) == NULL);
        assert (pm_json_from_pb (NULL, NULL, 0) == NULL);
    }

    //  Every refusal names the field path
    if (verbose) {
        printf ("  refusals:\n");
    }
    s_test_refused (everything, "{\"opt_int32\": \"1\"}",
                    "opt_int32: expected an integer", verbose);
    s_test_refused (everything, "{\"opt_int32\": 2147483648}",
                    "opt_int32: 2147483648 is out of range for int32", verbose);
    s_test_refused (everything, "{\"opt_int32\": -2147483649}",
                    "opt_int32: -2147483649 is out of range for int32", verbose);
    s_test_refused (everything, "{\"opt_int32\": 1e10}",
                    "opt_int32: 10000000000 is out of range", verbose);
    s_test_refused (everything, "{\"opt_int32\": 1.0000001}",
                    "opt_int32: expected an integer, got 1.0000001", verbose);
    s_test_refused (everything, "{\"opt_sint32\": 1.5}",
                    "opt_sint32: expected an integer, got 1.5", verbose);
    s_test_refused (everything, "{\"opt_sfixed32\": true}",
                    "opt_sfixed32: expected an integer", verbose);
    s_test_refused (everything, "{\"opt_uint32\": -1}", "opt_uint32: -1 is negative", verbose);
    s_test_refused (everything, "{\"opt_fixed32\": 4294967296}",
                    "opt_fixed32: 4294967296 is out of range for fixed32", verbose);
    s_test_refused (everything, "{\"opt_uint32\": \"1\"}",
                    "opt_uint32: expected an integer", verbose);
    s_test_refused (everything, "{\"opt_uint64\": -1}", "opt_uint64: -1 is negative", verbose);
    s_test_refused (everything, "{\"opt_uint64\": \"-1\"}", "opt_uint64: -1 is negative", verbose);
    s_test_refused (everything, "{\"opt_uint64\": \"18446744073709551616\"}",
                    "opt_uint64: 18446744073709551616 is out of range for uint64", verbose);
    s_test_refused (everything, "{\"opt_fixed64\": \"99999999999999999999999\"}",
                    "opt_fixed64: 99999999999999999999999 is out of range", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"9223372036854775808\"}",
                    "opt_int64: 9223372036854775808 is out of range for int64", verbose);
    s_test_refused (everything, "{\"opt_sfixed64\": \"-9223372036854775809\"}",
                    "opt_sfixed64: -9223372036854775809 is out of range", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"12a\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"-\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_int64\": \" 1\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"+1\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_int64\": \"1e3\"}",
                    "opt_int64: expected a string of decimal digits", verbose);
    s_test_refused (everything, "{\"opt_sint64\": 1e300}",
                    "opt_sint64: 1e+300 is too large to be exact", verbose);
    s_test_refused (everything, "{\"opt_int64\": [1]}",
                    "opt_int64: expected an integer or a string of digits", verbose);
    s_test_refused (everything, "{\"opt_float\": 3.4028236e38}",
                    "opt_float: 3.4028236e+38 is out of range for float", verbose);
    s_test_refused (everything, "{\"opt_float\": 1e39}",
                    "opt_float: 1e+39 is out of range for float", verbose);
    s_test_refused (everything, "{\"opt_double\": \"1.5\"}",
                    "opt_double: expected a number", verbose);
    s_test_refused (everything, "{\"opt_double\": \"nan\"}",
                    "opt_double: expected a number", verbose);
    s_test_refused (everything, "{\"opt_bool\": 1}", "opt_bool: expected true or false", verbose);
    s_test_refused (everything, "{\"opt_bool\": \"true\"}",
                    "opt_bool: expected true or false", verbose);
    s_test_refused (everything, "{\"opt_enum\": \"GREN\"}",
                    "opt_enum: unknown enum value \"GREN\" (expected one of "
                    "COLOR_UNSET, RED, GREEN, BLUE, VIOLET)", verbose);
    s_test_refused (everything, "{\"opt_enum\": 4}",
                    "opt_enum: unknown enum value 4 (expected", verbose);
    s_test_refused (everything, "{\"opt_enum\": 4294967297}",
                    "opt_enum: unknown enum value 4294967297", verbose);
    s_test_refused (everything, "{\"opt_enum\": 1.0}",
                    "opt_enum: expected an enum name or number", verbose);
    s_test_refused (everything, "{\"rep_enum\": [\"RED\", \"red\"]}",
                    "rep_enum[1]: unknown enum value \"red\"", verbose);
    s_test_refused (everything, "{\"opt_string\": 5}", "opt_string: expected a string", verbose);
    s_test_refused (everything, "{\"rep_string\": [\"a\", null]}",
                    "rep_string[1]: expected a string", verbose);
    s_test_refused (everything, "{\"inners\": [{\"label\": \"a\"}, {\"label\": 7}]}",
                    "inners[1].label: expected a string", verbose);
    s_test_refused (everything, "{\"inners\": [{}, {\"n\": 1.5}]}",
                    "inners[1].n: expected an integer, got 1.5", verbose);
    s_test_refused (everything, "{\"famly\": 1}", "unknown field \"famly\"", verbose);
    s_test_refused (everything, "{\"inner\": {\"famly\": 1}}",
                    "inner: unknown field \"famly\"", verbose);
    s_test_refused (everything, "{\"inner\": 1}", "inner: expected an object", verbose);
    s_test_refused (everything, "{\"inner\": []}", "inner: expected an object", verbose);
    s_test_refused (everything, "{\"rep_int32\": 1}", "rep_int32: expected an array", verbose);
    s_test_refused (everything, "{\"rep_int32\": [1, \"2\"]}",
                    "rep_int32[1]: expected an integer", verbose);
    s_test_refused (everything, "{\"opt_bytes\": \"Zg=\"}", "opt_bytes: invalid base64", verbose);
    s_test_refused (everything, "{\"rep_bytes\": [\"Zg==\", \"Zm9v\\n\"]}",
                    "rep_bytes[1]: invalid base64", verbose);
    s_test_refused (everything, "{\"opt_bytes\": 12}",
                    "opt_bytes: expected a base64 string", verbose);
    s_test_refused (everything, "{\"choice_text\": \"a\", \"choice_number\": 1}",
                    "choice_number: \"choice_text\" is already set", verbose);
    s_test_refused (everything, "{\"choice_inner\": {\"label\": \"a\"}, \"choice_text\": \"b\"}",
                    "choice_text: \"choice_inner\" is already set", verbose);
    s_test_refused (&pm__test__strict__descriptor, "{\"id\": \"x\"}",
                    "missing required field \"n\"", verbose);
    s_test_refused (&pm__test__strict__descriptor, "{\"id\": \"x\", \"n\": null}",
                    "missing required field \"n\"", verbose);
    //  Failures after strings, bytes, sub-messages and arrays were built
    //  (nothing may leak)
    s_test_refused (everything, "{\"opt_string\": \"s\", \"opt_bytes\": \"Zg==\","
                    " \"inner\": {\"label\": \"x\"}, \"rep_string\": [\"a\", \"b\"],"
                    " \"rep_bytes\": [\"Zg==\"], \"choice_inner\": {\"label\": \"c\"},"
                    " \"inners\": [{\"label\": \"a\"}, {\"label\": \"b\", \"n\": \"bad\"}]}",
                    "inners[1].n: expected an integer", verbose);
    s_test_refused (everything, "{\"choice_inner\": {\"label\": \"a\", \"n\": \"x\"}}",
                    "choice_inner.n: expected an integer", verbose);
    //  JSON-level refusals
    s_test_refused (everything, "{\"opt_int32\": 1, \"opt_int32\": 2}", "duplicate", verbose);
    s_test_refused (everything, "{\"opt_int32\": 1} x", "invalid JSON", verbose);
    s_test_refused (everything, "{}{}", "invalid JSON", verbose);
    s_test_refused (everything, "", "invalid JSON", verbose);
    s_test_refused (everything, "\"x\"", "invalid JSON", verbose);
    s_test_refused (everything, "[]", "expected a JSON object", verbose);
    s_test_refused (everything, "{\"opt_string\": \"a\\u0000b\"}", "invalid JSON", verbose);
    s_test_refused (everything, "{\"opt_string\": \"a\" ", "invalid JSON", verbose);

    //  What the text parser cannot produce, a json_t can
    {
        json_t *object = json_object ();
        json_object_set_new (object, "opt_string", json_stringn ("a\0b", 3));
        rc = pm_json_to_msg (everything, object, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && msg == NULL);
        assert (strstr (err, "opt_string: the string contains a NUL character"));
        json_decref (object);

        object = json_object ();
        json_object_setn_new (object, "opt_int32\0x", 11, json_integer (1));
        rc = pm_json_to_msg (everything, object, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && strstr (err, "unknown field \"opt_int32\""));
        json_decref (object);

        object = json_pack ("{s:o}", "opt_enum", json_stringn ("RED\0x", 5));
        rc = pm_json_to_msg (everything, object, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && strstr (err, "opt_enum: unknown enum value"));
        json_decref (object);

        object = json_integer (1);
        rc = pm_json_to_msg (everything, object, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && strstr (err, "expected a JSON object"));
        json_decref (object);

        rc = pm_json_to_msg (everything, NULL, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && msg == NULL);
        rc = pm_json_parse (NULL, "{}", 2, &msg, err, sizeof (err));
        assert (rc == PM_EINVAL && msg == NULL);
    }

    //  Error text is cut to errlen, never mid-character, and err may be
    //  absent altogether
    {
        const char *text = "{\"opt_enum\": \"GREN\"}";
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, 20);
        assert (rc == PM_EINVAL && strcmp (err, "opt_enum: unknown e") == 0);
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, 1);
        assert (rc == PM_EINVAL && err [0] == 0);
        rc = pm_json_parse (everything, text, strlen (text), &msg, NULL, 0);
        assert (rc == PM_EINVAL && msg == NULL);
        rc = pm_json_parse (everything, "{", 1, &msg, NULL, 0);
        assert (rc == PM_EINVAL && msg == NULL);

        //  "unknown field \"" is 15 bytes, then two-byte characters
        text = "{\"\xc3\xa9\xc3\xa9\xc3\xa9\": 1}";
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, 17);
        assert (rc == PM_EINVAL && strlen (err) == 15);
        rc = pm_json_parse (everything, text, strlen (text), &msg, err, 18);
        assert (rc == PM_EINVAL && strlen (err) == 17);
        assert (strcmp (err, "unknown field \"\xc3\xa9") == 0);
    }

    //  Nesting: PM_JSON_MAX_DEPTH levels are fine, one more is not, and
    //  arrays count as levels too
    {
        const ProtobufCMessageDescriptor *node = &pm__test__node__descriptor;
        char *text = s_node_text (PM_JSON_MAX_DEPTH);
        rc = pm_json_parse (node, text, strlen (text), &msg, err, sizeof (err));
        assert (rc == PM_OK);
        int levels = 1;
        Pm__Test__Node *at = (Pm__Test__Node *) msg;
        for (; at->child; at = at->child) {
            levels++;
        }
        assert (levels == PM_JSON_MAX_DEPTH && strcmp (at->name, "leaf") == 0);
        protobuf_c_message_free_unpacked (msg, NULL);
        s_test_round_trip (node, text);
        free (text);

        text = s_node_text (PM_JSON_MAX_DEPTH + 1);
        s_test_refused (node, text, "deeper than 32 levels", false);
        free (text);

        //  Past jansson's own limit, the parser refuses first
        text = s_node_text (3000);
        s_test_refused (node, text, "invalid JSON", false);
        free (text);

        char deep [PM_JSON_MAX_DEPTH * 2 + 32];
        size_t len = 0;
        len += (size_t) sprintf (deep, "{\"rep_int32\": ");
        for (int i = 0; i < PM_JSON_MAX_DEPTH; i++) {
            deep [len++] = '[';
        }
        for (int i = 0; i < PM_JSON_MAX_DEPTH; i++) {
            deep [len++] = ']';
        }
        deep [len++] = '}';
        deep [len] = 0;
        s_test_refused (everything, deep, "deeper than 32 levels", verbose);
    }
    if (verbose) {
        printf (" * pm_json: OK\n");
    }
}
