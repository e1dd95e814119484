/*  register_load: sends a fixed number of patients.Register requests to a
    running service, keeping N in flight, and waits for every reply.
    `register_load ENDPOINT COUNT INFLIGHT`. For profiles (make profile):
    a fixed count makes instruction counts per request comparable between
    two builds, which wall-clock figures on a shared machine are not.    */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "itest.h"
#include "patients.pb-c.h"

#define REPLY_LIMIT_MS 10000

//  Realistic variety for a clinic network: common surnames and given names
//  repeat (as they do), birth dates spread over 90 years. Duplicate
//  detection, which runs on every registration, sees the clusters a real
//  register has, not a pathological single one.
static const char *s_families[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Okafor", "Adeyemi", "Tanaka", "Kim", "Patel", "Singh",
    "Cohen", "Muller", "Rossi", "Dubois", "Silva", "Novak", "Kowalski", "Ivanov"};
static const char *s_givens[] = {
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Carlos", "Ana", "Wei", "Yuki", "Ngozi", "Tunde", "Priya", "Omar"};

//  Packs a valid registration for patient `i`.
static size_t
s_make (long i, uint8_t *buf)
{
    char family[32], phone[32], dob[16];
    uint64_t h = (uint64_t) i * 0x9E3779B97F4A7C15ULL;
    snprintf (family, sizeof family, "%s",
              s_families[h % (sizeof s_families / sizeof s_families[0])]);
    snprintf (phone, sizeof phone, "+1 555 %07ld", i % 10000000);
    long day = (long) ((h >> 20) % 32870); //  1930-01-01 + up to 90 years
    time_t t = (time_t) (-1262304000L + day * 86400L);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (dob, sizeof dob, "%Y-%m-%d", &tm);
    char *given[] = {(char *) s_givens[(h >> 40) % (sizeof s_givens / sizeof s_givens[0])]};
    Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
    name.family = family;
    name.n_given = 1;
    name.given = given;
    Pm__Patients__ContactPoint cp = PM__PATIENTS__CONTACT_POINT__INIT;
    Pm__Patients__ContactPoint *tel[] = {&cp};
    cp.has_system = 1;
    cp.system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
    cp.value = phone;
    Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
    p.name = &name;
    p.birth_date = dob;
    p.home_site = "north";
    p.n_telecom = 1;
    p.telecom = tel;
    Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
    reg.patient = &p;
    return pm__patients__register__pack (&reg, buf);
}

int
main (int argc, char *argv[])
{
    if (argc != 4) {
        fprintf (stderr, "usage: register_load ENDPOINT COUNT INFLIGHT\n");
        return 2;
    }
    long count = atol (argv[2]);
    int inflight = atoi (argv[3]);
    if (count < 1 || inflight < 1 || inflight > 1024) {
        fprintf (stderr, "register_load: COUNT >= 1, INFLIGHT 1..1024\n");
        return 2;
    }
    pm_client_t **clients = calloc ((size_t) inflight, sizeof *clients);
    zpoller_t *poller = zpoller_new (NULL);
    uint8_t buf[512];
    long sent = 0, done = 0, failed = 0;
    for (int c = 0; c < inflight; c++) {
        clients[c] = pm_client_new ("patients", argv[1], NULL);
        zpoller_add (poller, pm_client_sock (clients[c]));
        if (sent < count) {
            pm_client_send (clients[c], 0, "patients.Register", buf, s_make (sent++, buf));
        }
    }
    int64_t started = zclock_mono ();
    while (done < count) {
        zsock_t *which = zpoller_wait (poller, REPLY_LIMIT_MS);
        if (!which) {
            fprintf (stderr, "register_load: no reply in %d ms\n", REPLY_LIMIT_MS);
            break;
        }
        for (int c = 0; c < inflight; c++) {
            if (pm_client_sock (clients[c]) != which) {
                continue;
            }
            Pm__Reply *reply = pm_client_recv (clients[c], 0);
            if (reply) {
                failed += reply->code != PM__CODE__OK;
                done++;
                pm__reply__free_unpacked (reply, NULL);
                if (sent < count) {
                    pm_client_send (clients[c], 0, "patients.Register", buf,
                                    s_make (sent++, buf));
                }
            }
        }
    }
    double secs = (double) (zclock_mono () - started) / 1000.0;
    printf ("register_load: %ld replies (%ld failed) in %.2f s, %.0f req/s\n", done,
            failed, secs, secs > 0 ? (double) done / secs : 0.0);
    for (int c = 0; c < inflight; c++) {
        pm_client_destroy (&clients[c]);
    }
    free (clients);
    zpoller_destroy (&poller);
    return done == count && failed == 0 ? 0 : 1;
}
