/*  fuzz_cmd.c: libFuzzer harness for every command of one service,
    through the real command path.

    Built once per service (fuzz.mk: -DFUZZ_SVC=<service>): an in-process
    server of that service, set up by its own <service>_setup with a
    temporary store and loopback ports, is fed each input as one request
    frame with pm_server_inject: envelope decode and checks, idempotency
    lookup, batch, the handler with its validation, event log, commit.

    Input:  "<command>\n" the command's name (seeds are written so); or
                     else one byte, an index into the service's commands
                     then the pm.* ones (modulo their count); or 0xFF:
                     the rest of the input is a whole frame, sent as is
            1 byte   envelope flags: 1 retry the previous request id,
                     2 no client_id, 4 request_id 0, 8 deadline passed,
                     16 site_id, 32 actor, 64 correlation_id
            rest     the command's body (protobuf). When it decodes, any
                     string "$0".."$9" in it becomes the subject of an
                     event seen earlier in this run (a record id), so that
                     a corpus can update what it registered.

    One mutation in three is structure-aware: the body decoded, one field
    changed (fuzz_pb_mutate), packed again.

    The store lives for many inputs (that is what reaches conflicts and
    versions) and is replaced every FUZZ_RECYCLE inputs so it stays small.
    FUZZ_WARMUP=<dir> runs the files there first: a reproducer that needs
    records made by earlier inputs gets them from the corpus.            */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_svc.h"
#include "fuzz_util.h"
#include "pm.h"

#define S_STR(x) #x
#define S_XSTR(x) S_STR (x)
#define S_CAT(a, b) a##b
#define S_XCAT(a, b) S_CAT (a, b)

#include S_XSTR (FUZZ_SVC.h)
#include S_XSTR (S_XCAT (FUZZ_SVC, _schema).h)

#define FUZZ_RECYCLE 20000   //  inputs per store
#define COMMANDS_MAX 128

static const pm_command_def_t *s_commands[COMMANDS_MAX];
static size_t s_n_commands;
static unsigned s_inputs;

static void s_inject (const uint8_t *data, size_t size);

//  The command an input names ("<type>\n"), or the one its first byte
//  picks. Advances *data and *size past it.
static const pm_command_def_t *
s_pick_command (const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr (*data, '\n', *size < 64 ? *size : 64);
    for (size_t i = 0; nl && i < s_n_commands; i++) {
        size_t len = (size_t) (nl - *data);
        if (strlen (s_commands[i]->type) == len
            && memcmp (s_commands[i]->type, *data, len) == 0) {
            *size -= len + 1;
            *data = nl + 1;
            return s_commands[i];
        }
    }
    const pm_command_def_t *def = s_commands[**data % s_n_commands];
    (*data)++;
    (*size)--;
    return def;
}

//  Runs every file of `dir` (sorted by name) as an input.
static void
s_warm_up (const char *dir)
{
    struct dirent **names;
    int n = scandir (dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, names[i]->d_name);
        FILE *f = names[i]->d_name[0] != '.' ? fopen (path, "rb") : NULL;
        if (f) {
            static uint8_t buf[1 << 16];
            size_t len = fread (buf, 1, sizeof buf, f);
            fclose (f);
            s_inject (buf, len);
        }
        free (names[i]);
    }
    free (names);
}

//  --------------------------------------------------------------------------
//  Starts the service in process, warms up.
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_n_commands = fuzz_commands (&S_XCAT (FUZZ_SVC, _schema), s_commands,
                                  COMMANDS_MAX);
    fuzz_svc_init (&S_XCAT (FUZZ_SVC, _schema), S_XCAT (FUZZ_SVC, _setup),
                   FUZZ_SUBJECTS_RING);
    if (getenv ("FUZZ_WARMUP")) {
        s_warm_up (getenv ("FUZZ_WARMUP"));
    }
    return 0;
}

//  One input: one request through the command path.
static void
s_inject (const uint8_t *data, size_t size)
{
    if (size < 2) {
        return;
    }
    if (++s_inputs % FUZZ_RECYCLE == 0) {
        fuzz_svc_restart ();
    }
    if (data[0] == 0xFF) {
        pm_server_inject (fuzz_svc_server (), data + 1, size - 1);
    }
    else {
        const pm_command_def_t *def = s_pick_command (&data, &size);
        fuzz_svc_request (def, data, size);
    }
    fuzz_svc_collect ();
}

//  --------------------------------------------------------------------------
//  libFuzzer's own mutations, and ours.
size_t LLVMFuzzerMutate (uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size,
                                unsigned int seed);

//  --------------------------------------------------------------------------
//  libFuzzer: one change to an input; one in three changes one field of
//  the decoded body, the rest are libFuzzer's.
size_t
LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t rng = (uint64_t) seed * 0x9E3779B97F4A7C15ULL + 1;
    if (fuzz_rand (&rng) % 3 != 0 || size < 2 || data[0] == 0xFF) {
        return LLVMFuzzerMutate (data, size, max_size);
    }
    const uint8_t *p = data;
    size_t left = size;
    const pm_command_def_t *def = s_pick_command (&p, &left);
    size_t at = (size_t) (p - data) + 1; //  the body, after the flags
    ProtobufCMessage *msg = def->request && left >= 1
                                ? protobuf_c_message_unpack (def->request, NULL, size - at,
                                                             data + at)
                                : NULL;
    if (!msg) {
        return LLVMFuzzerMutate (data, size, max_size);
    }
    fuzz_pb_mutate (msg, &rng);
    size_t packed = protobuf_c_message_get_packed_size (msg);
    if (at + packed > max_size) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return LLVMFuzzerMutate (data, size, max_size);
    }
    protobuf_c_message_pack (msg, data + at);
    protobuf_c_message_free_unpacked (msg, NULL);
    return at + packed;
}

//  --------------------------------------------------------------------------
//  libFuzzer: one input, one request.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_inject (data, size);
    return 0;
}
