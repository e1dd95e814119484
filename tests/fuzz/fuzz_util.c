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
