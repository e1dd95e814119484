/*  pm_selftest.c: runs the selftests of common/. Each test runs in its own
    process, so one failing assert is counted and the rest still run.
    `pm_selftest [-v] [name...]`; ends with "N passed, N failed".        */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm.h"

static void
s_err_test (bool verbose)
{
    (void) verbose;
    //  The enum and the wire vocabulary must never drift apart.
    if (PM_EINTERNAL != (int) PM__CODE__EINTERNAL || PM_EINVAL != (int) PM__CODE__EINVAL
        || PM_EUNAVAILABLE != (int) PM__CODE__EUNAVAILABLE) {
        _exit (1);
    }
    for (int c = 0; c < PM_ERR_COUNT; c++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
            &pm__code__descriptor, c);
        if (!v || strcmp (v->name, pm_err_name ((pm_err) c)) != 0) {
            _exit (1);
        }
    }
    if (pm_err_from_mdb (MDB_NOTFOUND) != PM_ENOTFOUND
        || pm_err_from_mdb (MDB_MAP_FULL) != PM_EFULL
        || pm_err_from_mdb (MDB_KEYEXIST) != PM_ECONFLICT
        || pm_err_from_errno (ENOSPC) != PM_EFULL || strcmp (pm_err_name (99), "E?")) {
        _exit (1);
    }
}

static void
s_cfg_test (bool verbose)
{
    (void) verbose;
    setenv ("PM_TEST_SIZE", "2M", 1);
    setenv ("PM_TEST_BAD", "12Q", 1);
    if (pm_cfg_int ("PM_TEST_SIZE", 0) != 2 * 1024 * 1024
        || pm_cfg_int ("PM_TEST_BAD", 7) != 7 || pm_cfg_int ("PM_TEST_NONE", 9) != 9
        || pm_cfg_int ("PM_BATCH_MAX", 0) != 256) {
        _exit (1);
    }
    char ep[128];
    unsetenv ("PM_PATIENTS_ENDPOINT");
    pm_cfg_endpoint ("patients", "ENDPOINT", ep, sizeof ep);
    if (strcmp (ep, "tcp://127.0.0.1:7101") != 0) {
        _exit (1);
    }
    setenv ("PM_PATIENTS_EVENTS", "tcp://patients:7102", 1);
    pm_cfg_endpoint ("patients", "EVENTS", ep, sizeof ep);
    if (strcmp (ep, "tcp://patients:7102") != 0) {
        _exit (1);
    }
    setenv ("PM_PATIENTS_EVENTS_BIND", "tcp://*:7102", 1);
    pm_cfg_bind ("patients", "EVENTS", ep, sizeof ep);
    if (strcmp (ep, "tcp://*:7102") != 0) {
        _exit (1);
    }
}

static const struct {
    const char *name;
    void (*test) (bool verbose);
} s_tests[] = {
    {"pm_err", s_err_test},     {"pm_cfg", s_cfg_test},
    {"pm_id", pm_id_test},      {"pm_store", pm_store_test},
    {"pm_evlog", pm_evlog_test}, {"pm_json", pm_json_test},
    {"pm_keys", pm_keys_test},   {"pm_audit", pm_audit_test},
    {"pm_key", pm_key_test},
};

int
main (int argc, char *argv[])
{
    bool verbose = argc > 1 && strcmp (argv[1], "-v") == 0;
    int first = verbose ? 2 : 1;
    int passed = 0, failed = 0;
    pm_log_init ("selftest", "error");
    for (size_t i = 0; i < sizeof s_tests / sizeof s_tests[0]; i++) {
        bool wanted = argc <= first;
        for (int a = first; a < argc; a++) {
            wanted = wanted || strcmp (argv[a], s_tests[i].name) == 0;
        }
        if (!wanted) {
            continue;
        }
        fflush (stdout);
        pid_t pid = fork ();
        if (pid == 0) {
            s_tests[i].test (verbose);
            fflush (stdout);
            _exit (0);
        }
        int status = 0;
        waitpid (pid, &status, 0);
        bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
        printf ("%-12s %s\n", s_tests[i].name, ok ? "ok" : "FAILED");
        ok ? passed++ : failed++;
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
