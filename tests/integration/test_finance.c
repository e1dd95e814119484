/*  test_finance.c: the finance service through its protocol: site fees
    and price lists, charges raised exactly once from scheduling's stream
    (re-sent, replayed after a restart and after scheduling's store is
    replaced), manual charges and voids, invoices and payments, credit
    notes and their numbers (a refused note, concurrent issuers, a store
    from before numbers) and lists, the aging at a past date (what was
    due then),
    accounts and statements, daily close and period locks, patient
    merges from patients' stream, bad input, site scope and audit.

    Requests are written as JSON and turned into the command's protobuf
    message with the service's own schema (pm_json); replies are read
    back the same way. pm_emitter stands in for scheduling, patients and
    recruitment; payroll actuals (and their re-pricing after a pay-rate
    change) come from the real pm-staffing.                               */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "finance_schema.h"
#include "itest.h"
#include "patients.pb-c.h"
#include "pm_key.h"
#include "pm_store.h"
#include "pm_test.pb-c.h"
#include "recruitment.pb-c.h"
#include "scheduling.pb-c.h"
#include "staffing_schema.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

//  --- helpers -----------------------------------------------------------------

//  Starts on random ports below the ephemeral range (retrying if taken), so
//  a restart finds its ports free.
static int
s_start (itest_svc_t *svc)
{
    if (svc->commands[0]) {
        return itest_start (svc);
    }
    for (int tries = 0; tries < 20; tries++) {
        uint32_t r;
        pm_random (&r, sizeof r);
        int port = 20000 + (int) (r % 6000) * 2;
        snprintf (svc->commands, sizeof svc->commands, "tcp://127.0.0.1:%d", port);
        snprintf (svc->events, sizeof svc->events, "tcp://127.0.0.1:%d", port + 1);
        if (itest_start (svc) == 0) {
            return 0;
        }
    }
    return -1;
}

//  True when the call's reply has code `want` (and field `field`).
static bool
s_is (pm_client_t *client, int want, const char *field, const char *type,
      const char *json)
{
    json_t *r = itest_req (client, want, field, type, "%s", json);
    json_decref (r);
    return r != NULL;
}

//  A number at `path` (integers may come as JSON strings); 0 when absent.
static long long
s_num (json_t *j, const char *path)
{
    json_t *v = itest_json_at (j, path);
    if (json_is_string (v)) {
        return atoll (json_string_value (v));
    }
    return json_is_integer (v) ? (long long) json_integer_value (v) : 0;
}

//  How many events of `type` the service's stream holds.
static int
s_count_events (pm_client_t *client, const char *type)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    int count = 0;
    for (long i = 0; i < n; i++) {
        count += strcmp (events[i]->type, type) == 0;
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return n < 0 ? -1 : count;
}

static char *
s_stream_id (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    char *id = h && h->stream_id ? strdup (h->stream_id) : NULL;
    pm__health__free_unpacked (h, NULL);
    return id;
}

//  Waits until finance has applied `source`'s stream `stream` (any if
//  NULL) up to `seq`; its apply failures then, or -1 on timeout.
static long
s_wait_applied (pm_client_t *fc, const char *source, const char *stream, uint64_t seq)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (fc);
        long failures = -1;
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            Pm__ConsumerLag *c = h->consumers[i];
            if (strcmp (c->source, source) == 0 && c->cursor >= seq
                && (!stream || strcmp (c->stream_id, stream) == 0)) {
                failures = (long) c->apply_failures;
            }
        }
        pm__health__free_unpacked (h, NULL);
        if (failures >= 0) {
            return failures;
        }
        zclock_sleep (10);
    }
    return -1;
}

//  Starts a stand-in for `producer` (pm_emitter: it appends exactly the
//  events a test asks for) and finance following it. False when either did
//  not start.
static bool
s_start_following (itest_svc_t *emi, const char *producer, itest_svc_t *fin)
{
    static const char *envs[] = {"PM_EMITTER_SERVICE=scheduling",
                                 "PM_EMITTER_SERVICE=patients",
                                 "PM_EMITTER_SERVICE=recruitment",
                                 "PM_EMITTER_SERVICE=staffing"};
    itest_svc_init (emi, producer, "pm_emitter");
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        if (strcmp (envs[i] + strlen ("PM_EMITTER_SERVICE="), producer) == 0) {
            emi->env[0] = envs[i];
        }
    }
    itest_svc_init (fin, "finance", "pm-finance");
    if (s_start (emi) != 0) {
        return false;
    }
    itest_point_at (fin, emi);
    return s_start (fin) == 0;
}

//  Appends an appointment event to the stand-in scheduling stream at
//  event time `at` (the emitter stamps its own clock; the appointment's
//  start is what the fee rules read). `apt` NULL: data that is not an
//  appointment at all.
static bool
s_emit_priced (pm_client_t *ec, const char *type, const char *apt, const char *patient,
               const char *site, const char *type_id, const char *price_code, int64_t start)
{
    Pm__Scheduling__Appointment a = PM__SCHEDULING__APPOINTMENT__INIT;
    a.id = (char *) apt;
    a.price_code = (char *) price_code;
    a.patient_id = (char *) patient;
    a.practitioner_id = "stf_x";
    a.site_id = (char *) site;
    a.type_id = (char *) type_id;
    a.has_start = a.has_end = 1;
    a.start = start;
    a.end = start + 1800000;
    //  Scheduling's own word on a late cancellation, when its message has
    //  the field (set by name, so the test builds with and without it).
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name (
        a.base.descriptor, "late_cancel");
    if (fd && fd->type == PROTOBUF_C_TYPE_BOOL && strstr (type, "cancelled")) {
        *(protobuf_c_boolean *) ((char *) &a + fd->quantifier_offset) = 1;
        *(protobuf_c_boolean *) ((char *) &a + fd->offset) = start - pm_clock_wall_ms ()
                                                              < DAY_MS;
    }
    uint8_t data[512];
    Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
    emit.type = (char *) type;
    emit.site_id = (char *) site;
    emit.subject = (char *) apt;
    emit.has_data = 1;
    emit.data.data = data;
    if (apt) {
        emit.data.len = pm__scheduling__appointment__pack (&a, data);
    }
    else {
        memcpy (data, "\x08\xff", 2); //  field 1 as a varint: not an Appointment
        emit.data.len = 2;
    }
    Pm__Reply *reply = itest_call (ec, "emitter.Emit", &emit.base);
    bool ok = reply && reply->code == 0;
    pm__reply__free_unpacked (reply, NULL);
    return ok;
}

static bool
s_emit_apt (pm_client_t *ec, const char *type, const char *apt, const char *patient,
            const char *site, const char *type_id, int64_t start)
{
    return s_emit_priced (ec, type, apt, patient, site, type_id, NULL, start);
}

//  Sets up site `site` in USD (New York) with a no-show fee of 25.00,
//  a late-cancel fee of 15.00 within 24 hours, and a checkup at 120.00.
static bool
s_site (pm_client_t *c, const char *site)
{
    json_t *r = itest_req (c, 0, NULL, "finance.SetSite",
                       "{\"site_id\": \"%s\", \"currency\": \"USD\", \"time_zone\": "
                       "\"America/New_York\", \"no_show_fee_minor\": 2500, "
                       "\"late_cancel_fee_minor\": 1500, \"late_cancel_minutes\": 1440}",
                       site);
    json_decref (r);
    if (!r) {
        return false;
    }
    r = itest_req (c, 0, NULL, "finance.SetPrice",
               "{\"price\": {\"site_id\": \"%s\", \"code\": \"checkup\", "
               "\"amount_minor\": 12000, \"currency\": \"USD\", \"valid_from\": 0, "
               "\"description\": \"Checkup\"}}", site);
    json_decref (r);
    return r != NULL;
}

//  How many audit entries name `subject` for `action` with `outcome`.
static int
s_audits (pm_client_t *auditor, const char *subject, const char *action, int outcome)
{
    Pm__AuditRead q = PM__AUDIT_READ__INIT;
    q.has_max = 1;
    q.max = 1000;
    Pm__Reply *reply = itest_call (auditor, "pm.AuditRead", &q.base);
    if (!reply || reply->code != 0) {
        pm__reply__free_unpacked (reply, NULL);
        return -1;
    }
    Pm__AuditBatch *b = pm__audit_batch__unpack (NULL, reply->body.len, reply->body.data);
    int n = 0;
    for (size_t i = 0; b && i < b->n_entries; i++) {
        Pm__AuditEntry *e = b->entries[i];
        n += e->subject && strcmp (e->subject, subject) == 0 && e->action
             && strcmp (e->action, action) == 0 && (int) e->outcome == outcome;
    }
    pm__audit_batch__free_unpacked (b, NULL);
    pm__reply__free_unpacked (reply, NULL);
    return n;
}

static const char *PAT = "pat_01m8e8rx5n3r2py41feft8x8rn";

//  --------------------------------------------------------------------------
//  A site's fees and prices: bad input named by field, the currency fixed
//  once set, changes need the version read, prices take effect from
//  their instant, and only managers and finance of the site set them.
static void
s_test_prices_and_policy (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("mgr-east", "practice-manager", "east");
    pm_client_t *c = itest_client (&svc);
    const char *set = "finance.SetSite";
    CHECK (s_is (c, PM_EINVAL, "currency", set, "{\"site_id\": \"north\", \"currency\": "
                 "\"usd\", \"time_zone\": \"UTC\"}"));
    CHECK (s_is (c, PM_EINVAL, "time_zone", set, "{\"site_id\": \"north\", \"currency\": "
                 "\"USD\", \"time_zone\": \"Mars/Olympus\"}"));
    CHECK (s_is (c, PM_EINVAL, "no_show_fee_minor", set, "{\"site_id\": \"north\", "
                 "\"currency\": \"USD\", \"time_zone\": \"UTC\", \"no_show_fee_minor\": -1}"));
    CHECK (s_is (c, PM_EINVAL, "site_id", set, "{\"site_id\": \"no rth\", "
                 "\"currency\": \"USD\", \"time_zone\": \"UTC\"}"));
    CHECK (s_site (c, "north"));
    //  A change needs the version; the currency stays.
    CHECK (s_is (c, PM_EINVAL, "expected_version", set, "{\"site_id\": \"north\", "
                 "\"currency\": \"USD\", \"time_zone\": \"UTC\"}"));
    CHECK (s_is (c, PM_ECONFLICT, "currency", set, "{\"site_id\": \"north\", "
                 "\"currency\": \"EUR\", \"time_zone\": \"UTC\", \"expected_version\": 1}"));
    CHECK (s_is (c, PM_ECONFLICT, "expected_version", set, "{\"site_id\": \"north\", "
                 "\"currency\": \"USD\", \"time_zone\": \"UTC\", \"expected_version\": 7}"));
    json_t *r = itest_req (c, 0, NULL, set, "{\"site_id\": \"north\", \"currency\": \"USD\", "
                       "\"time_zone\": \"America/New_York\", \"no_show_fee_minor\": 3000, "
                       "\"late_cancel_fee_minor\": 1500, \"late_cancel_minutes\": 1440, "
                       "\"expected_version\": 1}");
    CHECK (r && s_num (r, "version") == 2 && s_num (r, "no_show_fee_minor") == 3000);
    json_decref (r);

    //  Prices: the site's currency only; a new price from an instant on.
    const char *sp = "finance.SetPrice";
    CHECK (s_is (c, PM_EINVAL, "price.currency", sp, "{\"price\": {\"site_id\": \"north\", "
                 "\"code\": \"checkup\", \"amount_minor\": 100, \"currency\": \"EUR\", "
                 "\"valid_from\": 0}}"));
    CHECK (s_is (c, PM_EINVAL, "price.amount_minor", sp, "{\"price\": {\"site_id\": "
                 "\"north\", \"code\": \"checkup\", \"amount_minor\": 10000000000001, "
                 "\"currency\": \"USD\", \"valid_from\": 0}}"));
    CHECK (s_is (c, PM_EINVAL, "price.code", sp, "{\"price\": {\"site_id\": \"north\", "
                 "\"amount_minor\": 100, \"currency\": \"USD\", \"valid_from\": 0}}"));
    CHECK (s_is (c, PM_ENOTFOUND, "price.site_id", sp, "{\"price\": {\"site_id\": "
                 "\"south\", \"code\": \"x\", \"amount_minor\": 100, \"currency\": \"USD\", "
                 "\"valid_from\": 0}}"));
    CHECK (s_is (c, 0, NULL, sp, "{\"price\": {\"site_id\": \"north\", \"code\": "
                 "\"checkup\", \"amount_minor\": 12000, \"currency\": \"USD\", "
                 "\"valid_from\": 1000}}"));
    CHECK (s_is (c, 0, NULL, sp, "{\"price\": {\"site_id\": \"north\", \"code\": "
                 "\"checkup\", \"amount_minor\": 13500, \"currency\": \"USD\", "
                 "\"valid_from\": 5000}}"));
    CHECK (s_is (c, 0, NULL, sp, "{\"price\": {\"site_id\": \"north\", \"code\": "
                 "\"xray\", \"amount_minor\": 9000, \"currency\": \"USD\", "
                 "\"valid_from\": 1000}}"));
    r = itest_req (c, 0, NULL, "finance.ListPrices", "{\"site_id\": \"north\", \"at\": 4999}");
    CHECK (r && json_array_size (itest_json_at (r, "prices")) == 2);
    CHECK (s_num (r, "prices[0].amount_minor") == 12000);
    CHECK (strcmp (itest_json_str (r, "prices[1].code"), "xray") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.ListPrices", "{\"site_id\": \"north\", \"at\": 5000}");
    CHECK (r && s_num (r, "prices[0].amount_minor") == 13500);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.ListPrices", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "prices")) == 4);
    json_decref (r);

    //  Roles and sites.
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *east = itest_client_as (&svc, "mgr-east");
    CHECK (s_is (desk, PM_EFORBIDDEN, NULL, sp, "{\"price\": {\"site_id\": \"north\", "
                 "\"code\": \"x\", \"amount_minor\": 1, \"currency\": \"USD\", "
                 "\"valid_from\": 0}}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "price.site_id", sp, "{\"price\": {\"site_id\": "
                 "\"north\", \"code\": \"x\", \"amount_minor\": 1, \"currency\": \"USD\", "
                 "\"valid_from\": 0}}"));
    CHECK (s_is (desk, 0, NULL, "finance.ListPrices", "{\"site_id\": \"north\"}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", "finance.GetSite", "{\"site_id\": \"north\"}"));
    pm_client_destroy (&desk);
    pm_client_destroy (&east);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Charges from scheduling's stream: a fulfilled appointment is charged at
//  its type's price then, a no-show and a late cancellation the site's
//  fees, an early cancellation nothing; exactly once per appointment when
//  events are re-sent, after finance restarts, and when scheduling's
//  store is replaced and its stream replayed from seq 1 (an invoiced or
//  voided charge stays as it is).
static void
s_test_charges_exactly_once (void)
{
    itest_svc_t emi, fin;
    CHECK (s_start_following (&emi, "scheduling", &fin));
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_site (fc, "north"));
    CHECK (s_is (fc, 0, NULL, "finance.SetPrice", "{\"price\": {\"site_id\": \"north\", "
                 "\"code\": \"checkup\", \"amount_minor\": 15000, \"currency\": \"USD\", "
                 "\"valid_from\": 2000000000000}}"));
    char apt[8][PM_ID_MAX];
    for (int i = 0; i < 8; i++) {
        pm_id_new ("apt", pm_clock_wall_ms (), apt[i]);
    }
    int64_t now = pm_clock_wall_ms ();
    const char *ful = "scheduling.appointment.fulfilled";
    const char *nos = "scheduling.appointment.noshow";
    const char *can = "scheduling.appointment.cancelled";
    CHECK (s_emit_apt (ec, "scheduling.appointment.booked", apt[0], PAT, "north",
                       "checkup", now - DAY_MS));
    CHECK (s_emit_apt (ec, ful, apt[0], PAT, "north", "checkup", now - DAY_MS));
    CHECK (s_emit_apt (ec, ful, apt[0], PAT, "north", "checkup", now - DAY_MS)); //  re-sent
    CHECK (s_emit_apt (ec, nos, apt[1], PAT, "north", "checkup", now - HOUR_MS));
    CHECK (s_emit_apt (ec, can, apt[2], PAT, "north", "checkup", now + HOUR_MS)); //  late
    CHECK (s_emit_apt (ec, can, apt[3], PAT, "north", "checkup", now + 3 * DAY_MS));
    CHECK (s_emit_apt (ec, ful, apt[4], PAT, "north", "botox", now - DAY_MS)); //  no price
    CHECK (s_emit_apt (ec, ful, NULL, PAT, "north", "checkup", now));          //  garbage
    CHECK (s_emit_apt (ec, ful, apt[5], PAT, "north", "checkup", 2000000000000 + 1));
    CHECK (s_wait_applied (fc, "scheduling", NULL, 9) == 1); //  logged, passed
    CHECK (s_count_events (fc, "finance.charge.raised") == 5);
    json_t *r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}",
                       apt[0]);
    CHECK (r && s_num (r, "amount_minor") == 12000 && s_num (r, "version") == 1);
    CHECK (strcmp (itest_json_str (r, "status"), "CHARGE_BILLABLE") == 0);
    CHECK (strcmp (itest_json_str (r, "kind"), "CHARGE_VISIT") == 0);
    CHECK (strcmp (itest_json_str (r, "currency"), "USD") == 0);
    char charge0[PM_ID_MAX];
    snprintf (charge0, sizeof charge0, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", apt[1]);
    CHECK (r && s_num (r, "amount_minor") == 2500);
    CHECK (strcmp (itest_json_str (r, "kind"), "CHARGE_NO_SHOW_FEE") == 0);
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", apt[2]);
    CHECK (r && s_num (r, "amount_minor") == 1500);
    json_decref (r);
    r = itest_req (fc, PM_ENOTFOUND, "appointment_id", "finance.GetCharge",
               "{\"appointment_id\": \"%s\"}", apt[3]);
    CHECK (r);
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", apt[4]);
    CHECK (r && strcmp (itest_json_str (r, "status"), "CHARGE_NOT_BILLABLE") == 0);
    CHECK (strstr (itest_json_str (r, "reason"), "no price for botox"));
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", apt[5]);
    CHECK (r && s_num (r, "amount_minor") == 15000); //  the price then
    json_decref (r);
    //  A voided charge stays voided through replays.
    r = itest_req (fc, 0, NULL, "finance.VoidCharge", "{\"charge_id\": \"chg_%s\", "
               "\"reason\": \"waived by the practice manager\"}", apt[1] + 4);
    CHECK (r && strcmp (itest_json_str (r, "status"), "CHARGE_VOIDED") == 0);
    json_decref (r);

    //  Restart: the cursor is durable; nothing is charged twice.
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    CHECK (itest_start (&fin) == 0);
    fc = itest_client (&fin);
    CHECK (s_emit_apt (ec, ful, apt[6], PAT, "north", "checkup", now - DAY_MS));
    CHECK (s_wait_applied (fc, "scheduling", NULL, 10) == 0);
    CHECK (s_count_events (fc, "finance.charge.raised") == 6);

    //  Scheduling's store replaced: its new stream replays every
    //  appointment from seq 1; none is charged again.
    char *old_stream = s_stream_id (ec);
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    itest_signal (&emi, SIGTERM);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", emi.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&emi) == 0);
    CHECK (itest_start (&fin) == 0);
    ec = itest_client (&emi);
    fc = itest_client (&fin);
    char *new_stream = s_stream_id (ec);
    CHECK (old_stream && new_stream && strcmp (old_stream, new_stream) != 0);
    for (int i = 0; i < 7; i++) {
        const char *type = i == 1 ? nos : i == 2 || i == 3 ? can : ful;
        CHECK (s_emit_apt (ec, type, apt[i], PAT, "north", i == 4 ? "botox" : "checkup",
                           i == 2 ? now + HOUR_MS : i == 3 ? now + 3 * DAY_MS
                                                          : now - DAY_MS));
    }
    CHECK (s_emit_apt (ec, ful, apt[7], PAT, "north", "checkup", now - DAY_MS));
    CHECK (s_wait_applied (fc, "scheduling", new_stream, 8) == 0);
    CHECK (s_count_events (fc, "finance.charge.raised") == 7);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"charge_id\": \"chg_%s\"}", apt[1] + 4);
    CHECK (r && strcmp (itest_json_str (r, "status"), "CHARGE_VOIDED") == 0 && s_num (r, "version") == 2);
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.ListCharges", "{\"site_id\": \"north\", "
               "\"patient_id\": \"%s\"}", PAT);
    CHECK (r && json_array_size (itest_json_at (r, "charges")) == 7);
    json_decref (r);
    free (old_stream);
    free (new_stream);
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&emi);
}

//  --------------------------------------------------------------------------
//  Manual charges: priced from the list at the service time or given a
//  unit price, quantities multiply exactly, bad input is named; a void
//  needs a reason and happens once; charges are audited and site-scoped.
static void
s_test_manual_charges (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("desk-east", "front-desk", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north"));
    pm_client_t *desk = itest_client_as (&svc, "desk");
    const char *add = "finance.AddCharge";
    json_t *r = itest_req (desk, 0, NULL, add, "{\"site_id\": \"north\", \"patient_id\": "
                       "\"%s\", \"code\": \"checkup\", \"quantity\": 3}", PAT);
    CHECK (r && s_num (r, "amount_minor") == 36000 && s_num (r, "unit_minor") == 12000);
    CHECK (strcmp (itest_json_str (r, "kind"), "CHARGE_MANUAL") == 0);
    char id[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (desk, 0, NULL, add, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
               "\"code\": \"bandage\", \"unit_minor\": 199, \"quantity\": 7, "
               "\"description\": \"Bandages\"}", PAT);
    CHECK (r && s_num (r, "amount_minor") == 1393);
    json_decref (r);
    CHECK (s_is (desk, PM_EINVAL, "code", add, "{\"site_id\": \"north\", \"patient_id\": "
                 "\"pat_01m8e8rx5n3r2py41feft8x8rn\", \"code\": \"bandage\"}"));
    CHECK (s_is (desk, PM_EINVAL, "patient_id", add, "{\"site_id\": \"north\", "
                 "\"patient_id\": \"bob\", \"code\": \"checkup\"}"));
    CHECK (s_is (desk, PM_EINVAL, "quantity", add, "{\"site_id\": \"north\", "
                 "\"patient_id\": \"pat_01m8e8rx5n3r2py41feft8x8rn\", \"code\": "
                 "\"checkup\", \"quantity\": 0}"));
    CHECK (s_is (desk, PM_EINVAL, "quantity", add, "{\"site_id\": \"north\", "
                 "\"patient_id\": \"pat_01m8e8rx5n3r2py41feft8x8rn\", \"code\": \"gold\", "
                 "\"unit_minor\": 10000000000000, \"quantity\": 2}"));
    CHECK (s_is (desk, PM_EINVAL, "unit_minor", add, "{\"site_id\": \"north\", "
                 "\"patient_id\": \"pat_01m8e8rx5n3r2py41feft8x8rn\", \"code\": \"x\", "
                 "\"unit_minor\": -5}"));
    pm_client_t *east = itest_client_as (&svc, "desk-east");
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", add, "{\"site_id\": \"north\", "
                 "\"patient_id\": \"pat_01m8e8rx5n3r2py41feft8x8rn\", \"code\": "
                 "\"checkup\"}"));
    r = itest_req (east, PM_EFORBIDDEN, "charge_id", "finance.GetCharge",
               "{\"charge_id\": \"%s\"}", id);
    CHECK (r);
    json_decref (r);
    //  Void: a reason, once.
    const char *vd = "finance.VoidCharge";
    r = itest_req (desk, PM_EINVAL, "reason", vd, "{\"charge_id\": \"%s\"}", id);
    CHECK (r);
    json_decref (r);
    r = itest_req (desk, PM_ECONFLICT, "expected_version", vd, "{\"charge_id\": \"%s\", "
               "\"reason\": \"entered twice\", \"expected_version\": 4}", id);
    CHECK (r);
    json_decref (r);
    r = itest_req (desk, 0, NULL, vd, "{\"charge_id\": \"%s\", \"reason\": \"entered twice\"}",
               id);
    CHECK (r && strcmp (itest_json_str (r, "reason"), "entered twice") == 0);
    json_decref (r);
    r = itest_req (desk, PM_ECONFLICT, "charge_id", vd, "{\"charge_id\": \"%s\", "
               "\"reason\": \"again\"}", id);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (desk, PM_ENOTFOUND, "charge_id", vd, "{\"charge_id\": "
                 "\"chg_01m8e8rx5n3r2py41feft8x8rn\", \"reason\": \"x\"}"));
    //  Every access to the charge is on the audit log, the refused one too.
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    CHECK (s_audits (aud, id, "finance.AddCharge", PM__CODE__OK) == 1);
    CHECK (s_audits (aud, id, "finance.GetCharge", PM__CODE__EFORBIDDEN) == 1);
    CHECK (s_audits (aud, id, "finance.VoidCharge", PM__CODE__OK) == 1);
    pm_client_destroy (&aud);
    pm_client_destroy (&east);
    pm_client_destroy (&desk);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A visit is priced by its type's price code (what scheduling copies onto
//  the appointment for finance), else by the type's id.
static void
s_test_priced_by_code (void)
{
    itest_svc_t emi, fin;
    CHECK (s_start_following (&emi, "scheduling", &fin));
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_site (fc, "north"));
    const char *price = "{\"price\": {\"site_id\": \"north\", \"code\": \"%s\", "
                        "\"amount_minor\": %d, \"currency\": \"USD\", \"valid_from\": 0}}";
    const char *typed = "atp_01m8e8rx5n3r2py41feft8x8at", *other = "atp_01m8e8rx5n3r2py41feft8x8ot";
    json_t *r = itest_req (fc, 0, NULL, "finance.SetPrice", price, "cons-30", 9000);
    CHECK (r);
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.SetPrice", price, other, 4000);
    CHECK (r);
    json_decref (r);
    char a1[PM_ID_MAX], a2[PM_ID_MAX];
    int64_t now = pm_clock_wall_ms ();
    pm_id_new ("apt", now, a1);
    pm_id_new ("apt", now, a2);
    const char *ful = "scheduling.appointment.fulfilled";
    CHECK (s_emit_priced (ec, ful, a1, PAT, "north", typed, "cons-30", now - DAY_MS));
    CHECK (s_emit_priced (ec, ful, a2, PAT, "north", other, "unpriced", now - DAY_MS));
    CHECK (s_wait_applied (fc, "scheduling", NULL, 2) == 0);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", a1);
    CHECK (r && s_num (r, "amount_minor") == 9000);
    CHECK (r && strcmp (itest_json_str (r, "code"), "cons-30") == 0);
    json_decref (r);
    r = itest_req (fc, 0, NULL, "finance.GetCharge", "{\"appointment_id\": \"%s\"}", a2);
    CHECK (r && s_num (r, "amount_minor") == 4000);
    CHECK (r && strcmp (itest_json_str (r, "code"), other) == 0);
    json_decref (r);
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&emi);
}

//  A charge by hand: its id (out), or false.
static bool
s_charge (pm_client_t *c, const char *patient, const char *code, long long unit,
          char *out)
{
    json_t *r = unit >= 0
                    ? itest_req (c, 0, NULL, "finance.AddCharge", "{\"site_id\": \"north\", "
                             "\"patient_id\": \"%s\", \"code\": \"%s\", \"unit_minor\": %lld}",
                             patient, code, unit)
                    : itest_req (c, 0, NULL, "finance.AddCharge", "{\"site_id\": \"north\", "
                             "\"patient_id\": \"%s\", \"code\": \"%s\"}", patient, code);
    if (r) {
        snprintf (out, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r != NULL;
}

//  A draft invoice of the named charge (all billable ones if NULL).
static json_t *
s_invoice (pm_client_t *c, const char *patient, const char *charge)
{
    if (charge) {
        return itest_req (c, 0, NULL, "finance.CreateInvoice", "{\"site_id\": \"north\", "
                      "\"patient_id\": \"%s\", \"charge_ids\": [\"%s\"]}", patient, charge);
    }
    return itest_req (c, 0, NULL, "finance.CreateInvoice", "{\"site_id\": \"north\", "
                  "\"patient_id\": \"%s\"}", patient);
}

//  --------------------------------------------------------------------------
//  A payment that did not clear (a recalled transfer): finance reverses it;
//  what it paid is due again (the balanced invoice issued again), the
//  credit it left is taken back, the account owes it again and the day
//  book gives it back out; not twice, not by the front desk, not once its
//  credit is spent.
static void
s_test_payment_reversal (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("fin", "finance", "north");
    pm_client_t *admin = itest_client (&svc);
    CHECK (s_site (admin, "north"));
    pm_client_t *c = itest_client_as (&svc, "desk");
    pm_client_t *fin = itest_client_as (&svc, "fin");
    char chk[PM_ID_MAX], inv[PM_ID_MAX], pay1[PM_ID_MAX], pay2[PM_ID_MAX];
    CHECK (s_charge (c, PAT, "xray", 5000, chk));
    json_t *r = s_invoice (c, PAT, chk);
    CHECK (r);
    snprintf (inv, sizeof inv, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r);
    json_decref (r);
    //  A transfer of 60.00 pays the 50.00 and leaves 10.00 credit.
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\", \"invoice_id\": \"%s\", \"mode\": \"BANK_TRANSFER\", "
                   "\"amount_minor\": 6000, \"currency\": \"USD\"}", PAT, inv);
    CHECK (r && s_num (r, "applied_minor") == 5000 && s_num (r, "credit_minor") == 1000);
    snprintf (pay1, sizeof pay1, "%s", r ? itest_json_str (r, "id") : "");
    char today[16];
    snprintf (today, sizeof today, "%s", r ? itest_json_str (r, "business_date") : "");
    json_decref (r);
    const char *rev = "finance.ReversePayment";
    CHECK (s_is (c, PM_EFORBIDDEN, NULL, rev, "{}"));
    r = itest_req (fin, PM_EINVAL, "reason", rev, "{\"payment_id\": \"%s\"}", pay1);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (fin, PM_EINVAL, "payment_id", rev, "{\"reason\": \"bounced\"}"));
    r = itest_req (fin, 0, NULL, rev, "{\"payment_id\": \"%s\", \"reason\": \"transfer "
                   "recalled by the bank\", \"expected_version\": 1}", pay1);
    CHECK (r && s_num (r, "version") == 2 && s_num (r, "reversed_at") > 0);
    CHECK (r && strcmp (itest_json_str (r, "reversal_date"), today) == 0);
    json_decref (r);
    r = itest_req (fin, PM_ECONFLICT, "payment_id", rev, "{\"payment_id\": \"%s\", "
                   "\"reason\": \"again\"}", pay1);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INVOICE_ISSUED") == 0);
    CHECK (r && s_num (r, "due_minor") == 5000 && s_num (r, "paid_minor") == 0);
    CHECK (r && strcmp (itest_json_str (r, "payment_state"), "UNPAID") == 0);
    json_decref (r);
    const char *acct = "{\"site_id\": \"north\", \"patient_id\": "
                       "\"pat_01m8e8rx5n3r2py41feft8x8rn\"}";
    r = itest_req (c, 0, NULL, "finance.GetAccount", "%s", acct);
    CHECK (r && s_num (r, "balance_minor") == 5000 && s_num (r, "credit_minor") == 0);
    json_decref (r);
    r = itest_req (fin, 0, NULL, "finance.GetDay", "{\"site_id\": \"north\", \"date\": "
                   "\"%s\"}", today);
    CHECK (r && s_num (r, "lines[0].expected_minor") == 0);
    json_decref (r);
    //  Credit spent before the money bounced: refused, nothing changed.
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\", \"mode\": \"BANK_TRANSFER\", \"amount_minor\": 3000, "
                   "\"currency\": \"USD\"}", PAT);
    CHECK (r && s_num (r, "credit_minor") == 3000);
    snprintf (pay2, sizeof pay2, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.ApplyCredit", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r && s_num (r, "due_minor") == 2000);
    json_decref (r);
    r = itest_req (fin, PM_ECONFLICT, "payment_id", rev, "{\"payment_id\": \"%s\", "
                   "\"reason\": \"bounced\"}", pay2);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetAccount", "%s", acct);
    CHECK (r && s_num (r, "balance_minor") == 2000 && s_num (r, "credit_minor") == 0);
    json_decref (r);
    pm_client_destroy (&fin);
    pm_client_destroy (&c);
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Invoices and payments end to end: lines from charges, a percentage
//  discount rounded half up, gap-free numbers on issue (a refused issue
//  takes none), FHIR statuses and the payment state, partial payments,
//  overpayment kept as credit and applied later, write-offs and refunds
//  by finance only, the account balance and the statement.
static void
s_test_invoices_and_payments (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("fin", "finance", "north");
    itest_principal ("desk-east", "front-desk", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *admin = itest_client (&svc);
    CHECK (s_site (admin, "north"));
    pm_client_t *c = itest_client_as (&svc, "desk");
    pm_client_t *fin = itest_client_as (&svc, "fin");
    int64_t t0 = pm_clock_wall_ms ();
    char chk[PM_ID_MAX], band[PM_ID_MAX], xray[PM_ID_MAX], misc[PM_ID_MAX];
    CHECK (s_charge (c, PAT, "checkup", -1, chk));
    CHECK (s_charge (c, PAT, "bandage", 1050, band));
    json_t *r = s_invoice (c, PAT, NULL);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INVOICE_DRAFT") == 0);
    CHECK (json_array_size (itest_json_at (r, "lines")) == 2 && s_num (r, "total_minor") == 13050);
    CHECK (s_num (r, "number") == 0);
    char inv1[PM_ID_MAX];
    snprintf (inv1, sizeof inv1, "%s", itest_json_str (r, "id"));
    json_decref (r);
    //  The charges are held by the draft.
    r = itest_req (c, PM_EINVAL, "charge_ids", "finance.CreateInvoice", "{\"site_id\": "
               "\"north\", \"patient_id\": \"%s\"}", PAT);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "charge_ids[0]", "finance.CreateInvoice", "{\"site_id\": "
               "\"north\", \"patient_id\": \"%s\", \"charge_ids\": [\"%s\"]}", PAT, chk);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetCharge", "{\"charge_id\": \"%s\"}", chk);
    CHECK (r && strcmp (itest_json_str (r, "invoice_id"), inv1) == 0);
    json_decref (r);

    //  Discounts: 12.5% of 10.50 is 1.3125, rounded half up to 1.31.
    const char *dc = "finance.Discount";
    r = itest_req (c, PM_EINVAL, "reason", dc, "{\"invoice_id\": \"%s\", \"charge_id\": \"%s\", "
               "\"percent_bp\": 1250}", inv1, band);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "amount_minor", dc, "{\"invoice_id\": \"%s\", \"charge_id\": "
               "\"%s\", \"amount_minor\": 1051, \"reason\": \"loyalty\"}", inv1, band);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "percent_bp", dc, "{\"invoice_id\": \"%s\", \"charge_id\": "
               "\"%s\", \"percent_bp\": 10001, \"reason\": \"loyalty\"}", inv1, band);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, dc, "{\"invoice_id\": \"%s\", \"charge_id\": \"%s\", "
               "\"percent_bp\": 1250, \"reason\": \"loyalty\"}", inv1, band);
    CHECK (r && s_num (r, "lines[1].discount_minor") == 131);
    CHECK (s_num (r, "lines[1].net_minor") == 919 && s_num (r, "total_minor") == 12919);
    CHECK (s_num (r, "discount_minor") == 131 && s_num (r, "gross_minor") == 13050);
    json_decref (r);

    //  Issue: number 1; no more discounts; not twice.
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv1);
    CHECK (r && s_num (r, "number") == 1 && strcmp (itest_json_str (r, "number_text"), "north-000001") == 0);
    CHECK (strcmp (itest_json_str (r, "status"), "INVOICE_ISSUED") == 0);
    CHECK (strcmp (itest_json_str (r, "payment_state"), "UNPAID") == 0 && s_num (r, "due_minor") == 12919);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetCharge", "{\"charge_id\": \"%s\"}", chk);
    CHECK (r && strcmp (itest_json_str (r, "status"), "CHARGE_BILLED") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", dc, "{\"invoice_id\": \"%s\", \"charge_id\": "
               "\"%s\", \"exemption\": true, \"reason\": \"charity\"}", inv1, band);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", "finance.IssueInvoice", "{\"invoice_id\": "
               "\"%s\"}", inv1);
    CHECK (r);
    json_decref (r);
    //  A draft entered in error gives its charge back and takes no number.
    CHECK (s_charge (c, PAT, "misc", 100, misc));
    r = s_invoice (c, PAT, misc);
    CHECK (r);
    char bad[PM_ID_MAX];
    snprintf (bad, sizeof bad, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "reason", "finance.MarkInError", "{\"invoice_id\": \"%s\"}", bad);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.MarkInError", "{\"invoice_id\": \"%s\", \"reason\": "
               "\"wrong patient\"}", bad);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INVOICE_ENTERED_IN_ERROR") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", "finance.IssueInvoice", "{\"invoice_id\": "
               "\"%s\"}", bad);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.VoidCharge", "{\"charge_id\": \"%s\", \"reason\": "
               "\"not ours\"}", misc);
    CHECK (r);
    json_decref (r);
    CHECK (s_charge (c, PAT, "xray", 5000, xray));
    r = s_invoice (c, PAT, xray);
    CHECK (r);
    char inv2[PM_ID_MAX];
    snprintf (inv2, sizeof inv2, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv2);
    CHECK (r && s_num (r, "number") == 2); //  no gap
    json_decref (r);

    //  Payments: bad input; partial; overpayment kept as credit.
    const char *pay = "finance.RecordPayment";
    r = itest_req (c, PM_EINVAL, "currency", pay, "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"invoice_id\": \"%s\", \"mode\": \"CARD\", \"amount_minor\": 5000, "
               "\"currency\": \"EUR\"}", PAT, inv1);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "mode", pay, "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"amount_minor\": 5000, \"currency\": \"USD\"}", PAT);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "amount_minor", pay, "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"mode\": \"CASH\", \"amount_minor\": 0, \"currency\": \"USD\"}", PAT);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", pay, "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"invoice_id\": \"%s\", \"mode\": \"CASH\", \"amount_minor\": 10, "
               "\"currency\": \"USD\"}", PAT, bad);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, pay, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
               "\"invoice_id\": \"%s\", \"mode\": \"CARD\", \"amount_minor\": 5000, "
               "\"currency\": \"USD\", \"reference\": \"slip 1\"}", PAT, inv1);
    CHECK (r && s_num (r, "applied_minor") == 5000 && s_num (r, "credit_minor") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetInvoice", "{\"invoice_id\": \"%s\"}", inv1);
    CHECK (r && strcmp (itest_json_str (r, "payment_state"), "PARTIAL") == 0);
    CHECK (s_num (r, "due_minor") == 7919);
    json_decref (r);
    r = itest_req (c, 0, NULL, pay, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
               "\"invoice_id\": \"%s\", \"mode\": \"CASH\", \"amount_minor\": 10000, "
               "\"currency\": \"USD\"}", PAT, inv1);
    CHECK (r && s_num (r, "applied_minor") == 7919 && s_num (r, "credit_minor") == 2081);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetInvoice", "{\"invoice_id\": \"%s\"}", inv1);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INVOICE_BALANCED") == 0);
    CHECK (strcmp (itest_json_str (r, "payment_state"), "PAID") == 0 && s_num (r, "due_minor") == 0);
    json_decref (r);
    const char *acct = "{\"site_id\": \"north\", \"patient_id\": "
                       "\"pat_01m8e8rx5n3r2py41feft8x8rn\"}";
    r = itest_req (c, 0, NULL, "finance.GetAccount", "%s", acct);
    CHECK (r && s_num (r, "balance_minor") == 2919 && s_num (r, "credit_minor") == 2081);
    json_decref (r);
    //  The credit pays part of the second invoice.
    r = itest_req (c, PM_EINVAL, "amount_minor", "finance.ApplyCredit", "{\"invoice_id\": "
               "\"%s\", \"amount_minor\": 3000}", inv2);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.ApplyCredit", "{\"invoice_id\": \"%s\"}", inv2);
    CHECK (r && s_num (r, "paid_minor") == 2081 && s_num (r, "due_minor") == 2919);
    CHECK (strcmp (itest_json_str (r, "payment_state"), "PARTIAL") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", "finance.ApplyCredit", "{\"invoice_id\": "
               "\"%s\"}", inv2);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "invoice_id", "finance.CancelInvoice", "{\"invoice_id\": "
               "\"%s\", \"reason\": \"x\"}", inv2);
    CHECK (r);
    json_decref (r);

    //  Credit notes: finance only; bounded by what is due / was paid.
    const char *cn = "finance.IssueCreditNote";
    r = itest_req (c, PM_EFORBIDDEN, NULL, cn, "{\"invoice_id\": \"%s\", \"kind\": "
               "\"CREDIT_WRITE_OFF\", \"amount_minor\": 919, \"reason\": \"hardship\"}", inv2);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, PM_EINVAL, "amount_minor", cn, "{\"invoice_id\": \"%s\", \"kind\": "
               "\"CREDIT_WRITE_OFF\", \"amount_minor\": 2920, \"reason\": \"hardship\"}", inv2);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, 0, NULL, cn, "{\"invoice_id\": \"%s\", \"kind\": \"CREDIT_WRITE_OFF\", "
               "\"amount_minor\": 919, \"reason\": \"hardship\"}", inv2);
    CHECK (r && s_num (r, "amount_minor") == 919);
    json_decref (r);
    r = itest_req (fin, PM_EINVAL, "amount_minor", cn, "{\"invoice_id\": \"%s\", \"kind\": "
               "\"CREDIT_REFUND\", \"mode\": \"CASH\", \"amount_minor\": 12920, \"reason\": "
               "\"complaint upheld\"}", inv1);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, PM_EINVAL, "mode", cn, "{\"invoice_id\": \"%s\", \"kind\": "
               "\"CREDIT_REFUND\", \"amount_minor\": 3000, \"reason\": \"complaint upheld\"}",
               inv1);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, 0, NULL, cn, "{\"invoice_id\": \"%s\", \"kind\": \"CREDIT_REFUND\", "
               "\"mode\": \"CASH\", \"amount_minor\": 3000, \"reason\": \"complaint upheld\"}",
               inv1);
    CHECK (r && strncmp (itest_json_str (r, "payment_id"), "pay_", 4) == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetInvoice", "{\"invoice_id\": \"%s\"}", inv1);
    CHECK (r && s_num (r, "paid_minor") == 9919 && s_num (r, "credited_minor") == 3000);
    CHECK (s_num (r, "refunded_minor") == 3000 && s_num (r, "due_minor") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetAccount", "%s", acct);
    CHECK (r && s_num (r, "balance_minor") == 2000 && s_num (r, "credit_minor") == 0);
    json_decref (r);
    //  The statement: every entry, opening 0, closing the balance.
    r = itest_req (c, 0, NULL, "finance.Statement", "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"from\": %lld, \"to\": %lld}", PAT, (long long) t0 - 1000,
               (long long) pm_clock_wall_ms () + DAY_MS);
    CHECK (r && json_array_size (itest_json_at (r, "entries")) == 7);
    CHECK (s_num (r, "opening_minor") == 0 && s_num (r, "closing_minor") == 2000);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.Statement", "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"from\": %lld, \"to\": %lld}", PAT,
               (long long) pm_clock_wall_ms () + DAY_MS, (long long) pm_clock_wall_ms () + 2 * DAY_MS);
    CHECK (r && json_array_size (itest_json_at (r, "entries")) == 0);
    CHECK (s_num (r, "opening_minor") == 2000 && s_num (r, "closing_minor") == 2000);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "to", "finance.Statement", "{\"site_id\": \"north\", "
               "\"patient_id\": \"%s\", \"from\": 5, \"to\": 5}", PAT);
    CHECK (r);
    json_decref (r);
    //  Other sites see nothing; every read is audited.
    pm_client_t *east = itest_client_as (&svc, "desk-east");
    r = itest_req (east, PM_EFORBIDDEN, "invoice_id", "finance.GetInvoice", "{\"invoice_id\": "
               "\"%s\"}", inv1);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", "finance.GetAccount", acct));
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    CHECK (s_audits (aud, inv1, "finance.GetInvoice", PM__CODE__OK) == 3);
    CHECK (s_audits (aud, inv1, "finance.GetInvoice", PM__CODE__EFORBIDDEN) == 1);
    CHECK (s_audits (aud, inv1, "finance.IssueInvoice", PM__CODE__OK) == 1);
    CHECK (s_audits (aud, PAT, "finance.GetAccount", PM__CODE__OK) == 2);
    CHECK (s_count_events (admin, "finance.invoice.issued") == 2);
    pm_client_destroy (&aud);
    pm_client_destroy (&east);
    pm_client_destroy (&fin);
    pm_client_destroy (&c);
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Daily close: expected per mode from the day's payments, counted with a
//  variance that needs a note, closed once and never changed: money after
//  the close lands on the next day. A month is locked only when over; a
//  locked month's days cannot be closed.
static void
s_test_daily_close (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north"));
    const char *pay = "finance.RecordPayment";
    json_t *r = itest_req (c, 0, NULL, pay, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
                       "\"mode\": \"CASH\", \"amount_minor\": 1000, \"currency\": \"USD\"}", PAT);
    CHECK (r);
    char today[16], tomorrow[16];
    snprintf (today, sizeof today, "%s", itest_json_str (r, "business_date"));
    json_decref (r);
    CHECK (strlen (today) == 10);
    r = itest_req (c, 0, NULL, pay, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
               "\"mode\": \"CARD\", \"amount_minor\": 2500, \"currency\": \"USD\"}", PAT);
    CHECK (r && strcmp (itest_json_str (r, "business_date"), today) == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetDay", "{\"site_id\": \"north\", \"date\": \"%s\"}",
               today);
    CHECK (r && s_num (r, "lines[0].expected_minor") == 1000);
    CHECK (s_num (r, "lines[1].expected_minor") == 2500 && s_num (r, "payments") == 2);
    json_decref (r);
    pm_client_t *desk = itest_client_as (&svc, "desk");
    const char *close = "finance.CloseDay";
    r = itest_req (desk, PM_EFORBIDDEN, NULL, close, "{\"site_id\": \"north\", \"date\": \"%s\"}",
               today);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (c, PM_EINVAL, "date", close, "{\"site_id\": \"north\", \"date\": "
                 "\"2999-01-01\"}"));
    CHECK (s_is (c, PM_EINVAL, "date", close, "{\"site_id\": \"north\", \"date\": "
                 "\"2026-02-30\"}"));
    r = itest_req (c, PM_EINVAL, "note", close, "{\"site_id\": \"north\", \"date\": \"%s\", "
               "\"counted\": [{\"mode\": \"CASH\", \"amount_minor\": 900}, {\"mode\": "
               "\"CARD\", \"amount_minor\": 2500}]}", today);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "counted[1].mode", close, "{\"site_id\": \"north\", \"date\": "
               "\"%s\", \"counted\": [{\"mode\": \"CASH\", \"amount_minor\": 900}, {\"mode\": "
               "\"CASH\", \"amount_minor\": 2500}]}", today);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, close, "{\"site_id\": \"north\", \"date\": \"%s\", \"counted\": "
               "[{\"mode\": \"CASH\", \"amount_minor\": 900}, {\"mode\": \"CARD\", "
               "\"amount_minor\": 2500}], \"note\": \"one note missing from the till\"}", today);
    CHECK (r && json_is_true (itest_json_at (r, "closed")));
    CHECK (s_num (r, "lines[0].variance_minor") == -100 && s_num (r, "lines[1].variance_minor") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "date", close, "{\"site_id\": \"north\", \"date\": \"%s\", "
               "\"note\": \"again\"}", today);
    CHECK (r);
    json_decref (r);
    CHECK (s_count_events (c, "finance.day.closed") == 1);
    //  After the close: the next open day takes the money.
    r = itest_req (c, 0, NULL, pay, "{\"site_id\": \"north\", \"patient_id\": \"%s\", "
               "\"mode\": \"CASH\", \"amount_minor\": 100, \"currency\": \"USD\", "
               "\"reference\": \"found under the till\"}", PAT);
    CHECK (r && strcmp (itest_json_str (r, "business_date"), today) > 0);
    snprintf (tomorrow, sizeof tomorrow, "%s", itest_json_str (r, "business_date"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetDay", "{\"site_id\": \"north\", \"date\": \"%s\"}",
               today);
    CHECK (r && s_num (r, "lines[0].expected_minor") == 1000 && s_num (r, "payments") == 2);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.GetDay", "{\"site_id\": \"north\", \"date\": \"%s\"}",
               tomorrow);
    CHECK (r && s_num (r, "lines[0].expected_minor") == 100 && !json_is_true (itest_json_at (r, "closed")));
    json_decref (r);
    //  Period lock: only a month that is over; once; its days stay shut.
    char month[8], last_month[16];
    snprintf (month, sizeof month, "%.7s", today);
    int y = atoi (today), m = atoi (today + 5);
    snprintf (last_month, sizeof last_month, "%04d-%02d", m == 1 ? y - 1 : y, m == 1 ? 12 : m - 1);
    r = itest_req (c, PM_EINVAL, "month", "finance.LockPeriod", "{\"site_id\": \"north\", "
               "\"month\": \"%s\"}", month);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (c, PM_EINVAL, "month", "finance.LockPeriod", "{\"site_id\": \"north\", "
                 "\"month\": \"2026-13\"}"));
    r = itest_req (c, 0, NULL, "finance.LockPeriod", "{\"site_id\": \"north\", \"month\": \"%s\"}",
               last_month);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "month", "finance.LockPeriod", "{\"site_id\": \"north\", "
               "\"month\": \"%s\"}", last_month);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "date", close, "{\"site_id\": \"north\", \"date\": "
               "\"%s-15\"}", last_month);
    CHECK (r);
    json_decref (r);
    pm_client_destroy (&desk);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A patient merge on patients' stream re-points the merged record's open
//  charges and invoices and folds its account into the survivor's; the
//  event delivered again changes nothing more.
static void
s_test_merge_repoints (void)
{
    itest_svc_t emi, fin;
    CHECK (s_start_following (&emi, "patients", &fin));
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *c = itest_client (&fin);
    CHECK (s_site (c, "north"));
    const char *A = PAT, *B = "pat_01m8e8rx5n3r2py41feft8x8rp";
    char ch1[PM_ID_MAX], ch2[PM_ID_MAX];
    CHECK (s_charge (c, B, "checkup", -1, ch1));
    CHECK (s_charge (c, B, "xray", 4000, ch2));
    json_t *r = s_invoice (c, B, ch2);
    CHECK (r);
    char inv[PM_ID_MAX];
    snprintf (inv, sizeof inv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", \"patient_id\": "
               "\"%s\", \"mode\": \"CASH\", \"amount_minor\": 500, \"currency\": \"USD\"}", B);
    CHECK (r);
    json_decref (r);
    for (int round = 1; round <= 2; round++) {
        Pm__Patients__Patient sp = PM__PATIENTS__PATIENT__INIT, mp = PM__PATIENTS__PATIENT__INIT;
        sp.id = (char *) A;
        mp.id = (char *) B;
        Pm__Patients__MergeResult mr = PM__PATIENTS__MERGE_RESULT__INIT;
        mr.survivor = &sp;
        mr.merged = &mp;
        mr.reason = "same person";
        uint8_t data[512];
        Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
        emit.type = "patients.patient.merged";
        emit.subject = (char *) A;
        emit.has_data = 1;
        emit.data.data = data;
        emit.data.len = pm__patients__merge_result__pack (&mr, data);
        Pm__Reply *reply = itest_call (ec, "emitter.Emit", &emit.base);
        CHECK (reply && reply->code == 0);
        pm__reply__free_unpacked (reply, NULL);
        CHECK (s_wait_applied (c, "patients", NULL, (uint64_t) round) == 0);
        r = itest_req (c, 0, NULL, "finance.ListCharges", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\"}", A);
        CHECK (r && json_array_size (itest_json_at (r, "charges")) == 1);
        CHECK (strcmp (itest_json_str (r, "charges[0].id"), ch1) == 0);
        CHECK (strcmp (itest_json_str (r, "charges[0].merged_from"), B) == 0);
        json_decref (r);
        r = itest_req (c, 0, NULL, "finance.GetInvoice", "{\"invoice_id\": \"%s\"}", inv);
        CHECK (r && strcmp (itest_json_str (r, "patient_id"), A) == 0);
        CHECK (strcmp (itest_json_str (r, "merged_from"), B) == 0);
        json_decref (r);
        r = itest_req (c, 0, NULL, "finance.GetAccount", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\"}", A);
        CHECK (r && s_num (r, "balance_minor") == 3500 && s_num (r, "credit_minor") == 500);
        json_decref (r);
        r = itest_req (c, 0, NULL, "finance.GetAccount", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\"}", B);
        CHECK (r && s_num (r, "balance_minor") == 0 && s_num (r, "credit_minor") == 0);
        json_decref (r);
    }
    //  The survivor's credit pays the re-pointed invoice.
    r = itest_req (c, 0, NULL, "finance.ApplyCredit", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r && s_num (r, "due_minor") == 3500);
    json_decref (r);
    CHECK (s_count_events (c, "finance.invoice.updated") == 2);
    pm_client_destroy (&ec);
    pm_client_destroy (&c);
    itest_cleanup (&fin);
    itest_cleanup (&emi);
}

//  --------------------------------------------------------------------------
//  Budgets: per site and month, five categories in the site's currency;
//  bad input named by field; a change needs the version read; practice
//  managers and finance of the site only.
static void
s_test_budgets (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("mgr", "practice-manager", "north");
    itest_principal ("fin", "finance", "north");
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("mgr-east", "practice-manager", "east");
    pm_client_t *admin = itest_client (&svc);
    CHECK (s_site (admin, "north"));
    CHECK (s_site (admin, "east"));
    pm_client_t *mgr = itest_client_as (&svc, "mgr");
    pm_client_t *fin = itest_client_as (&svc, "fin");
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *east = itest_client_as (&svc, "mgr-east");
    const char *sb = "finance.SetBudget";
    struct {
        int code;
        const char *field, *json;
    } bad[] = {
        {PM_EINVAL, "month", "{\"site_id\": \"north\", \"month\": \"2026-13\"}"},
        {PM_EINVAL, "month", "{\"site_id\": \"north\"}"},
        {PM_EINVAL, "site_id", "{\"month\": \"2026-06\"}"},
        {PM_EFORBIDDEN, "site_id", "{\"site_id\": \"west\", \"month\": \"2026-06\"}"},
        {PM_EINVAL, "lines[0].category", "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                                         "\"lines\": [{\"amount_minor\": 5}]}"},
        {PM_EINVAL, "lines[1].category", "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                                         "\"lines\": [{\"category\": \"RENT\", \"amount_minor\": 5}, "
                                         "{\"category\": \"RENT\", \"amount_minor\": 6}]}"},
        {PM_EINVAL, "lines[0].amount_minor", "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                                             "\"lines\": [{\"category\": \"RENT\", "
                                             "\"amount_minor\": -1}]}"},
        {PM_EINVAL, "lines[0].amount_minor", "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                                             "\"lines\": [{\"category\": \"RENT\"}]}"},
        {PM_ECONFLICT, "expected_version", "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                                           "\"expected_version\": 3}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK (s_is (mgr, bad[i].code, bad[i].field, sb, bad[i].json));
    }
    CHECK (s_is (admin, PM_ENOTFOUND, "site_id", sb, "{\"site_id\": \"west\", "
                 "\"month\": \"2026-06\"}"));
    CHECK (s_is (admin, PM_ENOTFOUND, "month", "finance.GetBudget",
                 "{\"site_id\": \"north\", \"month\": \"2026-06\"}"));
    json_t *r = itest_req (mgr, 0, NULL, sb, "{\"site_id\": \"north\", \"month\": \"2026-06\", "
                       "\"lines\": [{\"category\": \"PAYROLL\", \"amount_minor\": 12000}, "
                       "{\"category\": \"RENT\", \"amount_minor\": 300000}]}");
    CHECK (r && s_num (r, "version") == 1 && strcmp (itest_json_str (r, "currency"), "USD") == 0);
    CHECK (json_array_size (itest_json_at (r, "lines")) == 5 && s_num (r, "total_minor") == 312000);
    CHECK (strcmp (itest_json_str (r, "lines[0].category"), "PAYROLL") == 0);
    CHECK (strcmp (itest_json_str (r, "lines[3].category"), "RENT") == 0);
    CHECK (s_num (r, "lines[3].amount_minor") == 300000 && s_num (r, "lines[2].amount_minor") == 0);
    CHECK (strcmp (itest_json_str (r, "updated_by"), "mgr") == 0);
    json_decref (r);
    //  A change: the version read, or refused.
    const char *change = "{\"site_id\": \"north\", \"month\": \"2026-06\", \"lines\": "
                         "[{\"category\": \"PAYROLL\", \"amount_minor\": 12000}, "
                         "{\"category\": \"SUPPLIES\", \"amount_minor\": 999}]%s}";
    r = itest_req (fin, PM_EINVAL, "expected_version", sb, change, "");
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, PM_ECONFLICT, "expected_version", sb, change,
               ", \"expected_version\": 2");
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, 0, NULL, sb, change, ", \"expected_version\": 1");
    CHECK (r && s_num (r, "version") == 2 && s_num (r, "total_minor") == 12999);
    CHECK (s_num (r, "lines[3].amount_minor") == 0); //  the whole month replaced
    json_decref (r);
    r = itest_req (mgr, 0, NULL, "finance.GetBudget", "{\"site_id\": \"north\", "
               "\"month\": \"2026-06\"}");
    CHECK (r && s_num (r, "version") == 2 && s_num (r, "lines[2].amount_minor") == 999);
    json_decref (r);
    //  Roles and site scope.
    CHECK (s_is (desk, PM_EFORBIDDEN, NULL, sb, "{\"site_id\": \"north\", \"month\": "
                 "\"2026-07\"}"));
    CHECK (s_is (desk, PM_EFORBIDDEN, NULL, "finance.BudgetReport",
                 "{\"site_id\": \"north\", \"month\": \"2026-06\"}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", "finance.GetBudget",
                 "{\"site_id\": \"north\", \"month\": \"2026-06\"}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", sb, "{\"site_id\": \"north\", \"month\": "
                 "\"2026-07\"}"));
    CHECK (s_is (east, 0, NULL, sb, "{\"site_id\": \"east\", \"month\": \"2026-07\"}"));
    CHECK (s_count_events (admin, "finance.budget.set") == 3);
    pm_client_destroy (&east);
    pm_client_destroy (&desk);
    pm_client_destroy (&fin);
    pm_client_destroy (&mgr);
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

//  The producer's stream position (its high seq), 0 on failure.
static uint64_t
s_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  Creates staffing site `id` (New York, USD) and finance's settings for it.
static bool
s_staffing_site (pm_client_t *sc, pm_client_t *fc, const char *id)
{
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateSite",
                       "{\"site\": {\"id\": \"%s\", \"name\": \"Clinic %s\", "
                       "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}",
                       id, id);
    json_decref (r);
    return r && s_site (fc, id);
}

//  --------------------------------------------------------------------------
//  A site is set up once, in staffing: finance.SetSite takes its currency
//  and zone from there, refuses contradicting ones, and the finance zone
//  (local days and months of the books) follows staffing.UpdateSite; a
//  currency change in staffing is not followed (the books keep theirs).
static void
s_test_site_follows_staffing (void)
{
    itest_svc_t stf, fin;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&fin, "finance", "pm-finance");
    CHECK (s_start (&stf) == 0);
    itest_point_at (&fin, &stf);
    CHECK (s_start (&fin) == 0);
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *fc = itest_client (&fin);
    const char *site = "\"id\": \"west\", \"name\": \"West Clinic\", \"policy\": "
                       "{\"late_cancel_minutes\": 1440}";
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateSite", "{\"site\": {%s, "
                           "\"time_zone\": \"America/Denver\", \"currency\": \"USD\"}}",
                           site);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    //  Contradicting staffing is refused and changes nothing.
    CHECK (s_is (fc, PM_ECONFLICT, "time_zone", "finance.SetSite",
                 "{\"site_id\": \"west\", \"time_zone\": \"Europe/Berlin\"}"));
    CHECK (s_is (fc, PM_ECONFLICT, "currency", "finance.SetSite",
                 "{\"site_id\": \"west\", \"currency\": \"EUR\"}"));
    CHECK (s_is (fc, PM_ENOTFOUND, "site_id", "finance.GetSite", "{\"site_id\": \"west\"}"));
    //  Fees only: currency and zone come from staffing.
    r = itest_req (fc, 0, NULL, "finance.SetSite",
                   "{\"site_id\": \"west\", \"no_show_fee_minor\": 2500}");
    CHECK (r && strcmp (itest_json_str (r, "currency"), "USD") == 0);
    CHECK (r && strcmp (itest_json_str (r, "time_zone"), "America/Denver") == 0);
    CHECK (s_num (r, "version") == 1);
    json_decref (r);
    //  The clinic's zone changes in staffing: finance's follows, fees kept.
    r = itest_req (sc, 0, NULL, "staffing.UpdateSite", "{\"site\": {%s, \"time_zone\": "
                   "\"America/Phoenix\", \"currency\": \"USD\"}, \"expected_version\": 1}",
                   site);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    r = itest_req (fc, 0, NULL, "finance.GetSite", "{\"site_id\": \"west\"}");
    CHECK (r && strcmp (itest_json_str (r, "time_zone"), "America/Phoenix") == 0);
    CHECK (s_num (r, "version") == 2 && s_num (r, "no_show_fee_minor") == 2500);
    json_decref (r);
    //  A currency change is refused by finance's consumer (one apply
    //  failure, logged) and the books keep USD.
    r = itest_req (sc, 0, NULL, "staffing.UpdateSite", "{\"site\": {%s, \"time_zone\": "
                   "\"America/Phoenix\", \"currency\": \"EUR\"}, \"expected_version\": 2}",
                   site);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 1);
    r = itest_req (fc, 0, NULL, "finance.GetSite", "{\"site_id\": \"west\"}");
    CHECK (r && strcmp (itest_json_str (r, "currency"), "USD") == 0 && s_num (r, "version") == 2);
    json_decref (r);
    pm_client_destroy (&sc);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&stf);
}

//  Onboards a nurse at north paid `rate` minor units per hour in
//  `currency`; id into `id`.
static bool
s_nurse (pm_client_t *sc, long long rate, const char *currency, char *id)
{
    json_t *r = itest_req (sc, 0, NULL, "staffing.Onboard",
                       "{\"staff\": {\"name\": {\"family\": \"Doe\", \"given\": [\"Jo\"]}, "
                       "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"north\", "
                       "\"fte_permille\": 1000}], \"employment_type\": \"FULL_TIME\", "
                       "\"pay_rate_minor\": %lld, \"currency\": \"%s\", "
                       "\"start_date\": \"2026-01-05\"}}", rate, currency);
    if (r) {
        snprintf (id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r && pm_id_valid (id, "stf");
}

//  A nurse template at north from `starts` to `ends` (local); id into `id`.
static bool
s_template (pm_client_t *sc, const char *starts, const char *ends, char *id)
{
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateShiftTemplate",
                       "{\"template\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                       "\"name\": \"%s-%s\", \"starts\": \"%s\", \"ends\": \"%s\"}}",
                       starts, ends, starts, ends);
    if (r) {
        snprintf (id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r && pm_id_valid (id, "sht");
}

//  Rosters `staff` on template `tpl` from `from` to `to`; the first
//  shift's id into `first` (if given); how many, or -1.
static int
s_roster (pm_client_t *sc, const char *tpl, const char *from, const char *to,
          const char *staff, char *first)
{
    json_t *r = itest_req (sc, 0, NULL, "staffing.AddShifts",
                       "{\"template_id\": \"%s\", \"from_date\": \"%s\", \"to_date\": "
                       "\"%s\", \"staff_id\": \"%s\"}", tpl, from, to, staff);
    int n = r ? (int) json_array_size (itest_json_at (r, "shifts")) : -1;
    if (r && first) {
        snprintf (first, PM_ID_MAX, "%s", itest_json_str (r, "shifts[0].id"));
    }
    json_decref (r);
    return n;
}

//  The budget report of north for `month` (caller decrefs).
static json_t *
s_bva (pm_client_t *fc, const char *month)
{
    return itest_req (fc, 0, NULL, "finance.BudgetReport", "{\"site_id\": \"north\", "
                  "\"month\": \"%s\"}", month);
}

//  --------------------------------------------------------------------------
//  Payroll actuals from the real pm-staffing: shifts x the staff member's
//  hourly rate, rounded half up per shift, in the month of the local
//  start (a night shift that starts on June 30 in New York is June's,
//  though it starts on July 1 in UTC); an unassigned shift takes its cost
//  away; a restart counts nothing twice; a replaced staffing store
//  rebuilds the actuals from its new stream alone. Budget vs actual with
//  variance and variance % (half away from zero).
static void
s_test_payroll_actuals (void)
{
    itest_svc_t stf, fin;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&fin, "finance", "pm-finance");
    CHECK (s_start (&stf) == 0);
    itest_point_at (&fin, &stf);
    CHECK (s_start (&fin) == 0);
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_staffing_site (sc, fc, "north"));
    char ana[PM_ID_MAX], ben[PM_ID_MAX], cy[PM_ID_MAX], eu[PM_ID_MAX];
    CHECK (s_nurse (sc, 1001, "USD", ana)); //  10.01 an hour
    CHECK (s_nurse (sc, 30, "USD", ben));   //  0.30 an hour
    CHECK (s_nurse (sc, 29, "USD", cy));    //  0.29 an hour
    CHECK (s_nurse (sc, 5000, "EUR", eu));  //  paid in another currency
    char day[PM_ID_MAX], night[PM_ID_MAX], minute[PM_ID_MAX], first[PM_ID_MAX];
    CHECK (s_template (sc, "08:00", "10:20", day));
    CHECK (s_template (sc, "22:00", "06:00", night));
    CHECK (s_template (sc, "12:00", "12:01", minute));
    //  Ana: three day shifts of 2h20m: 10.01 x 2.333... = 23.3566 -> 23.36 each.
    CHECK (s_roster (sc, day, "2026-06-01", "2026-06-03", ana, first) == 3);
    //  Ana: a night from June 30, 22:00 New York (July 1, 02:00 UTC): 8 h = 80.08.
    CHECK (s_roster (sc, night, "2026-06-30", "2026-06-30", ana, NULL) == 1);
    //  Ana: a day in July.
    CHECK (s_roster (sc, day, "2026-07-01", "2026-07-01", ana, NULL) == 1);
    //  One minute at 0.30/h = 0.5 minor units -> 1; at 0.29/h = 0.483 -> 0.
    CHECK (s_roster (sc, minute, "2026-06-10", "2026-06-10", ben, NULL) == 1);
    CHECK (s_roster (sc, minute, "2026-06-10", "2026-06-10", cy, NULL) == 1);
    CHECK (s_roster (sc, day, "2026-06-11", "2026-06-11", eu, NULL) == 1);
    CHECK (s_is (fc, 0, NULL, "finance.SetBudget", "{\"site_id\": \"north\", \"month\": "
                 "\"2026-06\", \"lines\": [{\"category\": \"PAYROLL\", \"amount_minor\": "
                 "12000}, {\"category\": \"RECRUITMENT\", \"amount_minor\": 100}]}"));
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    json_t *r = s_bva (fc, "2026-06");
    //  3 x 2336 + 8008 + 1 + 0 = 15017, six shifts priced, the EUR one not.
    CHECK (r && s_num (r, "categories[0].actual_minor") == 15017);
    CHECK (strcmp (itest_json_str (r, "categories[0].category"), "PAYROLL") == 0);
    CHECK (s_num (r, "categories[0].count") == 6 && s_num (r, "unpriced_shifts") == 1);
    CHECK (s_num (r, "payroll_minutes") == 3 * 140 + 480 + 2 + 140);
    CHECK (s_num (r, "categories[0].budget_minor") == 12000);
    CHECK (s_num (r, "categories[0].variance_minor") == 3017);
    CHECK (s_num (r, "categories[0].variance_bp") == 2514); //  25.1416% -> 2514
    CHECK (json_is_true (itest_json_at (r, "categories[0].has_actual")));
    //  Recruitment has a source (recorded costs), none this month.
    CHECK (json_is_true (itest_json_at (r, "categories[1].has_actual")));
    CHECK (s_num (r, "categories[1].actual_minor") == 0);
    CHECK (!json_is_true (itest_json_at (r, "categories[2].has_actual"))); //  supplies: no source
    CHECK (s_num (r, "categories[1].variance_bp") == -10000);
    CHECK (itest_json_at (r, "categories[3].variance_bp") == NULL); //  no rent budget
    CHECK (s_num (r, "budget_total_minor") == 12100 && s_num (r, "actual_total_minor") == 15017);
    CHECK (s_num (r, "variance_total_bp") == 2411); //  2917 / 12100 = 24.107% -> 2411
    CHECK (s_num (r, "budget_version") == 1 && strcmp (itest_json_str (r, "currency"), "USD") == 0);
    json_decref (r);
    r = s_bva (fc, "2026-07");
    CHECK (r && s_num (r, "categories[0].actual_minor") == 2336);
    CHECK (s_num (r, "budget_version") == 0 && itest_json_at (r, "categories[0].variance_bp") == NULL);
    json_decref (r);
    //  Unassigned: the first day shift's cost is withdrawn.
    r = itest_req (sc, 0, NULL, "staffing.UnassignShift", "{\"shift_id\": \"%s\", "
               "\"reason\": \"sick\"}", first);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[0].actual_minor") == 15017 - 2336);
    CHECK (s_num (r, "categories[0].count") == 5);
    json_decref (r);
    //  Reassigned to Ben: priced at his rate (2h20m x 0.30 = 0.70).
    r = itest_req (sc, 0, NULL, "staffing.AssignShift", "{\"shift_id\": \"%s\", "
               "\"staff_id\": \"%s\"}", first, ben);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[0].actual_minor") == 15017 - 2336 + 70);
    json_decref (r);

    //  Restart: the cursor is durable, nothing counts twice.
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    CHECK (itest_start (&fin) == 0);
    fc = itest_client (&fin);
    CHECK (s_roster (sc, day, "2026-06-04", "2026-06-04", ana, NULL) == 1);
    CHECK (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) == 0);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[0].actual_minor") == 15017 - 2336 + 70 + 2336);
    json_decref (r);

    //  Staffing's store replaced: the projection is dropped and rebuilt
    //  from the new stream, which holds one shift.
    pm_client_destroy (&sc);
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    itest_signal (&stf, SIGTERM);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", stf.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&stf) == 0);
    CHECK (itest_start (&fin) == 0);
    sc = itest_client (&stf);
    fc = itest_client (&fin);
    json_t *site = itest_req (sc, 0, NULL, "staffing.CreateSite",
                          "{\"site\": {\"id\": \"north\", \"name\": \"Clinic north\", "
                          "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}");
    CHECK (site);
    json_decref (site);
    CHECK (s_nurse (sc, 2000, "USD", ana));
    CHECK (s_template (sc, "08:00", "10:20", day));
    CHECK (s_roster (sc, day, "2026-06-15", "2026-06-15", ana, NULL) == 1);
    char *stream = s_stream_id (sc);
    CHECK (s_wait_applied (fc, "staffing", stream, s_high_seq (sc)) == 0);
    free (stream);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[0].actual_minor") == 4667); //  20.00 x 2h20m
    CHECK (s_num (r, "categories[0].count") == 1 && s_num (r, "unpriced_shifts") == 0);
    json_decref (r);
    //  Bad input.
    CHECK (s_is (fc, PM_EINVAL, "month", "finance.BudgetReport",
                 "{\"site_id\": \"north\", \"month\": \"June\"}"));
    CHECK (s_is (fc, PM_ENOTFOUND, "site_id", "finance.BudgetReport",
                 "{\"site_id\": \"nowhere\", \"month\": \"2026-06\"}"));
    pm_client_destroy (&sc);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&stf);
}

//  Appends recruitment.candidate.hired for `cand` at `site` starting on
//  `start` to the stand-in recruitment stream (`cand` NULL: garbage).
static bool
s_emit_hire (pm_client_t *ec, const char *cand, const char *site, const char *start)
{
    Pm__Recruitment__CandidateHired h = PM__RECRUITMENT__CANDIDATE_HIRED__INIT;
    char *given[] = {"Kim"};
    h.candidate_id = (char *) cand;
    h.family_name = "Lee";
    h.n_given_names = 1;
    h.given_names = given;
    h.role = "nurse";
    h.site_id = (char *) site;
    h.start_date = (char *) start;
    uint8_t data[512];
    Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
    emit.type = "recruitment.candidate.hired";
    emit.site_id = (char *) site;
    emit.subject = (char *) cand;
    emit.has_data = 1;
    emit.data.data = data;
    if (cand) {
        emit.data.len = pm__recruitment__candidate_hired__pack (&h, data);
    }
    else {
        memcpy (data, "\x08\xff", 2);
        emit.data.len = 2;
    }
    Pm__Reply *reply = itest_call (ec, "emitter.Emit", &emit.base);
    bool ok = reply && reply->code == 0;
    pm__reply__free_unpacked (reply, NULL);
    return ok;
}

//  --------------------------------------------------------------------------
//  Recruitment's events carry no cost: hires are counted per month of
//  their start date, once per candidate through re-sends, restarts and a
//  replaced recruitment stream (pm_emitter stands in for recruitment:
//  driving a real hire takes a requisition, approval, posting,
//  application and offer per candidate).
//  Emits recruitment.cost.recorded for cost `id`.
static bool
s_emit_cost (pm_client_t *ec, const char *id, const char *site, const char *day,
             int64_t amount, const char *currency)
{
    Pm__Recruitment__RecruitmentCost c = PM__RECRUITMENT__RECRUITMENT_COST__INIT;
    c.id = (char *) id;
    c.requisition_id = "job_01m8e8rx5n3r2py41feft8x8rn";
    c.site_id = (char *) site;
    c.has_kind = c.has_amount_minor = 1;
    c.kind = PM__RECRUITMENT__COST_KIND__COST_AGENCY;
    c.amount_minor = amount;
    c.currency = (char *) currency;
    c.incurred_on = (char *) day;
    uint8_t data[512];
    Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
    emit.type = "recruitment.cost.recorded";
    emit.site_id = (char *) site;
    emit.subject = (char *) id;
    emit.has_data = 1;
    emit.data.data = data;
    emit.data.len = pm__recruitment__recruitment_cost__pack (&c, data);
    Pm__Reply *reply = itest_call (ec, "emitter.Emit", &emit.base);
    bool ok = reply && reply->code == 0;
    pm__reply__free_unpacked (reply, NULL);
    return ok;
}

//  --------------------------------------------------------------------------
//  Recruitment costs (agency fees, advertising) are the recruitment actual
//  of their local month: once per cost even when re-delivered, in the
//  site's currency only, rebuilt from a replaced stream.
static void
s_test_recruitment_costs (void)
{
    itest_svc_t emi, fin;
    CHECK (s_start_following (&emi, "recruitment", &fin));
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_site (fc, "north"));
    char cost[3][PM_ID_MAX];
    for (int i = 0; i < 3; i++) {
        pm_id_new ("rcost", pm_clock_wall_ms (), cost[i]);
    }
    CHECK (s_emit_cost (ec, cost[0], "north", "2026-06-03", 45000, "USD"));
    CHECK (s_emit_cost (ec, cost[0], "north", "2026-06-03", 45000, "USD")); //  again
    CHECK (s_emit_cost (ec, cost[1], "north", "2026-06-30", 1999, "USD"));
    CHECK (s_emit_cost (ec, cost[2], "north", "2026-06-10", 7000, "EUR")); //  left out
    CHECK (s_wait_applied (fc, "recruitment", NULL, 4) == 0);
    json_t *r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[1].actual_minor") == 46999);
    CHECK (json_is_true (itest_json_at (r, "categories[1].has_actual")));
    json_decref (r);
    r = s_bva (fc, "2026-07");
    CHECK (r && s_num (r, "categories[1].actual_minor") == 0);
    json_decref (r);
    //  A replaced recruitment stream with one cost: only that one counts.
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    itest_signal (&emi, SIGTERM);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", emi.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&emi) == 0);
    CHECK (itest_start (&fin) == 0);
    ec = itest_client (&emi);
    fc = itest_client (&fin);
    CHECK (s_emit_cost (ec, cost[1], "north", "2026-06-30", 1999, "USD"));
    char *stream = s_stream_id (ec);
    CHECK (s_wait_applied (fc, "recruitment", stream, 1) == 0);
    free (stream);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[1].actual_minor") == 1999);
    json_decref (r);
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&emi);
}

static void
s_test_hires_counted_once (void)
{
    itest_svc_t emi, fin;
    CHECK (s_start_following (&emi, "recruitment", &fin));
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_site (fc, "north"));
    char cand[3][PM_ID_MAX];
    for (int i = 0; i < 3; i++) {
        pm_id_new ("cand", pm_clock_wall_ms (), cand[i]);
    }
    CHECK (s_emit_hire (ec, cand[0], "north", "2026-06-01"));
    CHECK (s_emit_hire (ec, cand[0], "north", "2026-06-01")); //  re-sent
    CHECK (s_emit_hire (ec, cand[1], "north", "2026-06-30"));
    CHECK (s_emit_hire (ec, cand[2], "north", "2026-07-01"));
    CHECK (s_emit_hire (ec, NULL, "north", "2026-06-02"));     //  garbage: logged
    CHECK (s_wait_applied (fc, "recruitment", NULL, 5) == 1);
    json_t *r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "hires") == 2 && s_num (r, "categories[1].count") == 2);
    CHECK (s_num (r, "categories[1].actual_minor") == 0); //  no costs recorded
    json_decref (r);
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    CHECK (itest_start (&fin) == 0);
    fc = itest_client (&fin);
    CHECK (s_emit_hire (ec, cand[1], "north", "2026-06-30")); //  after a restart
    CHECK (s_wait_applied (fc, "recruitment", NULL, 6) == 0);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "hires") == 2);
    json_decref (r);
    //  Replaced stream with one hire: counted from it alone.
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    itest_signal (&emi, SIGTERM);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", emi.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&emi) == 0);
    CHECK (itest_start (&fin) == 0);
    ec = itest_client (&emi);
    fc = itest_client (&fin);
    CHECK (s_emit_hire (ec, cand[1], "north", "2026-06-30"));
    char *stream = s_stream_id (ec);
    CHECK (s_wait_applied (fc, "recruitment", stream, 1) == 0);
    free (stream);
    r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "hires") == 1);
    json_decref (r);
    r = s_bva (fc, "2026-07");
    CHECK (r && s_num (r, "hires") == 0);
    json_decref (r);
    pm_client_destroy (&ec);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&emi);
}

//  --------------------------------------------------------------------------
//  Revenue by practitioner, appointment type and month over a period
//  (cancelled invoices are not revenue), the budget report's revenue
//  lines, and receivables aged at a date into 0-30 / 31-60 / 61-90 / 90+
//  with every listed patient on the audit log; roles, scope, bad input.
static void
s_test_revenue_and_aging (void)
{
    itest_svc_t emi, svc;
    CHECK (s_start_following (&emi, "scheduling", &svc));
    itest_principal ("fin", "finance", "north");
    itest_principal ("mgr", "practice-manager", "north");
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("mgr-east", "practice-manager", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north"));
    CHECK (s_site (c, "east"));
    const char *P2 = "pat_01m8e8rx5n3r2py41feft8x8rp";
    int64_t now = pm_clock_wall_ms ();
    //  A visit by stf_x (checkup 120.00) and a manual bandage for PAT; a
    //  manual 50.00 for P2 on an invoice that is then cancelled.
    char apt[PM_ID_MAX], band[PM_ID_MAX], other[PM_ID_MAX];
    pm_id_new ("apt", now, apt);
    CHECK (s_emit_apt (ec, "scheduling.appointment.fulfilled", apt, PAT, "north",
                       "checkup", now - HOUR_MS));
    CHECK (s_wait_applied (c, "scheduling", NULL, 1) == 0);
    CHECK (s_charge (c, PAT, "bandage", 1050, band));
    json_t *r = s_invoice (c, PAT, NULL);
    CHECK (r && s_num (r, "total_minor") == 13050);
    char inv[PM_ID_MAX], inv2[PM_ID_MAX];
    snprintf (inv, sizeof inv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
               "\"patient_id\": \"%s\", \"invoice_id\": \"%s\", \"mode\": \"CASH\", "
               "\"amount_minor\": 3050, \"currency\": \"USD\"}", PAT, inv);
    CHECK (r);
    json_decref (r);
    CHECK (s_charge (c, P2, "misc", 5000, other));
    r = s_invoice (c, P2, other);
    CHECK (r);
    snprintf (inv2, sizeof inv2, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv2);
    CHECK (r);
    json_decref (r);
    pm_client_t *fin = itest_client_as (&svc, "fin");
    pm_client_t *mgr = itest_client_as (&svc, "mgr");
    const char *rev = "finance.RevenueReport";
    r = itest_req (mgr, 0, NULL, rev, "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}",
               (long long) (now - DAY_MS), (long long) (now + DAY_MS));
    CHECK (r && s_num (r, "total_minor") == 18050 && s_num (r, "invoices") == 2);
    CHECK (json_array_size (itest_json_at (r, "by_practitioner")) == 2);
    CHECK (strcmp (itest_json_str (r, "by_practitioner[0].key"), "") == 0); //  manual: none
    CHECK (s_num (r, "by_practitioner[0].amount_minor") == 6050);
    CHECK (strcmp (itest_json_str (r, "by_practitioner[1].key"), "stf_x") == 0);
    CHECK (s_num (r, "by_practitioner[1].amount_minor") == 12000);
    CHECK (json_array_size (itest_json_at (r, "by_type")) == 3);
    CHECK (strcmp (itest_json_str (r, "by_type[1].key"), "checkup") == 0);
    CHECK (s_num (r, "by_type[1].amount_minor") == 12000 && s_num (r, "by_type[1].lines") == 1);
    CHECK (json_array_size (itest_json_at (r, "by_month")) >= 1);
    json_decref (r);
    //  Cancelled: no longer revenue.
    r = itest_req (c, 0, NULL, "finance.CancelInvoice", "{\"invoice_id\": \"%s\", "
               "\"reason\": \"wrong patient\"}", inv2);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, 0, NULL, rev, "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}",
               (long long) (now - DAY_MS), (long long) (now + DAY_MS));
    CHECK (r && s_num (r, "total_minor") == 13050 && s_num (r, "invoices") == 1);
    json_decref (r);
    r = itest_req (fin, 0, NULL, rev, "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}",
               (long long) (now + DAY_MS), (long long) (now + 2 * DAY_MS));
    CHECK (r && s_num (r, "total_minor") == 0 && json_array_size (itest_json_at (r, "by_type")) == 0);
    json_decref (r);
    CHECK (s_is (fin, PM_EINVAL, "from", rev, "{\"site_id\": \"north\", \"to\": 5}"));
    CHECK (s_is (fin, PM_EINVAL, "to", rev, "{\"site_id\": \"north\", \"from\": 5, "
                 "\"to\": 5}"));
    CHECK (s_is (fin, PM_EINVAL, "to", rev, "{\"site_id\": \"north\", \"from\": 0, "
                 "\"to\": 40000000000}"));
    //  The budget report's revenue: invoiced this month, received today.
    char month[8], today[16];
    time_t secs = (time_t) (now / 1000);
    struct tm tm;
    //  Compare in New York: the test clock's local month there.
    setenv ("TZ", "America/New_York", 1);
    tzset ();
    localtime_r (&secs, &tm);
    strftime (month, sizeof month, "%Y-%m", &tm);
    strftime (today, sizeof today, "%Y-%m-%d", &tm);
    r = s_bva (fin, month);
    CHECK (r && s_num (r, "revenue_invoiced_minor") == 13050);
    CHECK (s_num (r, "revenue_received_minor") == 3050);
    json_decref (r);

    //  Aging: 100.00 due on the invoice issued today.
    const char *ag = "finance.AgingReport";
    r = itest_req (fin, 0, NULL, ag, "{\"site_id\": \"north\"}");
    CHECK (r && s_num (r, "total_due_minor") == 10000);
    CHECK (strcmp (itest_json_str (r, "as_of"), today) == 0);
    CHECK (json_array_size (itest_json_at (r, "buckets")) == 4);
    CHECK (strcmp (itest_json_str (r, "buckets[0].label"), "0-30") == 0);
    CHECK (s_num (r, "buckets[0].due_minor") == 10000 && s_num (r, "buckets[0].invoices") == 1);
    CHECK (strcmp (itest_json_str (r, "items[0].patient_id"), PAT) == 0);
    CHECK (strcmp (itest_json_str (r, "items[0].invoice_id"), inv) == 0);
    CHECK (s_num (r, "items[0].days") == 0);
    json_decref (r);
    struct {
        int days;
        int bucket;
    } ages[] = {{30, 0}, {31, 1}, {60, 1}, {61, 2}, {90, 2}, {91, 3}, {400, 3}};
    const char *labels[] = {"0-30", "31-60", "61-90", "90+"};
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        char as_of[16], path[40];
        time_t t = secs + (time_t) ages[i].days * 86400;
        localtime_r (&t, &tm);
        strftime (as_of, sizeof as_of, "%Y-%m-%d", &tm);
        r = itest_req (mgr, 0, NULL, ag, "{\"site_id\": \"north\", \"as_of\": \"%s\"}", as_of);
        snprintf (path, sizeof path, "buckets[%d].due_minor", ages[i].bucket);
        CHECK (r && s_num (r, path) == 10000 && s_num (r, "total_due_minor") == 10000);
        CHECK (s_num (r, "items[0].days") == ages[i].days);
        CHECK (strcmp (itest_json_str (r, "items[0].bucket"), labels[ages[i].bucket]) == 0);
        json_decref (r);
    }
    //  Before the invoice was issued: nothing owed yet.
    time_t t = secs - 2 * 86400;
    char before[16];
    localtime_r (&t, &tm);
    strftime (before, sizeof before, "%Y-%m-%d", &tm);
    r = itest_req (fin, 0, NULL, ag, "{\"site_id\": \"north\", \"as_of\": \"%s\"}", before);
    CHECK (r && s_num (r, "total_due_minor") == 0 && json_array_size (itest_json_at (r, "items")) == 0);
    json_decref (r);
    //  Paid in full: off the list.
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
               "\"patient_id\": \"%s\", \"invoice_id\": \"%s\", \"mode\": \"CARD\", "
               "\"amount_minor\": 10000, \"currency\": \"USD\"}", PAT, inv);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin, 0, NULL, ag, "{\"site_id\": \"north\"}");
    CHECK (r && s_num (r, "total_due_minor") == 0);
    json_decref (r);
    //  A store from before the report indexes: built at start, the same
    //  reports from it.
    const char *period = "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}";
    json_t *was = itest_req (fin, 0, NULL, rev, period, (long long) (now - DAY_MS),
                             (long long) (now + DAY_MS));
    json_t *owed = itest_req (fin, 0, NULL, ag, "{\"site_id\": \"north\", \"as_of\": "
                              "\"%s\"}", today);
    CHECK (was && s_num (was, "invoices") >= 1 && owed);
    pm_client_destroy (&fin);
    itest_signal (&svc, SIGTERM);
    CHECK (itest_store_forget (&svc, "index", "DOM") >= 3);
    CHECK (s_start (&svc) == 0);
    fin = itest_client_as (&svc, "fin");
    r = itest_req (fin, 0, NULL, rev, period, (long long) (now - DAY_MS),
                   (long long) (now + DAY_MS));
    CHECK (r && json_equal (r, was));
    json_decref (r);
    r = itest_req (fin, 0, NULL, ag, "{\"site_id\": \"north\", \"as_of\": \"%s\"}", today);
    //  Today's amounts stand at the time of each report.
    CHECK (r && json_object_del (r, "as_at") == 0 && json_object_del (owed, "as_at") == 0);
    CHECK (r && json_equal (r, owed));
    json_decref (r);
    json_decref (was);
    json_decref (owed);
    //  Bad input, roles, scope.
    CHECK (s_is (fin, PM_EINVAL, "as_of", ag, "{\"site_id\": \"north\", \"as_of\": "
                 "\"2026-02-30\"}"));
    CHECK (s_is (fin, PM_EINVAL, "site_id", ag, "{}"));
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *east = itest_client_as (&svc, "mgr-east");
    CHECK (s_is (desk, PM_EFORBIDDEN, NULL, ag, "{\"site_id\": \"north\"}"));
    CHECK (s_is (desk, PM_EFORBIDDEN, NULL, rev, "{\"site_id\": \"north\", \"from\": 0, "
                 "\"to\": 5}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", ag, "{\"site_id\": \"north\"}"));
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", rev, "{\"site_id\": \"north\", "
                 "\"from\": 0, \"to\": 5}"));
    //  Every aging report that listed the patient is on the audit log.
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    CHECK (s_audits (aud, PAT, "finance.AgingReport", PM__CODE__OK) == 1 + 7);
    pm_client_destroy (&aud);
    pm_client_destroy (&east);
    pm_client_destroy (&desk);
    pm_client_destroy (&mgr);
    pm_client_destroy (&fin);
    pm_client_destroy (&ec);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
    itest_cleanup (&emi);
}

//  Milliseconds UTC of a UTC wall time.
static int64_t
s_utc (int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t) timegm (&tm) * 1000;
}

//  Restarts finance with its clock at `at` (ms UTC; a request made right
//  after lands a moment later); a new client in *c.
static bool
s_clock_at (itest_svc_t *svc, pm_client_t **c, char *env, size_t envlen, int64_t at)
{
    pm_client_destroy (c);
    itest_signal (svc, SIGTERM);
    snprintf (env, envlen, "PM_CLOCK_OFFSET_MS=%lld", (long long) (at - pm_clock_wall_ms ()));
    svc->env[0] = env;
    if (itest_start (svc) != 0) {
        return false;
    }
    *c = itest_client (svc);
    return *c != NULL;
}

//  At `site`: a charge of `amount` for PAT, invoiced and issued, then
//  `paid` (0: nothing) paid on it in cash. The invoice id into `inv`, the
//  payment's id and business date into `pay` and `date` (when paid).
static bool
s_sale (pm_client_t *c, const char *site, long long amount, long long paid, char *inv,
        char *pay, char *date)
{
    char chg[PM_ID_MAX];
    json_t *r = itest_req (c, 0, NULL, "finance.AddCharge", "{\"site_id\": \"%s\", "
                           "\"patient_id\": \"%s\", \"code\": \"visit\", \"unit_minor\": "
                           "%lld}", site, PAT, amount);
    snprintf (chg, sizeof chg, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = r ? itest_req (c, 0, NULL, "finance.CreateInvoice", "{\"site_id\": \"%s\", "
                       "\"patient_id\": \"%s\", \"charge_ids\": [\"%s\"]}", site, PAT, chg)
          : NULL;
    snprintf (inv, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = r ? itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv)
          : NULL;
    bool ok = r && s_num (r, "total_minor") == amount;
    json_decref (r);
    if (ok && paid) {
        r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"%s\", "
                       "\"patient_id\": \"%s\", \"invoice_id\": \"%s\", \"mode\": \"CASH\", "
                       "\"amount_minor\": %lld, \"currency\": \"USD\"}", site, PAT, inv, paid);
        ok = r != NULL;
        snprintf (pay, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
        snprintf (date, 16, "%s", r ? itest_json_str (r, "business_date") : "");
        json_decref (r);
    }
    return ok;
}

//  The budget report's revenue lines of `site` for `month`: "invoiced
//  received", or "" when the report failed.
static const char *
s_revenue_of (pm_client_t *c, const char *site, const char *month, char *out)
{
    json_t *r = itest_req (c, 0, NULL, "finance.BudgetReport", "{\"site_id\": \"%s\", "
                           "\"month\": \"%s\"}", site, month);
    snprintf (out, 48, r ? "%lld %lld" : "", s_num (r, "revenue_invoiced_minor"),
              s_num (r, "revenue_received_minor"));
    json_decref (r);
    return out;
}

//  --------------------------------------------------------------------------
//  The budget report's revenue counts exactly the site's local month:
//  invoices issued in it (still issued or balanced; a cancelled one is
//  not revenue) and payments booked on its days, less refunds paid out,
//  in two sites (New York, west of UTC; Tokyo, east of it) over three
//  months, with sales minutes before and after each local month boundary
//  where the UTC month is another one; a payment taken after the day was
//  closed is booked on the next day and counts in that day's month; a
//  reversed payment counts where it was booked and is taken back in the
//  month of its reversal date, as the day book has it. A store
//  from before the payments' day-book index builds it at start: the same
//  figures.
static void
s_test_budget_revenue_months (void)
{
    itest_svc_t svc;
    char env[64];
    itest_svc_init (&svc, "finance", "pm-finance");
    snprintf (env, sizeof env, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc (2027, 2, 10, 12, 0) - pm_clock_wall_ms ()));
    svc.env[0] = env;
    CHECK (s_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north")); //  America/New_York
    CHECK (s_is (c, 0, NULL, "finance.SetSite", "{\"site_id\": \"south\", \"currency\": "
                 "\"USD\", \"time_zone\": \"Asia/Tokyo\"}"));
    //  North's amounts are thousands, south's hundreds: a sale counted at
    //  the wrong site shows.
    char inv[PM_ID_MAX], pay[PM_ID_MAX], date[16], n3_pay[PM_ID_MAX], n4[PM_ID_MAX];
    //  Feb 10: both sites; a north invoice issued and cancelled.
    CHECK (s_sale (c, "north", 10000, 1000, inv, pay, date));
    CHECK (strcmp (date, "2027-02-10") == 0);
    CHECK (s_sale (c, "north", 7777, 0, inv, pay, date));
    json_t *r = itest_req (c, 0, NULL, "finance.CancelInvoice", "{\"invoice_id\": \"%s\", "
                           "\"reason\": \"wrong patient\"}", inv);
    CHECK (r);
    json_decref (r);
    CHECK (s_sale (c, "south", 100, 10, inv, pay, date));
    //  Feb 28, 23:55 in Tokyo (14:55 UTC): south's February.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 2, 28, 14, 55)));
    CHECK (s_sale (c, "south", 200, 20, inv, pay, date));
    CHECK (strcmp (date, "2027-02-28") == 0);
    //  Mar 1, 00:01 in Tokyo, still Feb 28 in UTC: south's March.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 2, 28, 15, 1)));
    CHECK (s_sale (c, "south", 400, 40, inv, pay, date));
    CHECK (strcmp (date, "2027-03-01") == 0);
    //  Feb 28, 23:55 in New York, already Mar 1 in UTC: north's February.
    //  The day is closed, then more money comes: booked on Mar 1.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 3, 1, 4, 55)));
    CHECK (s_sale (c, "north", 20000, 2000, inv, pay, date));
    CHECK (strcmp (date, "2027-02-28") == 0);
    CHECK (s_is (c, 0, NULL, "finance.CloseDay", "{\"site_id\": \"north\", \"date\": "
                 "\"2027-02-28\", \"note\": \"not counted\"}"));
    r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\", \"mode\": \"CARD\", \"amount_minor\": 4000, "
                   "\"currency\": \"USD\"}", PAT);
    CHECK (r && strcmp (itest_json_str (r, "business_date"), "2027-03-01") == 0);
    json_decref (r);
    //  Mar 1, 00:01 in New York: north's March.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 3, 1, 5, 1)));
    CHECK (s_sale (c, "north", 40000, 8000, inv, n3_pay, date));
    CHECK (strcmp (date, "2027-03-01") == 0);
    //  Mar 31, 23:55 in Tokyo: south's March, paid in full (balanced).
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 3, 31, 14, 55)));
    CHECK (s_sale (c, "south", 800, 800, inv, pay, date));
    CHECK (strcmp (date, "2027-03-31") == 0);
    //  Apr 1, 00:01 in Tokyo, still Mar 31 in UTC: south's April.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 3, 31, 15, 1)));
    CHECK (s_sale (c, "south", 1600, 160, inv, pay, date));
    CHECK (strcmp (date, "2027-04-01") == 0);
    //  Mar 31, 23:55 in New York (EDT), already Apr 1 in UTC: north's March.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 4, 1, 3, 55)));
    CHECK (s_sale (c, "north", 80000, 16000, n4, pay, date));
    CHECK (strcmp (date, "2027-03-31") == 0);
    //  Apr 1, 00:01 in New York: north's April; 5.00 of March's invoice
    //  refunded (paid out in April); March's 80.00 payment reversed.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 4, 1, 4, 1)));
    CHECK (s_sale (c, "north", 160000, 32000, inv, pay, date));
    CHECK (strcmp (date, "2027-04-01") == 0);
    r = itest_req (c, 0, NULL, "finance.IssueCreditNote", "{\"invoice_id\": \"%s\", \"kind\": "
                   "\"CREDIT_REFUND\", \"mode\": \"CASH\", \"amount_minor\": 500, "
                   "\"reason\": \"complaint upheld\"}", n4);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.ReversePayment", "{\"payment_id\": \"%s\", "
                   "\"reason\": \"card charged back\"}", n3_pay);
    CHECK (r && strcmp (itest_json_str (r, "reversal_date"), "2027-04-01") == 0);
    json_decref (r);

    struct {
        const char *site, *month, *want;
    } months[] = {
        {"north", "2027-01", "0 0"},
        {"north", "2027-02", "30000 3000"},   //  10000 + 20000; 1000 + 2000
        {"north", "2027-03", "120000 28000"}, //  40000 + 80000; 4000 + 8000 + 16000
        {"north", "2027-04", "160000 23500"}, //  32000 - 500 refunded - 8000 reversed
        {"north", "2027-05", "0 0"},
        {"south", "2027-02", "300 30"},       //  100 + 200; 10 + 20
        {"south", "2027-03", "1200 840"},     //  400 + 800; 40 + 800
        {"south", "2027-04", "1600 160"},
    };
    size_t n_months = sizeof months / sizeof months[0];
    char got[48];
    for (size_t i = 0; i < n_months; i++) {
        s_revenue_of (c, months[i].site, months[i].month, got);
        if (strcmp (got, months[i].want) != 0) {
            fprintf (stderr, "    %s %s: \"%s\", not \"%s\"\n", months[i].site,
                     months[i].month, got, months[i].want);
        }
        CHECK (strcmp (got, months[i].want) == 0);
    }

    //  A store from before the day-book index: built at start, the same
    //  figures from it.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    //  Twelve payments and refunds, a reversal, the migration markers.
    CHECK (itest_store_forget (&svc, "index", "YM") >= 12 + 1 + 2);
    CHECK (itest_start (&svc) == 0);
    c = itest_client (&svc);
    for (size_t i = 0; i < n_months; i++) {
        CHECK (strcmp (s_revenue_of (c, months[i].site, months[i].month, got),
                       months[i].want) == 0);
    }
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  A call (JSON body, printf-style) that must succeed; its reply dropped.
static bool
s_do (pm_client_t *c, const char *type, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (body, sizeof body, fmt, ap);
    va_end (ap);
    json_t *r = itest_req (c, 0, NULL, type, "%s", body);
    json_decref (r);
    return r != NULL;
}

//  Staffing changes nurse `id`'s pay rate (the staff record at `version`).
static bool
s_pay_rate (pm_client_t *sc, const char *id, int version, long long rate)
{
    json_t *r = itest_req (sc, 0, NULL, "staffing.UpdateStaff",
                           "{\"expected_version\": %d, \"staff\": {\"id\": \"%s\", "
                           "\"name\": {\"family\": \"Doe\", \"given\": [\"Jo\"]}, "
                           "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"north\", "
                           "\"fte_permille\": 1000}], \"employment_type\": \"FULL_TIME\", "
                           "\"pay_rate_minor\": %lld, \"currency\": \"USD\", "
                           "\"start_date\": \"2026-01-05\"}}", version, id, rate);
    json_decref (r);
    return r != NULL;
}

//  North's June payroll actual once finance has applied all of staffing's
//  stream; -1 when the report failed.
static long long
s_june_payroll (pm_client_t *sc, pm_client_t *fc)
{
    if (s_wait_applied (fc, "staffing", NULL, s_high_seq (sc)) != 0) {
        return -1;
    }
    json_t *r = s_bva (fc, "2026-06");
    long long v = r ? s_num (r, "categories[0].actual_minor") : -1;
    json_decref (r);
    return v;
}

//  --------------------------------------------------------------------------
//  A pay-rate change (staffing.UpdateStaff; staffing's Staff has no
//  effective date, so the change's time is when it takes effect) re-prices
//  the shifts already assigned that start from then on, not earlier ones;
//  a shift assigned later takes the rate in force at its start; a second
//  change re-prices from its own time only. A store from before the rate
//  history: the next change still re-prices the shifts after it. Staffing
//  runs with its clock on June 15, 2026, then June 22 and June 28.
static void
s_test_payroll_repriced (void)
{
    itest_svc_t stf, fin;
    char env[64];
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&fin, "finance", "pm-finance");
    snprintf (env, sizeof env, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc (2026, 6, 15, 12, 0) - pm_clock_wall_ms ()));
    stf.env[0] = env;
    CHECK (s_start (&stf) == 0);
    itest_point_at (&fin, &stf);
    CHECK (s_start (&fin) == 0);
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *fc = itest_client (&fin);
    CHECK (s_staffing_site (sc, fc, "north"));
    char ana[PM_ID_MAX], day[PM_ID_MAX];
    //  2h20m shifts: 10.00/h -> 23.33, 20.00/h -> 46.67, 30.00/h -> 70.00,
    //  15.00/h -> 35.00.
    CHECK (s_nurse (sc, 1000, "USD", ana));
    CHECK (s_template (sc, "08:00", "10:20", day));
    CHECK (s_roster (sc, day, "2026-06-10", "2026-06-10", ana, NULL) == 1);
    CHECK (s_roster (sc, day, "2026-06-20", "2026-06-20", ana, NULL) == 1);
    CHECK (s_june_payroll (sc, fc) == 2333 + 2333);
    //  June 15: a raise to 20.00; the June 20 shift is re-priced.
    CHECK (s_pay_rate (sc, ana, 1, 2000));
    CHECK (s_june_payroll (sc, fc) == 2333 + 4667);
    //  Assigned after the raise: June 12 (before it) at 10.00, June 25 at 20.00.
    CHECK (s_roster (sc, day, "2026-06-12", "2026-06-12", ana, NULL) == 1);
    CHECK (s_roster (sc, day, "2026-06-25", "2026-06-25", ana, NULL) == 1);
    CHECK (s_june_payroll (sc, fc) == 2333 + 4667 + 2333 + 4667);
    //  June 22: 30.00 from then on; June 20 keeps 20.00.
    CHECK (s_clock_at (&stf, &sc, env, sizeof env, s_utc (2026, 6, 22, 12, 0)));
    CHECK (s_pay_rate (sc, ana, 2, 3000));
    CHECK (s_june_payroll (sc, fc) == 2333 + 4667 + 2333 + 7000);
    json_t *r = s_bva (fc, "2026-06");
    CHECK (r && s_num (r, "categories[0].count") == 4 && s_num (r, "unpriced_shifts") == 0);
    json_decref (r);
    CHECK (s_roster (sc, day, "2026-06-29", "2026-06-29", ana, NULL) == 1);
    CHECK (s_june_payroll (sc, fc) == 2333 + 4667 + 2333 + 7000 + 7000);

    //  A store from before the rate history; June 28: 15.00 from then on.
    //  (A payment puts an index entry past the markers: itest_store_forget
    //  fails when what it deletes ends the sub-database.)
    CHECK (s_do (fc, "finance.RecordPayment", "{\"site_id\": \"north\", \"patient_id\": "
                 "\"%s\", \"mode\": \"CASH\", \"amount_minor\": 1, \"currency\": \"USD\"}",
                 PAT));
    pm_client_destroy (&fc);
    itest_signal (&fin, SIGTERM);
    CHECK (itest_store_forget (&fin, "actuals", "RS") >= 1 + 5);
    CHECK (itest_store_forget (&fin, "index", "M") >= 1);
    CHECK (itest_start (&fin) == 0);
    fc = itest_client (&fin);
    CHECK (s_clock_at (&stf, &sc, env, sizeof env, s_utc (2026, 6, 28, 12, 0)));
    CHECK (s_pay_rate (sc, ana, 3, 1500));
    CHECK (s_june_payroll (sc, fc) == 2333 + 4667 + 2333 + 7000 + 3500);
    pm_client_destroy (&sc);
    pm_client_destroy (&fc);
    itest_cleanup (&fin);
    itest_cleanup (&stf);
}

//  The aging of `site` at `as_of` (caller decrefs).
static json_t *
s_aging (pm_client_t *c, const char *site, const char *as_of)
{
    return itest_req (c, 0, NULL, "finance.AgingReport", "{\"site_id\": \"%s\", \"as_of\": "
                      "\"%s\"}", site, as_of);
}

//  --------------------------------------------------------------------------
//  The aging at a past date shows what was due at the end of that local
//  day (New York): invoices issued by then, less payments, credit applied
//  and write-offs made by then; a payment reversed later still counts, one
//  reversed by then does not; invoices settled or cancelled later are
//  listed with what they had due then, aged from their issue date to that
//  day. Movements at 23:50 and 00:10 New York time fall on their New York
//  dates although both are on the same UTC date. Another site's invoice
//  stays out. A store from before the due history builds it from
//  finance's own stream at start: the same reports.
static void
s_test_aging_past (void)
{
    itest_svc_t svc;
    char env[64];
    itest_svc_init (&svc, "finance", "pm-finance");
    //  Mar 25, 11:00 in New York: an invoice that will be 31-60 days old.
    snprintf (env, sizeof env, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc (2027, 3, 25, 15, 0) - pm_clock_wall_ms ()));
    svc.env[0] = env;
    CHECK (s_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north") && s_site (c, "east"));
    char old[PM_ID_MAX], a[PM_ID_MAX], b[PM_ID_MAX], inv_c[PM_ID_MAX], east[PM_ID_MAX];
    char pay[PM_ID_MAX], p2[PM_ID_MAX], date[16];
    CHECK (s_sale (c, "north", 4000, 0, old, pay, date));
    CHECK (s_sale (c, "east", 999, 0, east, pay, date));
    //  May 3, 10:00: A (100.00, 30.00 paid at once) and B (50.00).
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 3, 14, 0)));
    CHECK (s_sale (c, "north", 10000, 3000, a, pay, date));
    CHECK (s_sale (c, "north", 5000, 0, b, pay, date));
    //  May 4, 23:50 (May 5 in UTC): 20.00 more on A, 10.00 of B written
    //  off, 5.00 paid on account.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 5, 3, 50)));
    json_t *r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
                           "\"patient_id\": \"%s\", \"invoice_id\": \"%s\", \"mode\": "
                           "\"CARD\", \"amount_minor\": 2000, \"currency\": \"USD\"}", PAT, a);
    CHECK (r && strcmp (itest_json_str (r, "business_date"), "2027-05-04") == 0);
    snprintf (p2, sizeof p2, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    CHECK (s_do (c, "finance.IssueCreditNote", "{\"invoice_id\": \"%s\", \"kind\": "
                 "\"CREDIT_WRITE_OFF\", \"amount_minor\": 1000, \"reason\": \"goodwill\"}", b));
    CHECK (s_do (c, "finance.RecordPayment", "{\"site_id\": \"north\", \"patient_id\": "
                 "\"%s\", \"mode\": \"CASH\", \"amount_minor\": 500, \"currency\": \"USD\"}",
                 PAT));
    //  May 5, 00:10 (the same UTC date): C (70.00); the 5.00 credit pays B.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 5, 4, 10)));
    CHECK (s_sale (c, "north", 7000, 0, inv_c, pay, date));
    CHECK (s_do (c, "finance.ApplyCredit", "{\"invoice_id\": \"%s\", \"amount_minor\": 500}",
                 b));
    //  May 6: the 20.00 card payment is charged back.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 6, 16, 0)));
    CHECK (s_do (c, "finance.ReversePayment", "{\"payment_id\": \"%s\", \"reason\": "
                 "\"charged back\"}", p2));
    //  May 7: B paid in full (balanced), C cancelled. Then May 9.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 7, 16, 0)));
    CHECK (s_do (c, "finance.RecordPayment", "{\"site_id\": \"north\", \"patient_id\": "
                 "\"%s\", \"invoice_id\": \"%s\", \"mode\": \"CASH\", \"amount_minor\": 3500, "
                 "\"currency\": \"USD\"}", PAT, b));
    CHECK (s_do (c, "finance.CancelInvoice", "{\"invoice_id\": \"%s\", \"reason\": "
                 "\"not given\"}", inv_c));
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 5, 9, 16, 0)));

    //  What north had due at the end of each day: old, A, B, C.
    struct {
        const char *as_of;
        long long old, a, b, c;
    } days[] = {
        {"2027-03-24", 0, 0, 0, 0},
        {"2027-03-25", 4000, 0, 0, 0},
        {"2027-05-02", 4000, 0, 0, 0},
        {"2027-05-03", 4000, 7000, 5000, 0},
        {"2027-05-04", 4000, 5000, 4000, 0},    //  paid 20, wrote off 10 at 23:50
        {"2027-05-05", 4000, 5000, 3500, 7000}, //  credit 5 on B, C issued at 00:10
        {"2027-05-06", 4000, 7000, 3500, 7000}, //  the 20 reversed
        {"2027-05-07", 4000, 7000, 0, 0},       //  B paid, C cancelled
        {"2027-05-08", 4000, 7000, 0, 0},
        {"2027-05-09", 4000, 7000, 0, 0},       //  today: what is due now
    };
    size_t n_days = sizeof days / sizeof days[0];
    json_t *before[16];
    for (size_t i = 0; i < n_days; i++) {
        r = s_aging (c, "north", days[i].as_of);
        long long want[4] = {days[i].old, days[i].a, days[i].b, days[i].c}, total = 0;
        const char *ids[4] = {old, a, b, inv_c};
        size_t listed = 0;
        for (int k = 0; k < 4; k++) {
            total += want[k];
            listed += want[k] > 0;
        }
        CHECK (r && s_num (r, "total_due_minor") == total);
        CHECK (json_array_size (itest_json_at (r, "items")) == listed);
        //  Each listed invoice with what it had due then.
        for (size_t j = 0; r && j < listed; j++) {
            char path[40];
            snprintf (path, sizeof path, "items[%zu].invoice_id", j);
            const char *id = itest_json_str (r, path);
            for (int k = 0; k < 4; k++) {
                if (strcmp (id, ids[k]) == 0) {
                    snprintf (path, sizeof path, "items[%zu].due_minor", j);
                    if (s_num (r, path) != want[k]) {
                        fprintf (stderr, "    %s: invoice %d had %lld due, not %lld\n",
                                 days[i].as_of, k, s_num (r, path), want[k]);
                    }
                    CHECK (s_num (r, path) == want[k]);
                }
            }
        }
        before[i] = r;
    }
    //  Ages count to as_of: May 6, the old invoice is 42 days (31-60), the
    //  rest 0-30; the day ends at New York's midnight (04:00 UTC).
    r = before[6];
    CHECK (r && strcmp (itest_json_str (r, "items[0].invoice_id"), old) == 0);
    CHECK (s_num (r, "items[0].days") == 42);
    CHECK (strcmp (itest_json_str (r, "items[0].bucket"), "31-60") == 0);
    CHECK (s_num (r, "buckets[0].due_minor") == 17500 && s_num (r, "buckets[0].invoices") == 3);
    CHECK (s_num (r, "buckets[1].due_minor") == 4000 && s_num (r, "buckets[1].invoices") == 1);
    CHECK (s_num (r, "as_at") == s_utc (2027, 5, 7, 4, 0));
    CHECK (s_num (before[4], "as_at") == s_utc (2027, 5, 5, 4, 0));
    //  East has its own.
    r = s_aging (c, "east", "2027-05-06");
    CHECK (r && s_num (r, "total_due_minor") == 999);
    CHECK (strcmp (itest_json_str (r, "items[0].invoice_id"), east) == 0);
    json_decref (r);

    //  A store from before the due history: built from the stream at
    //  start, the same past reports.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    CHECK (itest_store_forget (&svc, "index", "HM") >= 10);
    CHECK (itest_start (&svc) == 0);
    c = itest_client (&svc);
    for (size_t i = 0; i < n_days; i++) {
        r = s_aging (c, "north", days[i].as_of);
        if (i + 1 < n_days) { //  today's as_at is the time of the report
            CHECK (r && json_equal (r, before[i]));
        }
        else {
            CHECK (r && s_num (r, "total_due_minor") == 11000);
        }
        json_decref (r);
        json_decref (before[i]);
    }
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- credit note numbers ----------------------------------------------------

//  A credit note by JSON (finance role); the reply, or NULL when the code
//  was not `want` (field `field`).
static json_t *
s_note (pm_client_t *fin, int want, const char *field, const char *fmt, const char *a,
        long long amount)
{
    char body[512];
    snprintf (body, sizeof body, fmt, a, amount);
    return itest_req (fin, want, field, "finance.IssueCreditNote", "%s", body);
}

//  The credit notes of finance's stream, in order (caller frees each and
//  the array); the count, or -1.
static long
s_note_events (pm_client_t *c, Pm__Finance__CreditNote **notes, long max)
{
    Pm__Event **events;
    long n = itest_read_stream (c, &events);
    long count = 0;
    for (long i = 0; i < n; i++) {
        if (strcmp (events[i]->type, "finance.credit_note.issued") == 0 && count < max) {
            notes[count++] = pm__finance__credit_note__unpack (NULL, events[i]->data.len,
                                                               events[i]->data.data);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return n < 0 ? -1 : count;
}

//  --------------------------------------------------------------------------
//  Credit note numbers: each note takes its site's next number, 1, 2, 3...
//  in a series of its own (invoices keep theirs), written north-CN-000001;
//  a refused note takes none; a note of an invoice states its number; the
//  event carries the numbered note; finance.GetCreditNote finds a note by
//  id, by number text and by site and number, in the caller's sites only,
//  audited; statements show the numbers; SetSite keeps the counter.
static void
s_test_credit_note_numbers (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("fin", "finance", "north");
    itest_principal ("fin-east", "finance", "east");
    itest_principal ("desk-east", "front-desk", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *admin = itest_client (&svc);
    CHECK (s_site (admin, "north") && s_site (admin, "east"));
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *fin = itest_client_as (&svc, "fin");
    pm_client_t *fin_east = itest_client_as (&svc, "fin-east");
    int64_t t0 = pm_clock_wall_ms ();
    char chk[PM_ID_MAX], inv[PM_ID_MAX], notes[3][PM_ID_MAX];
    CHECK (s_charge (desk, PAT, "checkup", -1, chk));
    json_t *r = s_invoice (desk, PAT, chk);
    CHECK (r);
    snprintf (inv, sizeof inv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (desk, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "north-000001") == 0);
    json_decref (r);
    r = itest_req (desk, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\", \"mode\": \"CASH\", \"amount_minor\": 5000, "
                   "\"currency\": \"USD\"}", PAT);
    CHECK (r);
    json_decref (r);
    const char *wo = "{\"invoice_id\": \"%s\", \"kind\": \"CREDIT_WRITE_OFF\", "
                     "\"amount_minor\": %lld, \"reason\": \"hardship\"}";
    const char *rf = "{\"site_id\": \"north\", \"patient_id\": \"%s\", \"kind\": "
                     "\"CREDIT_REFUND\", \"mode\": \"CASH\", \"amount_minor\": %lld, "
                     "\"reason\": \"moving away\"}";

    //  The first note of the site: 1, stating the invoice it corrects.
    r = s_note (fin, 0, NULL, wo, inv, 1000);
    CHECK (r && s_num (r, "number") == 1);
    CHECK (strcmp (itest_json_str (r, "number_text"), "north-CN-000001") == 0);
    CHECK (strcmp (itest_json_str (r, "invoice_id"), inv) == 0);
    CHECK (strcmp (itest_json_str (r, "invoice_number_text"), "north-000001") == 0);
    snprintf (notes[0], PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);
    //  Refused notes (more than is due, more than the credit; and one by the
    //  front desk) take no number: the next is 2.
    r = s_note (fin, PM_EINVAL, "amount_minor", wo, inv, 20000);
    CHECK (r);
    json_decref (r);
    r = s_note (fin, PM_EINVAL, "amount_minor", rf, PAT, 9000);
    CHECK (r);
    json_decref (r);
    r = s_note (desk, PM_EFORBIDDEN, NULL, rf, PAT, 100);
    CHECK (r);
    json_decref (r);
    r = s_note (fin, 0, NULL, rf, PAT, 2000);
    CHECK (r && s_num (r, "number") == 2);
    CHECK (strcmp (itest_json_str (r, "number_text"), "north-CN-000002") == 0);
    CHECK (!itest_json_at (r, "invoice_number_text") && !itest_json_at (r, "invoice_id"));
    snprintf (notes[1], PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);
    //  Another site has its own series.
    r = itest_req (admin, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"east\", "
                   "\"patient_id\": \"%s\", \"mode\": \"CARD\", \"amount_minor\": 700, "
                   "\"currency\": \"USD\"}", PAT);
    CHECK (r);
    json_decref (r);
    r = itest_req (fin_east, 0, NULL, "finance.IssueCreditNote", "{\"site_id\": \"east\", "
                   "\"patient_id\": \"%s\", \"kind\": \"CREDIT_REFUND\", \"mode\": \"CARD\", "
                   "\"amount_minor\": 700, \"reason\": \"overpaid\"}", PAT);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "east-CN-000001") == 0);
    json_decref (r);
    //  Invoices keep their own series: the next invoice is 2.
    char xray[PM_ID_MAX], inv2[PM_ID_MAX];
    CHECK (s_charge (desk, PAT, "xray", 5000, xray));
    r = s_invoice (desk, PAT, xray);
    CHECK (r);
    snprintf (inv2, sizeof inv2, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (desk, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv2);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "north-000002") == 0);
    json_decref (r);
    //  Changing the site's fees keeps the counter.
    r = itest_req (admin, 0, NULL, "finance.GetSite", "{\"site_id\": \"north\"}");
    CHECK (r && s_num (r, "last_credit_note_number") == 2 && s_num (r, "last_invoice_number") == 2);
    long long version = s_num (r, "version");
    json_decref (r);
    r = itest_req (admin, 0, NULL, "finance.SetSite", "{\"site_id\": \"north\", \"currency\": "
                   "\"USD\", \"time_zone\": \"America/New_York\", \"no_show_fee_minor\": 3000, "
                   "\"late_cancel_fee_minor\": 1500, \"late_cancel_minutes\": 1440, "
                   "\"expected_version\": %lld}", version);
    CHECK (r && s_num (r, "last_credit_note_number") == 2);
    json_decref (r);
    r = s_note (fin, 0, NULL, wo, inv, 500);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "north-CN-000003") == 0);
    snprintf (notes[2], PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);

    //  The events carry the numbered notes.
    Pm__Finance__CreditNote *ev[8] = {NULL};
    long n_ev = s_note_events (admin, ev, 8);
    bool events_ok = n_ev == 4 && ev[0] && ev[1] && ev[2] && ev[3]
                     && ev[0]->number == 1 && strcmp (ev[0]->id, notes[0]) == 0
                     && ev[0]->invoice_number_text
                     && strcmp (ev[0]->invoice_number_text, "north-000001") == 0
                     && ev[1]->number == 2 && strcmp (ev[1]->number_text, "north-CN-000002") == 0
                     && strcmp (ev[2]->number_text, "east-CN-000001") == 0
                     && strcmp (ev[3]->number_text, "north-CN-000003") == 0
                     && ev[3]->amount_minor == 500 && strcmp (ev[3]->reason, "hardship") == 0;
    for (long i = 0; i < n_ev && i < 8; i++) {
        pm__finance__credit_note__free_unpacked (ev[i], NULL);
    }
    CHECK (events_ok);

    //  Found by id, by number text, by site and number.
    const char *get = "finance.GetCreditNote";
    r = itest_req (desk, 0, NULL, get, "{\"credit_note_id\": \"%s\"}", notes[0]);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "north-CN-000001") == 0);
    CHECK (strcmp (itest_json_str (r, "invoice_number_text"), "north-000001") == 0);
    json_decref (r);
    r = itest_req (desk, 0, NULL, get, "{\"number_text\": \"north-CN-000002\"}");
    CHECK (r && strcmp (itest_json_str (r, "id"), notes[1]) == 0 && s_num (r, "amount_minor") == 2000);
    json_decref (r);
    r = itest_req (desk, 0, NULL, get, "{\"site_id\": \"north\", \"number\": 3}");
    CHECK (r && strcmp (itest_json_str (r, "id"), notes[2]) == 0);
    json_decref (r);
    r = itest_req (fin_east, 0, NULL, get, "{\"number_text\": \"east-CN-000001\"}");
    CHECK (r && strcmp (itest_json_str (r, "site_id"), "east") == 0);
    json_decref (r);
    CHECK (s_is (desk, PM_ENOTFOUND, "number_text", get, "{\"number_text\": \"north-CN-000004\"}"));
    CHECK (s_is (desk, PM_ENOTFOUND, "site_id", get, "{\"site_id\": \"north\", \"number\": 4}"));
    CHECK (s_is (desk, PM_EINVAL, "number_text", get, "{\"number_text\": \"north-000001\"}"));
    CHECK (s_is (desk, PM_EINVAL, "number_text", get, "{\"number_text\": \"north-CN-\"}"));
    CHECK (s_is (desk, PM_EINVAL, "number_text", get, "{\"number_text\": \"north-CN-0\"}"));
    CHECK (s_is (desk, PM_EINVAL, "number", get, "{\"site_id\": \"north\"}"));
    CHECK (s_is (desk, PM_EINVAL, "credit_note_id", get, "{}"));
    r = itest_req (desk, PM_EINVAL, "credit_note_id", get, "{\"credit_note_id\": \"%s\", "
                   "\"number_text\": \"north-CN-000001\"}", notes[0]);
    CHECK (r);
    json_decref (r);
    //  Another site's desk learns nothing, not even whether it exists.
    pm_client_t *desk_east = itest_client_as (&svc, "desk-east");
    r = itest_req (desk_east, PM_EFORBIDDEN, "credit_note_id", get, "{\"credit_note_id\": "
                   "\"%s\"}", notes[0]);
    CHECK (r);
    json_decref (r);
    CHECK (s_is (desk_east, PM_EFORBIDDEN, "number_text", get,
                 "{\"number_text\": \"north-CN-000001\"}"));
    CHECK (s_is (desk_east, PM_EFORBIDDEN, "number_text", get,
                 "{\"number_text\": \"north-CN-000099\"}"));

    //  The statement names each invoice and credit note by its number.
    r = itest_req (desk, 0, NULL, "finance.Statement", "{\"site_id\": \"north\", "
                   "\"patient_id\": \"%s\", \"from\": %lld, \"to\": %lld}", PAT,
                   (long long) t0 - 1000, (long long) pm_clock_wall_ms () + DAY_MS);
    CHECK (r);
    const char *want[] = {"north-000001", "north-CN-000001", "north-000002", "north-CN-000003"};
    size_t found = 0;
    json_t *entries = itest_json_at (r, "entries");
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        const char *kind = itest_json_str (e, "kind");
        bool doc = strcmp (kind, "ENTRY_INVOICE") == 0 || strcmp (kind, "ENTRY_CREDIT_NOTE") == 0;
        if (doc && found < 4 && strcmp (itest_json_str (e, "number_text"), want[found]) == 0) {
            found++;
        }
        else if (doc || itest_json_at (e, "number_text")) {
            found = 99; //  a document without its number, or a number elsewhere
        }
    }
    json_decref (r);
    CHECK (found == 4);
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    CHECK (s_audits (aud, notes[0], "finance.GetCreditNote", PM__CODE__OK) == 1);
    CHECK (s_audits (aud, notes[0], "finance.GetCreditNote", PM__CODE__EFORBIDDEN) == 1);
    CHECK (s_audits (aud, notes[1], "finance.GetCreditNote", PM__CODE__OK) == 1);
    pm_client_destroy (&aud);
    pm_client_destroy (&desk_east);
    pm_client_destroy (&fin_east);
    pm_client_destroy (&fin);
    pm_client_destroy (&desk);
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

#define ISSUERS 4
#define NOTES_EACH 30 //  every sixth refused

//  --------------------------------------------------------------------------
//  Several finance clients issue credit notes at the same site at once,
//  some of them refused: the notes issued have the numbers 1..N exactly,
//  none twice and none missing, and the site's counter ends at N.
static void
s_test_credit_note_numbers_concurrent (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    itest_principal ("fin", "finance", "north");
    pm_client_t *admin = itest_client (&svc);
    CHECK (s_site (admin, "north"));
    char chg[PM_ID_MAX], inv[PM_ID_MAX];
    CHECK (s_charge (admin, PAT, "surgery", 1000000, chg));
    json_t *r = s_invoice (admin, PAT, chg);
    CHECK (r);
    snprintf (inv, sizeof inv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (admin, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r);
    json_decref (r);

    pm_client_t *clients[ISSUERS];
    zpoller_t *poller = zpoller_new (NULL);
    uint64_t refused_ids[ISSUERS][NOTES_EACH];
    int n_refused[ISSUERS] = {0};
    for (int c = 0; c < ISSUERS; c++) {
        clients[c] = itest_client_as (&svc, "fin");
        CHECK (clients[c]);
        zpoller_add (poller, pm_client_sock (clients[c]));
    }
    //  Everything is sent before any reply is read: the requests wait
    //  together and the service takes them in batches.
    int expected_ok = 0;
    for (int i = 0; i < NOTES_EACH; i++) {
        for (int c = 0; c < ISSUERS; c++) {
            bool refuse = i % 6 == 5;
            Pm__Finance__IssueCreditNote q = PM__FINANCE__ISSUE_CREDIT_NOTE__INIT;
            q.invoice_id = inv;
            q.has_kind = q.has_amount_minor = 1;
            q.kind = PM__FINANCE__CREDIT_NOTE_KIND__CREDIT_WRITE_OFF;
            q.amount_minor = refuse ? 2000000 : 1 + c;
            q.reason = "goodwill";
            uint8_t body[256];
            size_t len = pm__finance__issue_credit_note__pack (&q, body);
            uint64_t id = pm_client_send (clients[c], 0, "finance.IssueCreditNote", body, len);
            if (refuse) {
                refused_ids[c][n_refused[c]++] = id;
            }
            else {
                expected_ok++;
            }
        }
    }
    bool seen[ISSUERS * NOTES_EACH + 1] = {false};
    int ok = 0, refused = 0, wrong = 0, replies = 0;
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (replies < ISSUERS * NOTES_EACH && itest_now () < until) {
        zsock_t *which = zpoller_wait (poller, 500);
        if (!which) {
            continue;
        }
        int c = 0;
        while (pm_client_sock (clients[c]) != which) {
            c++;
        }
        Pm__Reply *reply = pm_client_recv (clients[c], 0);
        if (!reply) {
            continue;
        }
        replies++;
        bool should_refuse = false;
        for (int k = 0; k < n_refused[c]; k++) {
            should_refuse |= refused_ids[c][k] == reply->request_id;
        }
        if (reply->code == PM__CODE__EINVAL && should_refuse) {
            refused++;
        }
        else if (reply->code == PM__CODE__OK && !should_refuse) {
            Pm__Finance__CreditNote *n = pm__finance__credit_note__unpack (
                NULL, reply->body.len, reply->body.data);
            char text[64];
            snprintf (text, sizeof text, "north-CN-%06llu",
                      n ? (unsigned long long) n->number : 0ULL);
            if (n && n->number >= 1 && n->number <= (uint64_t) expected_ok
                && !seen[n->number] && strcmp (n->number_text, text) == 0) {
                seen[n->number] = true;
                ok++;
            }
            else {
                fprintf (stderr, "    note number %llu: repeated or out of range\n",
                         n ? (unsigned long long) n->number : 0ULL);
                wrong++;
            }
            pm__finance__credit_note__free_unpacked (n, NULL);
        }
        else {
            wrong++;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
    zpoller_destroy (&poller);
    for (int c = 0; c < ISSUERS; c++) {
        pm_client_destroy (&clients[c]);
    }
    CHECK (wrong == 0 && ok == expected_ok && refused == ISSUERS * NOTES_EACH - expected_ok);
    r = itest_req (admin, 0, NULL, "finance.GetSite", "{\"site_id\": \"north\"}");
    CHECK (r && s_num (r, "last_credit_note_number") == expected_ok);
    json_decref (r);
    //  Every number leads to its note.
    for (int k = 1; k <= expected_ok; k++) {
        r = itest_req (admin, 0, NULL, "finance.GetCreditNote", "{\"site_id\": \"north\", "
                       "\"number\": %d}", k);
        CHECK (r && s_num (r, "number") == k);
        json_decref (r);
    }
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

//  Copies each key (the scan's memory is the map's).
static int
s_copy_key (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    zlist_t *keys = arg;
    char *k = malloc (key->mv_size + 1);
    memcpy (k, key->mv_data, key->mv_size);
    k[key->mv_size] = 0;
    zlist_append (keys, k);
    return 0;
}

//  Makes a stopped finance store look like one from before credit note
//  numbers: every note loses its number, its number text and its
//  invoice's number, every site its counter. The notes changed, or -1.
static long
s_unnumber_notes (itest_svc_t *svc)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store", svc->dir);
    pm_store_t *store = pm_store_new (path, 1 << 26, 1ULL << 32);
    MDB_dbi dbs[2];
    MDB_txn *txn = NULL;
    if (!store || pm_store_dbi (store, "notes", 0, &dbs[0]) != PM_OK
        || pm_store_dbi (store, "sites", 0, &dbs[1]) != PM_OK
        || pm_store_begin (store, NULL, true, &txn) != PM_OK) {
        pm_store_destroy (&store);
        return -1;
    }
    long changed = 0;
    pm_err rc = PM_OK;
    for (int d = 0; d < 2 && rc == PM_OK; d++) {
        zlist_t *keys = zlist_new ();
        zlist_autofree (keys);
        rc = pm_key_scan (txn, dbs[d], NULL, 0, NULL, s_copy_key, keys);
        for (char *k = zlist_first (keys); k && rc == PM_OK; k = zlist_next (keys)) {
            ProtobufCMessage *m = NULL;
            rc = pm_store_get_msg (txn, dbs[d], k, strlen (k),
                                   d == 0 ? &pm__finance__credit_note__descriptor
                                          : &pm__finance__site_finance__descriptor, &m);
            if (rc == PM_OK && d == 0) {
                Pm__Finance__CreditNote *n = (Pm__Finance__CreditNote *) m;
                rc = n->has_number ? PM_OK : PM_EINTERNAL; //  each had one
                n->has_number = 0;
                free (n->number_text);
                free (n->invoice_number_text);
                n->number_text = n->invoice_number_text = NULL;
                changed++;
            }
            else if (rc == PM_OK) {
                ((Pm__Finance__SiteFinance *) m)->has_last_credit_note_number = 0;
            }
            if (rc == PM_OK) {
                rc = pm_store_put_msg (txn, dbs[d], k, strlen (k), m, 0);
            }
            protobuf_c_message_free_unpacked (m, NULL);
        }
        zlist_destroy (&keys);
    }
    bool ok = rc == PM_OK && pm_store_commit (txn) == PM_OK;
    if (rc != PM_OK) {
        pm_store_abort (txn);
    }
    pm_store_destroy (&store);
    return ok ? changed : -1;
}

//  --------------------------------------------------------------------------
//  A store from before credit note numbers: at start its notes are
//  numbered per site in the order they were issued, with the number of
//  the invoice each corrects, found by number, and the next note goes on
//  from the last.
static void
s_test_credit_note_numbers_old_store (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "finance", "pm-finance");
    CHECK (s_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north") && s_site (c, "east"));
    char chg[PM_ID_MAX], inv[PM_ID_MAX];
    CHECK (s_charge (c, PAT, "checkup", -1, chg));
    json_t *r = s_invoice (c, PAT, chg);
    CHECK (r);
    snprintf (inv, sizeof inv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "finance.IssueInvoice", "{\"invoice_id\": \"%s\"}", inv);
    CHECK (r);
    json_decref (r);
    for (int i = 0; i < 2; i++) {
        r = itest_req (c, 0, NULL, "finance.RecordPayment", "{\"site_id\": \"%s\", "
                       "\"patient_id\": \"%s\", \"mode\": \"CASH\", \"amount_minor\": 1000, "
                       "\"currency\": \"USD\"}", i ? "east" : "north", PAT);
        CHECK (r);
        json_decref (r);
    }
    //  Issued in this order (amounts tell them apart): north, east, north,
    //  east, north, the first north one of the invoice.
    struct {
        const char *site;
        long long amount;
        const char *text;
        char id[PM_ID_MAX];
    } issued[] = {{"north", 301, "north-CN-000001", ""}, {"east", 102, "east-CN-000001", ""},
                  {"north", 203, "north-CN-000002", ""}, {"east", 104, "east-CN-000002", ""},
                  {"north", 305, "north-CN-000003", ""}};
    size_t n_issued = sizeof issued / sizeof issued[0];
    for (size_t i = 0; i < n_issued; i++) {
        if (i == 0 || i == n_issued - 1) {
            r = itest_req (c, 0, NULL, "finance.IssueCreditNote", "{\"invoice_id\": \"%s\", "
                           "\"kind\": \"CREDIT_WRITE_OFF\", \"amount_minor\": %lld, "
                           "\"reason\": \"goodwill\"}", inv, issued[i].amount);
        }
        else {
            r = itest_req (c, 0, NULL, "finance.IssueCreditNote", "{\"site_id\": \"%s\", "
                           "\"patient_id\": \"%s\", \"kind\": \"CREDIT_REFUND\", \"mode\": "
                           "\"CASH\", \"amount_minor\": %lld, \"reason\": \"overpaid\"}",
                           issued[i].site, PAT, issued[i].amount);
        }
        CHECK (r && strcmp (itest_json_str (r, "number_text"), issued[i].text) == 0);
        snprintf (issued[i].id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
        json_decref (r);
    }
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    CHECK (s_unnumber_notes (&svc) == (long) n_issued);
    //  The number index and the migration markers go too.
    CHECK (itest_store_forget (&svc, "index", "NM") >= (long) n_issued + 1);
    CHECK (itest_start (&svc) == 0);
    c = itest_client (&svc);
    for (size_t i = 0; i < n_issued; i++) {
        r = itest_req (c, 0, NULL, "finance.GetCreditNote", "{\"credit_note_id\": \"%s\"}",
                       issued[i].id);
        CHECK (r && strcmp (itest_json_str (r, "number_text"), issued[i].text) == 0);
        CHECK (s_num (r, "amount_minor") == issued[i].amount);
        bool of_invoice = i == 0 || i == n_issued - 1;
        CHECK (strcmp (itest_json_str (r, "invoice_number_text"),
                       of_invoice ? "north-000001" : "") == 0);
        json_decref (r);
        r = itest_req (c, 0, NULL, "finance.GetCreditNote", "{\"number_text\": \"%s\"}",
                       issued[i].text);
        CHECK (r && strcmp (itest_json_str (r, "id"), issued[i].id) == 0);
        json_decref (r);
    }
    r = itest_req (c, 0, NULL, "finance.GetSite", "{\"site_id\": \"east\"}");
    CHECK (r && s_num (r, "last_credit_note_number") == 2);
    json_decref (r);
    //  New notes go on from the last.
    r = itest_req (c, 0, NULL, "finance.IssueCreditNote", "{\"invoice_id\": \"%s\", "
                   "\"kind\": \"CREDIT_WRITE_OFF\", \"amount_minor\": 1, \"reason\": "
                   "\"goodwill\"}", inv);
    CHECK (r && strcmp (itest_json_str (r, "number_text"), "north-CN-000004") == 0);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  The number texts of a list reply, space-separated, into `out` (256).
static const char *
s_numbers (json_t *r, char *out)
{
    out[0] = 0;
    json_t *notes = itest_json_at (r, "credit_notes");
    for (size_t i = 0; i < json_array_size (notes); i++) {
        const char *t = json_string_value (json_object_get (json_array_get (notes, i),
                                                            "number_text"));
        size_t len = strlen (out);
        snprintf (out + len, 256 - len, "%s%s", len ? " " : "", t ? t : "?");
    }
    return out;
}

//  A list of credit notes (JSON query) as "numbers | next token" into
//  `out` (400); "" when the call failed.
static const char *
s_list_notes (pm_client_t *c, char *out, const char *fmt, ...)
{
    char body[512], numbers[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (body, sizeof body, fmt, ap);
    va_end (ap);
    json_t *r = itest_req (c, 0, NULL, "finance.ListCreditNotes", "%s", body);
    snprintf (out, 400, r ? "%s | %s" : "", s_numbers (r, numbers),
              itest_json_str (r, "next_page_token"));
    json_decref (r);
    return out;
}

//  --------------------------------------------------------------------------
//  finance.ListCreditNotes: an invoice's credit notes in number order with
//  their numbers and the invoice's; a site's notes over a period in issue
//  order (another site's stay out), page by page; bad input and tokens of
//  another list refused; the caller's sites only; every listed note on the
//  audit log. A store from before the lists gets them at start.
static void
s_test_credit_note_lists (void)
{
    itest_svc_t svc;
    char env[64];
    itest_svc_init (&svc, "finance", "pm-finance");
    snprintf (env, sizeof env, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc (2027, 6, 1, 12, 0) - pm_clock_wall_ms ()));
    svc.env[0] = env;
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("fin-east", "finance", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north") && s_site (c, "east"));
    char i1[PM_ID_MAX], i2[PM_ID_MAX], ie[PM_ID_MAX], pay[PM_ID_MAX], date[16];
    char n6[PM_ID_MAX], ne[PM_ID_MAX], token[PM_ID_MAX];
    const char *wo = "{\"invoice_id\": \"%s\", \"kind\": \"CREDIT_WRITE_OFF\", "
                     "\"amount_minor\": %d, \"reason\": \"goodwill\"}";
    //  June 1: notes 1 and 2 of north-000001, 3 of north-000002.
    CHECK (s_sale (c, "north", 12000, 5000, i1, pay, date));
    CHECK (s_sale (c, "north", 3000, 0, i2, pay, date));
    CHECK (s_do (c, "finance.IssueCreditNote", wo, i1, 100));
    CHECK (s_do (c, "finance.IssueCreditNote", "{\"invoice_id\": \"%s\", \"kind\": "
                 "\"CREDIT_REFUND\", \"mode\": \"CASH\", \"amount_minor\": 200, "
                 "\"reason\": \"overcharged\"}", i1));
    CHECK (s_do (c, "finance.IssueCreditNote", wo, i2, 300));
    //  June 2: 4 a refund of credit (no invoice), 5 of north-000001; east's first.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 6, 2, 12, 0)));
    CHECK (s_do (c, "finance.RecordPayment", "{\"site_id\": \"north\", \"patient_id\": "
                 "\"%s\", \"mode\": \"CASH\", \"amount_minor\": 1000, \"currency\": \"USD\"}",
                 PAT));
    CHECK (s_do (c, "finance.IssueCreditNote", "{\"site_id\": \"north\", \"patient_id\": "
                 "\"%s\", \"kind\": \"CREDIT_REFUND\", \"mode\": \"CASH\", \"amount_minor\": "
                 "400, \"reason\": \"overpaid\"}", PAT));
    CHECK (s_do (c, "finance.IssueCreditNote", wo, i1, 500));
    CHECK (s_sale (c, "east", 999, 0, ie, pay, date));
    json_t *r = itest_req (c, 0, NULL, "finance.IssueCreditNote", wo, ie, 50);
    snprintf (ne, sizeof ne, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    //  June 3: 6 of north-000002.
    CHECK (s_clock_at (&svc, &c, env, sizeof env, s_utc (2027, 6, 3, 12, 0)));
    r = itest_req (c, 0, NULL, "finance.IssueCreditNote", wo, i2, 600);
    snprintf (n6, sizeof n6, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);

    char got[400];
    const char *list = "finance.ListCreditNotes";
    //  An invoice's notes, with the invoice's number.
    r = itest_req (c, 0, NULL, list, "{\"invoice_id\": \"%s\"}", i1);
    CHECK (r && json_array_size (itest_json_at (r, "credit_notes")) == 3);
    CHECK (strcmp (itest_json_str (r, "credit_notes[0].number_text"), "north-CN-000001") == 0);
    CHECK (strcmp (itest_json_str (r, "credit_notes[1].invoice_number_text"),
                   "north-000001") == 0);
    CHECK (s_num (r, "credit_notes[1].amount_minor") == 200);
    CHECK (strcmp (itest_json_str (r, "credit_notes[1].kind"), "CREDIT_REFUND") == 0);
    CHECK (strcmp (itest_json_str (r, "credit_notes[2].number_text"), "north-CN-000005") == 0);
    CHECK (strcmp (itest_json_str (r, "next_page_token"), "") == 0);
    json_t *i1_all = r;
    CHECK (strcmp (s_list_notes (c, got, "{\"invoice_id\": \"%s\"}", i2),
                   "north-CN-000003 north-CN-000006 | ") == 0);
    //  Page by page: the token is the last note of the page.
    r = itest_req (c, 0, NULL, list, "{\"invoice_id\": \"%s\", \"page_size\": 2}", i1);
    CHECK (r && json_array_size (itest_json_at (r, "credit_notes")) == 2);
    snprintf (token, sizeof token, "%s", itest_json_str (r, "next_page_token"));
    CHECK (strcmp (token, itest_json_str (r, "credit_notes[1].id")) == 0);
    json_decref (r);
    CHECK (strcmp (s_list_notes (c, got, "{\"invoice_id\": \"%s\", \"page_size\": 2, "
                                 "\"page_token\": \"%s\"}", i1, token),
                   "north-CN-000005 | ") == 0);
    //  A site's notes in issue order, paged; over a period (UTC instants).
    r = itest_req (c, 0, NULL, list, "{\"site_id\": \"north\", \"page_size\": 4}");
    CHECK (r && strcmp (s_numbers (r, got), "north-CN-000001 north-CN-000002 "
                        "north-CN-000003 north-CN-000004") == 0);
    snprintf (token, sizeof token, "%s", itest_json_str (r, "next_page_token"));
    json_decref (r);
    CHECK (strcmp (s_list_notes (c, got, "{\"site_id\": \"north\", \"page_size\": 4, "
                                 "\"page_token\": \"%s\"}", token),
                   "north-CN-000005 north-CN-000006 | ") == 0);
    long long d2 = s_utc (2027, 6, 2, 0, 0), d3 = s_utc (2027, 6, 3, 0, 0);
    CHECK (strcmp (s_list_notes (c, got, "{\"site_id\": \"north\", \"from\": %lld, "
                                 "\"to\": %lld}", d2, d3),
                   "north-CN-000004 north-CN-000005 | ") == 0);
    CHECK (strcmp (s_list_notes (c, got, "{\"site_id\": \"north\", \"from\": %lld}", d3),
                   "north-CN-000006 | ") == 0);
    CHECK (strcmp (s_list_notes (c, got, "{\"site_id\": \"north\", \"to\": %lld}", d2),
                   "north-CN-000001 north-CN-000002 north-CN-000003 | ") == 0);
    CHECK (strcmp (s_list_notes (c, got, "{\"site_id\": \"east\"}"), "east-CN-000001 | ")
           == 0);
    json_t *north_all = itest_req (c, 0, NULL, list, "{\"site_id\": \"north\"}");
    CHECK (north_all && json_array_size (itest_json_at (north_all, "credit_notes")) == 6);

    //  Bad input: one of invoice and site; a period with a site; pages.
    CHECK (s_is (c, PM_EINVAL, "invoice_id", list, "{}"));
    char body[300];
    snprintf (body, sizeof body, "{\"invoice_id\": \"%s\", \"site_id\": \"north\"}", i1);
    CHECK (s_is (c, PM_EINVAL, "invoice_id", list, body));
    snprintf (body, sizeof body, "{\"invoice_id\": \"%s\", \"from\": 5}", i1);
    CHECK (s_is (c, PM_EINVAL, "from", list, body));
    CHECK (s_is (c, PM_EINVAL, "to", list, "{\"site_id\": \"north\", \"from\": 5, \"to\": 5}"));
    CHECK (s_is (c, PM_EINVAL, "page_size", list, "{\"site_id\": \"north\", \"page_size\": "
                 "1001}"));
    CHECK (s_is (c, PM_EINVAL, "page_size", list, "{\"site_id\": \"north\", \"page_size\": 0}"));
    snprintf (body, sizeof body, "{\"invoice_id\": \"%s\", \"page_token\": \"%s\"}", i1, n6);
    CHECK (s_is (c, PM_EINVAL, "page_token", list, body)); //  a note of the other invoice
    snprintf (body, sizeof body, "{\"site_id\": \"north\", \"page_token\": \"%s\"}", ne);
    CHECK (s_is (c, PM_EINVAL, "page_token", list, body)); //  east's
    CHECK (s_is (c, PM_EINVAL, "page_token", list, "{\"site_id\": \"north\", \"page_token\": "
                 "\"nonsense\"}"));
    CHECK (s_is (c, PM_ENOTFOUND, "invoice_id", list, "{\"invoice_id\": "
                 "\"inv_01m8e8rx5n3r2py41feft8x8rn\"}"));
    //  Scope: the caller's sites; the desk reads billing records.
    pm_client_t *east = itest_client_as (&svc, "fin-east");
    pm_client_t *desk = itest_client_as (&svc, "desk");
    CHECK (s_is (east, PM_EFORBIDDEN, "site_id", list, "{\"site_id\": \"north\"}"));
    snprintf (body, sizeof body, "{\"invoice_id\": \"%s\"}", i1);
    CHECK (s_is (east, PM_EFORBIDDEN, "invoice_id", list, body));
    CHECK (strcmp (s_list_notes (east, got, "{\"site_id\": \"east\"}"), "east-CN-000001 | ")
           == 0);
    CHECK (strcmp (s_list_notes (desk, got, "{\"invoice_id\": \"%s\"}", i2),
                   "north-CN-000003 north-CN-000006 | ") == 0);
    //  Audit: the note of June 3 was listed by invoice (admin, desk), in
    //  the site's second page, the period from June 3, the whole site.
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    CHECK (s_audits (aud, n6, "finance.ListCreditNotes", PM__CODE__OK) == 5);
    CHECK (s_audits (aud, ne, "finance.ListCreditNotes", PM__CODE__OK) == 2);
    pm_client_destroy (&aud);
    pm_client_destroy (&desk);
    pm_client_destroy (&east);

    //  A store from before the lists: built at start, the same lists.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    CHECK (itest_store_forget (&svc, "index", "VWM") >= 7 + 4 + 7);
    CHECK (itest_start (&svc) == 0);
    c = itest_client (&svc);
    r = itest_req (c, 0, NULL, list, "{\"invoice_id\": \"%s\"}", i1);
    CHECK (r && json_equal (r, i1_all));
    json_decref (r);
    r = itest_req (c, 0, NULL, list, "{\"site_id\": \"north\"}");
    CHECK (r && json_equal (r, north_all));
    json_decref (r);
    json_decref (i1_all);
    json_decref (north_all);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

static const itest_case_t s_cases[] = {
    {"prices_and_policy", s_test_prices_and_policy},
    {"charges_exactly_once", s_test_charges_exactly_once},
    {"priced_by_code", s_test_priced_by_code},
    {"manual_charges", s_test_manual_charges},
    {"invoices_and_payments", s_test_invoices_and_payments},
    {"payment_reversal", s_test_payment_reversal},
    {"daily_close", s_test_daily_close},
    {"merge_repoints", s_test_merge_repoints},
    {"budgets", s_test_budgets},
    {"payroll_actuals", s_test_payroll_actuals},
    {"payroll_repriced", s_test_payroll_repriced},
    {"site_follows_staffing", s_test_site_follows_staffing},
    {"hires_counted_once", s_test_hires_counted_once},
    {"recruitment_costs_once", s_test_recruitment_costs},
    {"revenue_and_aging", s_test_revenue_and_aging},
    {"budget_revenue_months", s_test_budget_revenue_months},
    {"aging_past", s_test_aging_past},
    {"credit_note_numbers", s_test_credit_note_numbers},
    {"credit_note_numbers_concurrent", s_test_credit_note_numbers_concurrent},
    {"credit_note_numbers_old_store", s_test_credit_note_numbers_old_store},
    {"credit_note_lists", s_test_credit_note_lists},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
