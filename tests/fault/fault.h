/*  fault.h: what the fault suites share: a seeded random source, a load
    driver (many clients, each with one command in flight, resending the
    same request id until it is answered, across kills), the history of
    acknowledged commands, and the history checker.

    A service joins the fault suites through a workload (fault_workload_t):
    how its users' next command is made, what an acknowledgement teaches
    them, and how to read a record back. The driver and the checker are
    the same for every service; see fault_patients.c for one workload.
    To add a service: write tests/fault/fault_<service>.c defining
    fault_<service> (a workload), declare it below, add <service> to
    FAULT_WORKLOADS in fault.mk, and give it a case in fault_kill.c.     */
#ifndef FAULT_H
#define FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "itest.h"
#include "pm_test.pb-c.h"

//  --- seeded randomness ------------------------------------------------------

typedef struct {
    uint64_t s;
} fault_rng_t;

//  The seed of this run: $FAULT_SEED if set, else a fresh one. Printed,
//  so that a failing run can be replayed.
uint64_t fault_seed (const char *suite);

void fault_rng_init (fault_rng_t *rng, uint64_t seed);

//  A number in [0, n).
uint64_t fault_rand (fault_rng_t *rng, uint64_t n);

//  Prints the service log's warnings and errors, the last `max` of them.
void fault_show_log (const itest_svc_t *svc, int max);

//  The high seq of the service's stream (0 when it does not answer).
uint64_t fault_high_seq (pm_client_t *client);

//  Waits up to `ms` until the service's cursor on `source`'s stream is
//  `seq`; returns the cursor then.
uint64_t fault_cursor_wait (pm_client_t *client, const char *source, uint64_t seq, int ms);

//  --- workloads ---------------------------------------------------------------

typedef struct {
    const char *service;       //  "patients"
    const char *binary;        //  "pm-patients"
    int events_per_command;    //  each acknowledged write emits this many
    const char *state_events;  //  type prefix of events carrying the record
    bool mirrored;             //  pm_mirror follows it: consumer checks run
    //  A user's own model of what it made (its records and versions).
    void *(*model_new) (int user);
    void (*model_destroy) (void *model);
    //  The user's next command: `type` (64 bytes) and a packed body
    //  (malloc'd, *len bytes).
    void (*next) (void *model, fault_rng_t *rng, char *type, uint8_t **body,
                  size_t *len);
    //  An acknowledged command: the model learns from the reply, and the
    //  record it concerns goes to `subject` (PM_ID_MAX bytes).
    void (*acked) (void *model, const char *type, const Pm__Reply *reply,
                   char *subject);
    //  How to read the subject's record as stored now: the command (`type`,
    //  64 bytes) and its packed body (malloc'd, *len bytes) whose reply is
    //  the record packed as its events carry it. The checker sends many
    //  at once.
    void (*read) (const char *subject, char *type, uint8_t **body, size_t *len);
    //  The version a record carries (state events' data).
    uint64_t (*version) (const uint8_t *data, size_t len);
    //  A final refusal: true when the user expected it (counted as
    //  declined, not refused), e.g. a start that passed while the service
    //  was down. The model learns that the command did nothing. NULL: no
    //  refusal is ever expected.
    bool (*refusal_ok) (void *model, const char *type, const Pm__Reply *reply);
    //  Before the load (NULL: nothing): what every user needs, made through
    //  the service's commands; returns the events it made (0: it failed).
    uint64_t (*setup) (pm_client_t *client);
    //  For a service whose commands change records of several kinds (NULL:
    //  as above). Whether events of `type` carry a record's state (instead
    //  of the state_events prefix); version() reads all of them.
    bool (*is_state) (const char *type);
    //  The state a reply acknowledged, packed as its subject's event
    //  carries it (malloc'd), when the reply holds more than the record.
    //  NULL: the reply body is the state.
    uint8_t *(*reply_state) (const char *type, const Pm__Reply *reply, size_t *len);
    //  Events the service makes on its own, not from a client's write (a
    //  follower's re-validation, a timer): counted, not held against the
    //  history. NULL: there are none; every event must come from a write.
    bool (*own_event) (const Pm__Event *event);
    //  How many versions the record in `event` moves on from its previous
    //  event: a command that takes a record through two steps in one
    //  transaction. NULL: always 1.
    uint64_t (*version_step) (const Pm__Event *event);
} fault_workload_t;

extern const fault_workload_t fault_patients;
extern const fault_workload_t fault_patients_new;  //  registrations only
extern const fault_workload_t fault_scheduling;
extern const fault_workload_t fault_staffing;
extern const fault_workload_t fault_recruitment;

//  --- the hiring office: recruitment, staffing following its hires ----------

//  Starts staffing (a site "north" in New York) and recruitment, each
//  following the other. 0 on success.
int fault_hiring_start (itest_svc_t *staffing, itest_svc_t *recruitment);

//  What the hire check found.
typedef struct {
    size_t hired;            //  candidates hired, by any account
    size_t staff;            //  staff records at the site
    size_t rejected;         //  staffing.hire.rejected events
    uint64_t rec_high_seq, stf_cursor;  //  recruitment's stream, staffing there
    uint64_t stf_high_seq, rec_cursor;  //  and the other way round
} fault_hires_t;

//  The hire check: waits (bounded) until staffing's cursor on
//  recruitment's stream reaches its end (and recruitment's on staffing's
//  stream, for rosters, reaches that one's), then holds staffing against
//  recruitment: every candidate recruitment hired (one
//  recruitment.candidate.hired, their application HIRED) has exactly one
//  staff record and one staffing.staff.onboarded, and nobody else has
//  any; staffing rejected no hire. `drop` (NULL: none) is a candidate the
//  check pretends recruitment never hired (its self-test). Returns the
//  number of problems (printed unless `quiet`).
int fault_check_hires (pm_client_t *rec, pm_client_t *stf, const char *drop, bool quiet,
                       fault_hires_t *out);

//  --- the clinic: staffing, patients, scheduling, finance -------------------

//  Starts the four services and fills them for `users` scheduling users:
//  a site in New York with a late-cancel window, practitioners with
//  shifts, a practice manager and a leave type, patients, a group-visit
//  type with a price and the site's fees in finance. Staffing's and
//  scheduling's clocks run at a weekday morning of March 2030. 0 on
//  success.
int fault_clinic_start (itest_svc_t *staffing, itest_svc_t *patients,
                        itest_svc_t *sched, itest_svc_t *fin, int users);

//  A patient registered during the load, for the users to book once
//  scheduling knows them.
void fault_clinic_patient (const char *id);

//  What became of the patients registered during the load: registered,
//  booked by the users, Books declined because scheduling did not know
//  them yet; Books declined because they fell into an approved leave.
typedef struct {
    size_t registered, booked, unknown, on_leave;
} fault_fresh_t;

void fault_clinic_fresh (fault_fresh_t *out);

//  After the load: books every registered patient the users did not
//  (scheduling must know each now). Returns the Books refused (printed).
int fault_clinic_book_rest (pm_client_t *sched, size_t *booked);

//  Books user `user`'s first patient with the practitioner of theirs who
//  takes leave (fault_clinic_leave), `hour` hours after midnight UTC of
//  the leave's day: the appointment's id into `id`. 0 when booked.
int fault_clinic_book_leave_day (pm_client_t *sched, int user, int hour, char *id);

//  One approved leave: whose, and its UTC range [start, end).
typedef struct {
    char id[PM_ID_MAX];
    char staff_id[PM_ID_MAX];
    int64_t start, end;
} fault_leave_t;

//  Requests and approves (as the practice manager) a day of leave for
//  user `user`'s practitioner who has bookings that day. 0 on success.
int fault_clinic_leave (pm_client_t *staffing, int user, fault_leave_t *out);

//  The fees fault_clinic_start sets, and the window that makes a
//  cancellation late.
typedef struct {
    int64_t price;            //  of a visit
    int64_t noshow_fee;
    int64_t late_fee;         //  a cancellation inside the window
    int64_t late_window_ms;   //  before the start
} fault_fees_t;

#define FAULT_VISIT_PRICE 12000
#define FAULT_NOSHOW_FEE 2500
#define FAULT_LATE_CANCEL_FEE 1500
#define FAULT_LATE_CANCEL_MINUTES 60

extern const fault_fees_t fault_clinic_fees;

//  What the money check found.
typedef struct {
    size_t fulfilled, noshows, cancelled;  //  appointments in the stream
    size_t late_cancels, early_cancels;    //  of the cancelled
    size_t charges;                        //  finance.charge.raised events
    uint64_t sched_high_seq, fin_cursor;
} fault_money_t;

//  The money check: waits (bounded) until finance's cursor on scheduling's
//  stream reaches the stream's high seq, then holds finance's charges
//  against scheduling's stream: every fulfilled appointment has exactly
//  one visit charge of the price, every no-show exactly one no-show fee,
//  every cancellation inside the late window (by the cancellation's time
//  and the start; the appointment's late_cancel must say the same)
//  exactly one late-cancel fee, an earlier one none; nothing else is
//  charged and nothing twice. Returns the number of problems (printed
//  unless `quiet`: the check's self-test).
int fault_check_money (pm_client_t *sched, pm_client_t *fin, const fault_fees_t *fees,
                       bool quiet, fault_money_t *out);

//  What the leave check found.
typedef struct {
    size_t in_leave[8];       //  bookings inside each leave
    size_t flagged;           //  appointments flagged at risk
    size_t at_risk_events;
} fault_risk_t;

//  The leave check: every booking (live when the leave was approved: the
//  users keep these) of a practitioner inside one of `leaves` (at most 8)
//  has exactly one scheduling.appointment.at_risk event, its flag's cause
//  that leave or a shift it released, no cause twice; no appointment
//  outside them has any. Returns the number of problems (printed unless
//  `quiet`).
int fault_check_leave (pm_client_t *sched, const fault_leave_t *leaves, int n_leaves,
                       bool quiet, fault_risk_t *out);

//  --- history ----------------------------------------------------------------

//  One acknowledged write.
typedef struct {
    char causation[96];     //  "<client_id>/<request_id>", as events carry it
    char type[64];
    char subject[PM_ID_MAX];
    uint8_t *reply;         //  the reply body
    size_t reply_len;
} fault_ack_t;

typedef struct {
    fault_ack_t *acks;
    size_t n, cap;
    size_t refused;         //  final refusals the workload did not expect
    size_t declined;        //  final refusals it expected (refusal_ok)
    size_t resent;          //  tries sent again (no answer, or a retryable code)
    uint64_t setup_events;  //  the stream's first events, made before the load
} fault_history_t;

//  --- the load driver -------------------------------------------------------

typedef struct _fault_load_t fault_load_t;

//  Called between polls of the load, to inject faults; may block.
typedef void (fault_tick_fn) (void *arg);

//  `users` clients of `svc` running workload `w` with randomness from `seed`.
fault_load_t *fault_load_new (const fault_workload_t *w, itest_svc_t *svc,
                              int users, uint64_t seed);
void fault_load_destroy (fault_load_t **self_p);

//  Runs the load for `ms` milliseconds, calling `tick` between polls.
void fault_load_run (fault_load_t *self, int ms, fault_tick_fn *tick, void *arg);

//  Users wait `ms` after each answer before their next command (a slower
//  load beside a busy one). 0, the default: no wait.
void fault_load_pace (fault_load_t *self, int ms);

//  One step of a load run beside another (from that one's tick): takes
//  the replies waiting, resends what went unanswered, starts what is due.
//  Never blocks.
void fault_load_step (fault_load_t *self);

//  Starts no new command; resends those in flight until each is answered.
//  0 when all were, -1 after `ms`.
int fault_load_drain (fault_load_t *self, int ms);

const fault_history_t *fault_load_history (fault_load_t *self);

//  --- the checker -------------------------------------------------------------

//  What the stream held, for comparing consumers with it.
typedef struct {
    uint64_t high_seq;      //  events in the stream
    uint64_t state_events;  //  of which carry a record's state
    uint64_t own_events;    //  of which the service made on its own
    size_t n_subjects;      //  records the state events describe
    char (*subjects)[PM_ID_MAX];
    uint64_t version_sum;   //  sum of each record's last version
} fault_stream_t;

//  Checks the service's stream and store against the history: the stream
//  is gap-free (seq 1..n, one stream id); every acknowledged write has
//  exactly its events, contiguous, one of them about its subject carrying
//  the state the reply gave; no event comes from a write that was not
//  acknowledged (but the workload's own_event ones); each record's
//  versions go up by one (version_step) from 1; each record's last event
//  equals the record read back now. Returns the number of problems (each
//  printed); fills `out` (fault_stream_free).
int fault_check_history (const fault_workload_t *w, pm_client_t *client,
                         const fault_history_t *history, fault_stream_t *out);

void fault_stream_free (fault_stream_t *stream);

//  Quiet: count problems without printing them (the checker's self-test).
void fault_check_quiet (bool quiet);

//  --- the test consumer (pm_mirror) -----------------------------------------

//  Waits until the mirror's cursor reaches the stream's high seq and it
//  has applied every state event; its stats then (caller frees), NULL
//  after `ms`.
Pm__Test__MirrorStats *fault_mirror_wait (pm_client_t *mirror,
                                          const fault_stream_t *stream, int ms);

//  Compares a mirror with the stream (stats) and with a fresh replay
//  (`fresh`: stats and every record, or a sample of `sample` records).
//  Returns the number of problems (each printed).
int fault_mirror_check (pm_client_t *mirror, pm_client_t *fresh,
                        const fault_stream_t *stream, size_t sample,
                        fault_rng_t *rng);

#endif
