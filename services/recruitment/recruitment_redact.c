/*  recruitment_redact.c: rewriting an erased candidate's older events.

    The erasure (recruitment_privacy.c, on request or when the retention
    ended) stores a job per candidate in "redactions"
    (CandidateEventRedaction, next_seq 1) in its own transaction. A timer
    (PM_RECRUITMENT_REDACT_EVERY_MS, default 250) takes the waiting jobs
    (at most JOBS_MAX, in key order) and makes one pass over at most
    PM_RECRUITMENT_REDACT_PER_PASS events (default 5000) from the lowest
    next_seq among them. An event whose data is of a kind the erasure has
    a rule for (candidate, application, interview, message and survey
    states: rec_erase_whose) and is about a job's candidate is rewritten
    to what that same rule leaves of it (rec_erase_fields); seq, type and
    subject stay (pm_ctx_events_rewrite), so the stream stays gap-free and
    every consumer's cursor valid. Jobs are worked together so that a
    retention run erasing many candidates walks the stream once, not once
    each; a job counts only the events from its own next_seq on. An event
    that reads erased already (the erasure's own) is kept as it is. When a
    pass reaches the end of the stream, every job in it is done: deleted,
    audited, and recruitment.candidate.events_redacted (subject: the
    candidate) tells systems that copied the raw stream to read it again.
    A restart goes on where the stored jobs were.

    recruitment.candidate.hired is not rewritten (CandidateHired has no
    rule): it hands a new employee over to staffing, which onboards from
    it (name and contact included) and keeps the person as staff under
    the employment; a replay or rebuild of staffing from this stream must
    find the same hire. The erasure of a hired candidate removes what
    recruitment alone held (CV reference, referrer, reasons, messages,
    survey comment, interview notes), not the employee.                    */
#include <stdlib.h>
#include <string.h>

#include "pm_cfg.h"
#include "recruitment_privacy.h"
#include "recruitment_redact.h"
#include "recruitment_schema.h"

#define JOBS_MAX 64              //  jobs one pass works for, at most
#define PER_PASS_DEFAULT 5000

typedef Pm__Recruitment__CandidateEventRedaction rec_job_t;

//  --------------------------------------------------------------------------
pm_err
rec_redaction_start (pm_ctx_t *ctx, const rec_cand_t *c)
{
    rec_job_t job = PM__RECRUITMENT__CANDIDATE_EVENT_REDACTION__INIT;
    job.candidate_id = c->id;
    job.site_id = c->n_site_ids ? c->site_ids[0] : NULL;
    job.has_erased_at = job.has_next_seq = job.has_events_seen = 1;
    job.has_events_redacted = 1;
    job.erased_at = pm_ctx_now (ctx);
    job.next_seq = 1;
    return rec_put (ctx, rec_db.redactions, c->id, &job.base);
}

//  The jobs of one pass and what the pass rewrote for each.
typedef struct {
    rec_job_t *jobs[JOBS_MAX];
    uint64_t redacted[JOBS_MAX];
    size_t n;
} s_pass_t;

//  The job that event `seq` about candidate `id` is for, or -1: one of
//  theirs that has not looked at it yet.
static int
s_job_of (const s_pass_t *pass, const char *id, uint64_t seq)
{
    for (size_t i = 0; id && i < pass->n; i++) {
        if (pass->jobs[i]->next_seq <= seq && strcmp (pass->jobs[i]->candidate_id, id) == 0) {
            return (int) i;
        }
    }
    return -1;
}

//  One stored event: its data as it reads once its candidate is erased,
//  when it is about a job's candidate and still carries their data.
static pm_err
s_rewrite_one (const Pm__Event *event, void *arg, uint8_t **data_out, size_t *len_out)
{
    s_pass_t *pass = arg;
    const pm_event_def_t *def = event->type ? pm_schema_event (&recruitment_schema,
                                                               event->type)
                                            : NULL;
    if (!def || !def->data || !event->has_data) {
        return PM_OK;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack (def->data, NULL, event->data.len,
                                                     event->data.data);
    int job = m ? s_job_of (pass, rec_erase_whose (m), event->seq) : -1;
    if (job >= 0) {
        rec_erase_fields (m);
        size_t len = protobuf_c_message_get_packed_size (m);
        uint8_t *packed = malloc (len + 1);
        if (!packed) {
            abort ();
        }
        protobuf_c_message_pack (m, packed);
        if (len == event->data.len && memcmp (packed, event->data.data, len) == 0) {
            free (packed); //  reads erased already: keep it
        }
        else {
            *data_out = packed;
            *len_out = len;
            pass->redacted[job]++;
        }
    }
    protobuf_c_message_free_unpacked (m, NULL);
    return PM_OK;
}

//  After a pass that ended before `next` (`done`: at the stream's end):
//  the job goes on from there, or is done and announced.
static pm_err
s_job_after (pm_ctx_t *ctx, rec_job_t *job, uint64_t redacted, uint64_t next, bool done)
{
    if (next > job->next_seq) {
        job->events_seen += next - job->next_seq;
        job->next_seq = next;
    }
    job->events_redacted += redacted;
    const char *id = job->candidate_id;
    if (!done) {
        return rec_put (ctx, rec_db.redactions, id, &job->base);
    }
    job->has_completed_at = 1;
    job->completed_at = pm_ctx_now (ctx);
    const char *site = job->site_id ? job->site_id : "";
    pm_ctx_audit (ctx, id, site);
    pm_err rc = pm_store_del (pm_ctx_txn (ctx), rec_db.redactions, id, strlen (id));
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "recruitment.candidate.events_redacted", site, id,
                          &job->base);
    }
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_redact_tick (pm_ctx_t *ctx)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.redactions,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    s_pass_t pass;
    memset (&pass, 0, sizeof pass);
    uint64_t from = UINT64_MAX;
    MDB_val key, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    while (mrc == 0 && pass.n < JOBS_MAX) {
        rec_job_t *job = pm__recruitment__candidate_event_redaction__unpack (
            NULL, val.mv_size, val.mv_data);
        if (!job || !job->candidate_id) {
            pm__recruitment__candidate_event_redaction__free_unpacked (job, NULL);
            rc = PM_EINTERNAL; //  we packed it
            break;
        }
        pass.jobs[pass.n++] = job;
        from = job->next_seq < from ? job->next_seq : from;
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    if (rc == PM_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = pm_err_from_mdb (mrc);
    }
    if (rc == PM_OK && pass.n > 0) {
        int64_t per_pass = pm_cfg_int ("PM_RECRUITMENT_REDACT_PER_PASS", PER_PASS_DEFAULT);
        uint64_t next;
        bool done;
        rc = pm_ctx_events_rewrite (ctx, from,
                                    per_pass < 1 ? 1
                                    : per_pass > UINT32_MAX ? UINT32_MAX
                                                            : (uint32_t) per_pass,
                                    s_rewrite_one, &pass, &next, &done);
        for (size_t i = 0; rc == PM_OK && i < pass.n; i++) {
            rc = s_job_after (ctx, pass.jobs[i], pass.redacted[i], next, done);
        }
    }
    for (size_t i = 0; i < pass.n; i++) {
        pm__recruitment__candidate_event_redaction__free_unpacked (pass.jobs[i], NULL);
    }
    return rc;
}
