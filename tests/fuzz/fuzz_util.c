/*  fuzz_util.c: message and command tables for the fuzz harnesses (see
    fuzz_util.h).                                                        */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_services.h"
#include "fuzz_util.h"
#include "pm.pb-c.h"

static const pm_schema_t *const s_schemas[] = {FUZZ_SCHEMAS NULL};

//  --------------------------------------------------------------------------
//  The schemas fuzz_services.h lists.
const pm_schema_t *const *
fuzz_schemas (void)
{
    return s_schemas;
}

//  --------------------------------------------------------------------------
//  Adds `desc` to the table unless it is there already.
static void
s_add (const ProtobufCMessageDescriptor **table, size_t *n,
       const ProtobufCMessageDescriptor *desc)
{
    if (!desc) {
        return;
    }
    for (size_t i = 0; i < *n; i++) {
        if (table[i] == desc) {
            return;
        }
    }
    if (*n < FUZZ_DESC_MAX) {
        table[(*n)++] = desc;
    }
}

//  --------------------------------------------------------------------------
//  Every message type on the wire, each once.
size_t
fuzz_descriptors (const ProtobufCMessageDescriptor ***table_out)
{
    static const ProtobufCMessageDescriptor *table[FUZZ_DESC_MAX];
    static size_t n;
    if (n == 0) {
        const ProtobufCMessageDescriptor *envelope[] = {
            &pm__request__descriptor,     &pm__reply__descriptor,
            &pm__event__descriptor,       &pm__events_read__descriptor,
            &pm__event_batch__descriptor, &pm__heartbeat__descriptor,
            &pm__consumer_lag__descriptor, &pm__health__descriptor,
        };
        for (size_t i = 0; i < sizeof envelope / sizeof *envelope; i++) {
            s_add (table, &n, envelope[i]);
        }
        for (const pm_schema_t *const *s = s_schemas; *s; s++) {
            for (const pm_command_def_t *c = (*s)->commands; c->type; c++) {
                s_add (table, &n, c->request);
                s_add (table, &n, c->reply);
            }
            for (const pm_event_def_t *e = (*s)->events; e->type; e++) {
                s_add (table, &n, e->data);
            }
        }
        //  The closure: messages nested in those found so far (the table
        //  grows while it is walked, so nesting of any depth is reached).
        for (size_t i = 0; i < n; i++) {
            for (unsigned f = 0; f < table[i]->n_fields; f++) {
                const ProtobufCFieldDescriptor *field = &table[i]->fields[f];
                if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
                    s_add (table, &n, field->descriptor);
                }
            }
        }
    }
    *table_out = table;
    return n;
}

//  --------------------------------------------------------------------------
//  The type an input names, or one its first byte picks.
const ProtobufCMessageDescriptor *
fuzz_pick (const uint8_t **data, size_t *size)
{
    const ProtobufCMessageDescriptor **table;
    size_t n = fuzz_descriptors (&table);
    const uint8_t *nl = *size ? memchr (*data, '\n', *size < 128 ? *size : 128) : NULL;
    if (nl) {
        size_t len = (size_t) (nl - *data);
        for (size_t i = 0; i < n; i++) {
            if (strlen (table[i]->name) == len
                && memcmp (table[i]->name, *data, len) == 0) {
                *size -= len + 1;
                *data = nl + 1;
                return table[i];
            }
        }
    }
    if (*size == 0) {
        return table[0];
    }
    const ProtobufCMessageDescriptor *desc = table[**data % n];
    (*data)++;
    (*size)--;
    return desc;
}

//  --------------------------------------------------------------------------
//  The service's commands, then the built-in ones.
size_t
fuzz_commands (const pm_schema_t *schema, const pm_command_def_t **out,
               size_t max)
{
    size_t n = 0;
    const pm_schema_t *tables[] = {schema, &pm_schema_builtin};
    for (int t = 0; t < 2; t++) {
        for (const pm_command_def_t *c = tables[t]->commands; c->type && n < max;
             c++) {
            out[n++] = c;
        }
    }
    return n;
}

//  --------------------------------------------------------------------------
//  Swaps one string slot for a subject when it holds a placeholder;
//  returns 1 when it did.
static size_t
s_swap (char **slot, char *const *subjects, size_t n)
{
    const char *s = *slot;
    if (s && s[0] == '$' && s[1] >= '0' && s[1] <= '9' && s[2] == 0) {
        char *copy = strdup (subjects[(size_t) (s[1] - '0') % n]);
        if (copy) {
            free (*slot);
            *slot = copy;
            return 1;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Fills "$<digit>" placeholders in `msg` with subjects, recursively.
size_t
fuzz_substitute (ProtobufCMessage *msg, char *const *subjects, size_t n)
{
    size_t done = 0;
    if (!msg || n == 0) {
        return done;
    }
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        char *member = (char *) msg + field->offset;
        if (field->type != PROTOBUF_C_TYPE_STRING
            && field->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        size_t count = 1;
        void **slots = (void **) member;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(size_t *) ((char *) msg + field->quantifier_offset);
            slots = *(void ***) member;
        }
        for (size_t i = 0; i < count; i++) {
            if (field->type == PROTOBUF_C_TYPE_STRING) {
                //  An unset optional string may point at a static default.
                if (slots[i] != field->default_value) {
                    done += s_swap ((char **) &slots[i], subjects, n);
                }
            }
            else {
                done += fuzz_substitute (slots[i], subjects, n);
            }
        }
    }
    return done;
}

//  --------------------------------------------------------------------------
//  True when `msg` or a nested message kept an unknown field number 0.
bool
fuzz_has_zero_tag (const ProtobufCMessage *msg)
{
    if (!msg) {
        return false;
    }
    for (size_t i = 0; i < msg->n_unknown_fields; i++) {
        if (msg->unknown_fields[i].tag == 0) {
            return true;
        }
    }
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        const char *member = (const char *) msg + field->offset;
        size_t count = 1;
        ProtobufCMessage *const *subs = (ProtobufCMessage *const *) member;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *) ((const char *) msg + field->quantifier_offset);
            subs = *(ProtobufCMessage *const *const *) member;
        }
        for (size_t i = 0; i < count; i++) {
            if (fuzz_has_zero_tag (subs[i])) {
                return true;
            }
        }
    }
    return false;
}

//  --------------------------------------------------------------------------
//  True when FUZZ_STRICT asks for no known finding to be tolerated.
bool
fuzz_strict (void)
{
    const char *v = getenv ("FUZZ_STRICT");
    return v && *v && strcmp (v, "0") != 0;
}

//  --------------------------------------------------------------------------
//  Says what broke and aborts: libFuzzer keeps the input.
void
fuzz_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "",
             detail ? detail : "");
    abort ();
}

//  --- structure-aware mutation -----------------------------------------------

//  --------------------------------------------------------------------------
//  The next number of a xorshift generator.
uint64_t
fuzz_rand (uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

//  One field of one message, a candidate for a change.
typedef struct {
    ProtobufCMessage *msg;
    const ProtobufCFieldDescriptor *field;
} s_slot_t;

//  Picks one field of `msg` or of a message nested in it, uniformly
//  (reservoir sampling over every field, present or not).
static void
s_pick_field (ProtobufCMessage *msg, uint64_t *rng, s_slot_t *pick, size_t *seen,
              int depth)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if (fuzz_rand (rng) % ++*seen == 0) {
            *pick = (s_slot_t) {msg, field};
        }
        if (field->type != PROTOBUF_C_TYPE_MESSAGE || depth > 8) {
            continue;
        }
        char *member = (char *) msg + field->offset;
        size_t count = 1;
        ProtobufCMessage **subs = (ProtobufCMessage **) member;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(size_t *) ((char *) msg + field->quantifier_offset);
            subs = *(ProtobufCMessage ***) member;
        }
        for (size_t i = 0; i < count; i++) {
            if (subs[i]) {
                s_pick_field (subs[i], rng, pick, seen, depth + 1);
            }
        }
    }
}

//  Frees one element of a string or message field.
static void
s_free_value (const ProtobufCFieldDescriptor *field, void *value)
{
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        protobuf_c_message_free_unpacked (value, NULL);
    }
    else if (field->type == PROTOBUF_C_TYPE_STRING && value != field->default_value) {
        free (value);
    }
}

//  A string to put in a field: empty, long enough to fill a store key,
//  a bad id, an odd character...
static char *
s_edge_string (uint64_t *rng)
{
    static const char *const some[] = {"", "$0", "$1", "$2", "x", "north", "../..",
                                       "UTC", "2030-02-30", "24:00", "é", "PHYSICIAN",
                                       "stf_01jdq9x3m0aaaaaaaaaaaaaaaa"};
    size_t n = sizeof some / sizeof some[0];
    uint64_t r = fuzz_rand (rng) % (n + 3);
    if (r < n) {
        return strdup (some[r]);
    }
    size_t len = r == n ? 65 : r == n + 1 ? 479 : 600;
    char *s = malloc (len + 1);
    memset (s, 'a', len);
    s[len] = 0;
    return s;
}

//  An edge value for an integer field of `type`, into `member`.
static void
s_edge_number (ProtobufCType type, void *member, uint64_t *rng)
{
    static const int64_t i64[] = {0, 1, -1, INT64_MIN, INT64_MAX, INT64_MAX - 1000,
                                  INT64_MIN + 1, 1898812800000LL, 1LL << 53, 86400000};
    static const uint64_t u64[] = {0, 1, UINT64_MAX, 1ULL << 63, 1ULL << 32, 1000};
    static const int32_t i32[] = {0, 1, -1, INT32_MIN, INT32_MAX, 99, 1000, 1001};
    static const uint32_t u32[] = {0, 1, UINT32_MAX, 1000, 1001, 50, 51, 480, 481};
    uint64_t r = fuzz_rand (rng);
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *) member = i64[r % (sizeof i64 / sizeof *i64)];
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *) member = u64[r % (sizeof u64 / sizeof *u64)];
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        *(int32_t *) member = i32[r % (sizeof i32 / sizeof *i32)];
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *) member = u32[r % (sizeof u32 / sizeof *u32)];
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *) member = (protobuf_c_boolean) (r & 1);
        break;
    default:
        break;
    }
}

//  --------------------------------------------------------------------------
//  One change to one field of `msg` or a message nested in it.
bool
fuzz_pb_mutate (ProtobufCMessage *msg, uint64_t *rng)
{
    s_slot_t pick = {NULL, NULL};
    size_t seen = 0;
    s_pick_field (msg, rng, &pick, &seen, 0);
    if (!pick.field) {
        return false;
    }
    const ProtobufCFieldDescriptor *field = pick.field;
    char *base = (char *) pick.msg;
    void *member = base + field->offset;
    if (field->type == PROTOBUF_C_TYPE_BYTES || field->type == PROTOBUF_C_TYPE_FLOAT
        || field->type == PROTOBUF_C_TYPE_DOUBLE) {
        return false;
    }
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        //  Drops one element, or all of them.
        size_t *count = (size_t *) (base + field->quantifier_offset);
        void **values = *(void ***) member;
        if (*count == 0) {
            return false;
        }
        size_t from = fuzz_rand (rng) % 4 == 0 ? 0 : (size_t) (fuzz_rand (rng) % *count);
        size_t drop = from == 0 && *count > 1 && fuzz_rand (rng) % 2 ? *count : 1;
        size_t size = field->type == PROTOBUF_C_TYPE_STRING
                              || field->type == PROTOBUF_C_TYPE_MESSAGE
                          ? sizeof (void *)
                      : field->type == PROTOBUF_C_TYPE_INT64
                              || field->type == PROTOBUF_C_TYPE_UINT64
                              || field->type == PROTOBUF_C_TYPE_SINT64
                              || field->type == PROTOBUF_C_TYPE_FIXED64
                              || field->type == PROTOBUF_C_TYPE_SFIXED64
                          ? 8
                          : 4;
        if (size == sizeof (void *)) {
            for (size_t i = from; i < from + drop; i++) {
                s_free_value (field, values[i]);
            }
        }
        char *bytes = (char *) values;
        memmove (bytes + from * size, bytes + (from + drop) * size,
                 (*count - from - drop) * size);
        *count -= drop;
        return true;
    }
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        //  Present: gone. Absent: an empty one.
        ProtobufCMessage **sub = member;
        if (*sub) {
            protobuf_c_message_free_unpacked (*sub, NULL);
            *sub = NULL;
        }
        else {
            const ProtobufCMessageDescriptor *d = field->descriptor;
            *sub = malloc (d->sizeof_message);
            protobuf_c_message_init (d, *sub);
        }
        return true;
    }
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        char **s = member;
        s_free_value (field, *s);
        *s = fuzz_rand (rng) % 4 == 0 ? NULL : s_edge_string (rng);
        return true;
    }
    //  A number: absent, or present with an edge value.
    protobuf_c_boolean *has = field->quantifier_offset
                                  ? (protobuf_c_boolean *) (base + field->quantifier_offset)
                                  : NULL;
    if (has && *has && fuzz_rand (rng) % 4 == 0) {
        *has = 0;
        return true;
    }
    if (has) {
        *has = 1;
    }
    s_edge_number (field->type, member, rng);
    return true;
}
