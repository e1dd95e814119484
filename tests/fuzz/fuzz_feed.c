/*  fuzz_feed.c: libFuzzer harness for a consumer's apply functions: the
    events of every stream it follows, mixed with its own commands.

    Built once per consumer (fuzz.mk: -DFUZZ_SVC=<service>; the sources
    are its pm_server_follow calls, FUZZ_FOLLOWS_<service> in
    fuzz_services.h). An in-process server of the consumer, set up by its
    own <service>_setup, is fed each record of an input in turn:

      an event    a pm.Event of one of the followed producers' real event
                  types, through pm_server_inject_event: the follower's
                  apply path and transaction, as a live event;
      a command   one of the consumer's commands, through
                  pm_server_inject (as fuzz_cmd.c), so that e.g.
                  scheduling.Book runs against projections fed just before;
      the clock   moved on, then every timer of the consumer run once
                  (pm_server_inject_tick), so that what depends on time
                  (arrival, lapsed holds, automatic no-shows, expiries)
                  is reached.

    Input: records, one after another, each
            "<name>\n"  an event type, a command or "clock" (seeds are
                        written so); or else one byte that picks one (modulo
                        their count: the producers' event types, then the
                        consumer's commands and the pm.* ones, then clock)
            2 bytes     big-endian length of what follows (cut to the input)
            payload     event:   1 byte flags (1 no time, 2 time a day
                                 before now, 4 no subject or site, 0xFF the
                                 rest is a whole pm.Event frame, sent as is)
                                 then the data (the type's message)
                        command: as fuzz_cmd.c: 1 byte envelope flags, body
                        clock:   minutes to move on, big-endian (at most a
                                 year)
    In event data and command bodies that decode, "$0".."$9" become the
    first ten different subjects of the consumer's own events in this
    input (the type it defined, the appointment it booked ...).

    Every input starts from nothing: the consumer's sub-databases are
    emptied and the clock set to FUZZ_EPOCH (Monday 2030-03-04 00:00 UTC;
    the runtime's clock is this harness's, linked with --wrap), so an
    input is a whole scenario and its own reproducer. Timers run only
    after a clock record.
    FUZZ_TRACE=1 prints each record, the events it made and each write's
    reply (to check that seeds go where they are meant to). The service's
    log is silent (most fuzzed events are refused, each with a line)
    unless FUZZ_LOG_LEVEL is set.                                        */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_services.h"
#include "fuzz_svc.h"
#include "fuzz_util.h"
#include "pm.h"

#define S_STR(x) #x
#define S_XSTR(x) S_STR (x)
#define S_CAT(a, b) a##b
#define S_XCAT(a, b) S_CAT (a, b)

#include S_XSTR (FUZZ_SVC.h)

#define FUZZ_EPOCH 1898812800000LL   //  2030-03-04T00:00:00Z, a Monday
#define FUZZ_RECYCLE 5000            //  inputs per store (the log grows)
#define RECORDS_MAX 128              //  records per input
#define KINDS_MAX 512
#define MINUTE_MS 60000LL
#define DAY_MS (1440 * MINUTE_MS)

//  What a record can be.
typedef struct {
    const char *name;                 //  event type, command or "clock"
    const char *source;               //  an event's producer
    const pm_event_def_t *event;
    const pm_command_def_t *command;
} s_kind_t;

static const char *const s_sources[] = {S_XCAT (FUZZ_FOLLOWS_, FUZZ_SVC) NULL};
static s_kind_t s_kinds[KINDS_MAX];
static size_t s_n_kinds;
static unsigned s_inputs;
static int64_t s_clock = FUZZ_EPOCH;
static bool s_trace;
static bool s_log;                    //  FUZZ_LOG_LEVEL set: log as usual

//  --------------------------------------------------------------------------
//  The runtime's log (every call of pm_log is linked here): one plain line
//  when FUZZ_LOG_LEVEL asks for it, else nothing.
void __wrap_pm_log (pm_log_level_t level, const char *msg, ...);

void
__wrap_pm_log (pm_log_level_t level, const char *msg, ...)
{
    if (!s_log || !pm_log_enabled (level)) {
        return;
    }
    fprintf (stderr, "log: %s", msg);
    va_list args;
    va_start (args, msg);
    for (const char *key = va_arg (args, const char *); key;
         key = va_arg (args, const char *)) {
        const char *value = va_arg (args, const char *);
        fprintf (stderr, " %s=%s", key, value ? value : "null");
    }
    va_end (args);
    fprintf (stderr, "\n");
}

//  --------------------------------------------------------------------------
//  The runtime's clock (every call of pm_clock_wall_ms is linked here).
int64_t __wrap_pm_clock_wall_ms (void);

int64_t
__wrap_pm_clock_wall_ms (void)
{
    return s_clock;
}

//  The schema of `service`.
static const pm_schema_t *
s_schema_of (const char *service)
{
    const pm_schema_t *const *all = fuzz_schemas ();
    for (size_t i = 0; all[i]; i++) {
        if (strcmp (all[i]->service, service) == 0) {
            return all[i];
        }
    }
    return NULL;
}

//  Adds one kind of record.
static void
s_add_kind (const char *name, const char *source, const pm_event_def_t *event,
            const pm_command_def_t *command)
{
    if (s_n_kinds < KINDS_MAX) {
        s_kinds[s_n_kinds++] = (s_kind_t) {name, source, event, command};
    }
}

//  The kind a record names ("<name>\n"), or the one its first byte picks.
//  Advances *data and *size past it.
static const s_kind_t *
s_pick (const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr (*data, '\n', *size < 80 ? *size : 80);
    for (size_t i = 0; nl && i < s_n_kinds; i++) {
        size_t len = (size_t) (nl - *data);
        if (strlen (s_kinds[i].name) == len && memcmp (s_kinds[i].name, *data, len) == 0) {
            *size -= len + 1;
            *data = nl + 1;
            return &s_kinds[i];
        }
    }
    const s_kind_t *kind = &s_kinds[**data % s_n_kinds];
    (*data)++;
    (*size)--;
    return kind;
}

//  The string field `name` of `msg`, or NULL.
static const char *
s_string_field (const ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *fd
        = msg ? protobuf_c_message_descriptor_get_field_by_name (msg->descriptor, name)
              : NULL;
    if (!fd || fd->type != PROTOBUF_C_TYPE_STRING || fd->label == PROTOBUF_C_LABEL_REPEATED) {
        return NULL;
    }
    return *(char *const *) ((const char *) msg + fd->offset);
}

//  One event record: the producer's event built around the data, fed to
//  the follower of its source.
static void
s_event (const s_kind_t *kind, const uint8_t *data, size_t size)
{
    static uint64_t made;
    if (size < 1) {
        return;
    }
    uint8_t flags = data[0];
    data++;
    size--;
    if (flags == 0xFF) {
        pm_server_inject_event (fuzz_svc_server (), kind->source, data, size);
        return;
    }
    //  Placeholders filled in when the data decodes; the bytes as they
    //  are otherwise (or when there was nothing to fill in), so that the
    //  consumer also meets data no producer would pack.
    ProtobufCMessage *msg = kind->event->data
                                ? protobuf_c_message_unpack (kind->event->data, NULL, size,
                                                             data)
                                : NULL;
    size_t n;
    char *const *subjects = fuzz_svc_subjects (&n);
    uint8_t *packed = NULL;
    if (msg && fuzz_substitute (msg, subjects, n) > 0) {
        size = protobuf_c_message_get_packed_size (msg);
        packed = malloc (size ? size : 1);
        protobuf_c_message_pack (msg, packed);
        data = packed;
    }
    char stream[64], id[96];
    snprintf (stream, sizeof stream, "str_fuzz%s", kind->source);
    snprintf (id, sizeof id, "%s.%llu", stream, (unsigned long long) ++made);
    Pm__Event ev = PM__EVENT__INIT;
    ev.id = id;
    ev.source = (char *) kind->source;
    ev.stream_id = stream;
    ev.type = (char *) kind->name;
    ev.has_time = !(flags & 1);
    ev.time = flags & 2 ? s_clock - DAY_MS : s_clock;
    if (!(flags & 4)) {
        ev.subject = (char *) s_string_field (msg, "id");
        ev.site_id = (char *) s_string_field (msg, "site_id");
    }
    ev.has_data = 1;
    ev.data.data = (uint8_t *) data;
    ev.data.len = size;
    size_t len = pm__event__get_packed_size (&ev);
    uint8_t *frame = malloc (len ? len : 1);
    pm__event__pack (&ev, frame);
    pm_server_inject_event (fuzz_svc_server (), kind->source, frame, len);
    free (frame);
    free (packed);
    protobuf_c_message_free_unpacked (msg, NULL);
}

//  One record; returns the bytes it used.
static size_t
s_record (const uint8_t *data, size_t size)
{
    const uint8_t *start = data;
    const s_kind_t *kind = s_pick (&data, &size);
    if (size < 2) {
        return (size_t) (data - start) + size;
    }
    size_t len = (size_t) data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (len > size) {
        len = size;
    }
    if (s_trace) {
        fprintf (stderr, "fuzz: %s (%zu bytes)\n", kind->name, len);
    }
    if (kind->event) {
        s_event (kind, data, len);
    }
    else if (kind->command) {
        fuzz_svc_request (kind->command, data, len);
    }
    else {
        uint64_t minutes = 0;
        for (size_t i = 0; i < len && i < 4; i++) {
            minutes = minutes << 8 | data[i];
        }
        s_clock += (int64_t) (len ? minutes % (366 * 1440) : 1) * MINUTE_MS;
        pm_server_inject_tick (fuzz_svc_server ());
    }
    fuzz_svc_collect ();
    return (size_t) (data - start) + len;
}

//  --------------------------------------------------------------------------
//  The kinds of record, the service in process.
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_trace = getenv ("FUZZ_TRACE") && strcmp (getenv ("FUZZ_TRACE"), "0") != 0;
    s_log = getenv ("FUZZ_LOG_LEVEL") != NULL;
    for (size_t i = 0; s_sources[i]; i++) {
        const pm_schema_t *schema = s_schema_of (s_sources[i]);
        if (!schema) {
            fuzz_fail ("a followed service is not built", s_sources[i]);
        }
        for (const pm_event_def_t *e = schema->events; e->type; e++) {
            s_add_kind (e->type, s_sources[i], e, NULL);
        }
    }
    const pm_command_def_t *commands[128];
    const pm_schema_t *self = s_schema_of (S_XSTR (FUZZ_SVC));
    size_t n = fuzz_commands (self, commands, 128);
    for (size_t i = 0; i < n; i++) {
        s_add_kind (commands[i]->type, NULL, NULL, commands[i]);
    }
    s_add_kind ("clock", NULL, NULL, NULL);
    fuzz_svc_init (self, S_XCAT (FUZZ_SVC, _setup), FUZZ_SUBJECTS_FIRST);
    return 0;
}

//  --------------------------------------------------------------------------
//  libFuzzer's own mutations (declared by libFuzzer, defined there).
size_t LLVMFuzzerMutate (uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size,
                                unsigned int seed);

//  A record of an input, as s_record reads it.
typedef struct {
    const s_kind_t *kind;
    size_t len_at;                    //  offset of its 2-byte length
    size_t len;                       //  the payload's length
} s_span_t;

//  --------------------------------------------------------------------------
//  libFuzzer: one change to an input. Two in three are libFuzzer's own;
//  the third decodes one event's data or command's body and changes one
//  field of it (fuzz_pb_mutate), keeping the scenario around it intact.
size_t
LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t rng = (uint64_t) seed * 0x9E3779B97F4A7C15ULL + 1;
    s_span_t spans[RECORDS_MAX];
    size_t n = 0, at = 0;
    if (fuzz_rand (&rng) % 3 != 0 || size == 0) {
        return LLVMFuzzerMutate (data, size, max_size);
    }
    //  The records with a message in them.
    while (at < size && n < RECORDS_MAX) {
        const uint8_t *p = data + at;
        size_t left = size - at;
        const s_kind_t *kind = s_pick (&p, &left);
        if (left < 2) {
            break;
        }
        size_t len_at = (size_t) (p - data);
        size_t len = (size_t) p[0] << 8 | p[1];
        len = len > left - 2 ? left - 2 : len;
        if ((kind->event || kind->command) && len >= 1 && p[2] != 0xFF) {
            spans[n++] = (s_span_t) {kind, len_at, len};
        }
        at = len_at + 2 + len;
    }
    if (n == 0) {
        return LLVMFuzzerMutate (data, size, max_size);
    }
    s_span_t *sp = &spans[fuzz_rand (&rng) % n];
    const ProtobufCMessageDescriptor *desc
        = sp->kind->event ? sp->kind->event->data : sp->kind->command->request;
    const uint8_t *payload = data + sp->len_at + 2;
    ProtobufCMessage *msg
        = desc ? protobuf_c_message_unpack (desc, NULL, sp->len - 1, payload + 1) : NULL;
    if (!msg) {
        return LLVMFuzzerMutate (data, size, max_size);
    }
    for (int i = 0, times = 1 + (int) (fuzz_rand (&rng) % 2); i < times; i++) {
        fuzz_pb_mutate (msg, &rng);
    }
    size_t packed = protobuf_c_message_get_packed_size (msg);
    size_t new_size = size - (sp->len - 1) + packed;
    if (packed + 1 > 0xFFFF || new_size > max_size) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return LLVMFuzzerMutate (data, size, max_size);
    }
    uint8_t *body = malloc (packed ? packed : 1);
    protobuf_c_message_pack (msg, body);
    protobuf_c_message_free_unpacked (msg, NULL);
    size_t tail = sp->len_at + 2 + sp->len;
    memmove (data + sp->len_at + 3 + packed, data + tail, size - tail);
    memcpy (data + sp->len_at + 3, body, packed);
    data[sp->len_at] = (uint8_t) ((packed + 1) >> 8);
    data[sp->len_at + 1] = (uint8_t) (packed + 1);
    free (body);
    return new_size;
}

//  --------------------------------------------------------------------------
//  libFuzzer: one input, one scenario from an empty store.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (++s_inputs % FUZZ_RECYCLE == 0) {
        fuzz_svc_restart ();
    }
    fuzz_svc_clear ();
    fuzz_svc_forget ();
    s_clock = FUZZ_EPOCH;
    for (int records = 0; size > 0 && records < RECORDS_MAX; records++) {
        size_t used = s_record (data, size);
        data += used;
        size -= used;
    }
    return 0;
}
