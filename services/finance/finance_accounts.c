/*  finance_accounts.c: patient accounts per site: the ledger, the balance
    and the credit; finance.GetAccount and finance.Statement.

    The balance is the sum of the ledger: invoices issued (+), payments
    (-), credit notes (-), refunds paid out (+), issued invoices cancelled
    (-). It is kept on the account record as entries are added, so reading
    it costs one get; a statement sums the entries before its period for
    the opening balance. A statement's entries of an invoice or a credit
    note carry that document's number as it is now (read from the record,
    so notes numbered after their entry was written show theirs too).  */
#include <stdlib.h>
#include <string.h>

#include "finance_accounts.h"
#include "pm_id.h"

typedef Pm__Finance__Account account_t;

static void
s_account_key (pm_key_t *k, const char *patient, const char *site)
{
    pm_key_init (k, 0);
    pm_key_str (k, patient);
    if (site) {
        pm_key_str (k, site);
    }
}

//  --------------------------------------------------------------------------
bool
fin_account_exists (MDB_txn *txn, const char *patient, const char *site)
{
    pm_key_t k;
    s_account_key (&k, patient, site);
    MDB_val val;
    return pm_store_get (txn, fin_db.accounts, k.b, k.len, &val) == PM_OK;
}

//  --------------------------------------------------------------------------
//  The account, or a zero one.
pm_err
fin_account_get (MDB_txn *txn, const char *patient, const char *site,
                 const char *currency, account_t **out)
{
    pm_key_t k;
    s_account_key (&k, patient, site);
    *out = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.accounts, k.b, k.len,
                                  &pm__finance__account__descriptor,
                                  (ProtobufCMessage **) out);
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    //  A fresh account, allocated as unpack would (strings owned).
    account_t a = PM__FINANCE__ACCOUNT__INIT;
    a.patient_id = (char *) patient;
    a.site_id = (char *) site;
    a.currency = (char *) currency;
    a.has_balance_minor = a.has_credit_minor = 1;
    size_t n = pm__finance__account__get_packed_size (&a);
    uint8_t *buf = malloc (n + 1);
    pm__finance__account__pack (&a, buf);
    *out = pm__finance__account__unpack (NULL, n, buf);
    free (buf);
    return *out ? PM_OK : PM_EINTERNAL;
}

static pm_err
s_account_put (pm_ctx_t *ctx, const account_t *a)
{
    pm_key_t k;
    s_account_key (&k, a->patient_id, a->site_id);
    return pm_store_put_msg (pm_ctx_txn (ctx), fin_db.accounts, k.b, k.len, &a->base, 0);
}

static void
s_entry_key (pm_key_t *k, const char *patient, const char *site, int64_t at, int kind,
             const char *ref)
{
    s_account_key (k, patient, site);
    pm_key_u64 (k, (uint64_t) at);
    pm_key_byte (k, (uint8_t) kind);
    pm_key_str (k, ref);
}

//  --------------------------------------------------------------------------
//  One ledger entry, added to the balance.
pm_err
fin_account_entry (pm_ctx_t *ctx, const char *patient, const char *site,
                   const char *currency, int kind, const char *ref, int64_t amount,
                   const char *text)
{
    account_t *a;
    pm_err rc = fin_account_get (pm_ctx_txn (ctx), patient, site, currency, &a);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Finance__Entry e = PM__FINANCE__ENTRY__INIT;
    e.has_at = e.has_kind = e.has_amount_minor = 1;
    e.at = pm_ctx_now (ctx);
    e.kind = kind;
    e.ref_id = (char *) ref;
    e.amount_minor = amount;
    e.text = (char *) text;
    pm_key_t k;
    s_entry_key (&k, patient, site, e.at, kind, ref);
    rc = pm_store_put_msg (pm_ctx_txn (ctx), fin_db.ledger, k.b, k.len, &e.base, 0);
    if (rc == PM_OK) {
        a->balance_minor += amount;
        rc = s_account_put (ctx, a);
    }
    pm__finance__account__free_unpacked (a, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  The patient's unapplied money at the site.
pm_err
fin_account_credit (pm_ctx_t *ctx, const char *patient, const char *site,
                    const char *currency, int64_t delta)
{
    account_t *a;
    pm_err rc = fin_account_get (pm_ctx_txn (ctx), patient, site, currency, &a);
    if (rc == PM_OK) {
        a->credit_minor += delta;
        rc = s_account_put (ctx, a);
    }
    pm__finance__account__free_unpacked (a, NULL);
    return rc;
}

//  Checks the patient id and site scope of an account read, and puts it
//  on the audit log (the subject is the patient: an account is theirs).
static pm_err
s_check (pm_ctx_t *ctx, const char *patient, const char *site)
{
    pm_err rc = fin_id (ctx, "patient_id", patient, "pat");
    if (rc == PM_OK) {
        rc = fin_token (ctx, "site_id", site);
    }
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, patient, site);
        rc = fin_access (ctx, site, "site_id");
    }
    return rc;
}

//  finance.GetAccount.
static pm_err
s_get_account (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetAccount *req = (const Pm__Finance__GetAccount *) body;
    pm_err rc = s_check (ctx, req->patient_id, req->site_id);
    account_t *a = NULL;
    if (rc == PM_OK) {
        rc = fin_account_get (pm_ctx_txn (ctx), req->patient_id, req->site_id, NULL, &a);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &a->base);
    }
    pm__finance__account__free_unpacked (a, NULL);
    return rc;
}

typedef struct {
    Pm__Finance__StatementResult res;
    int64_t from, to;
    MDB_txn *txn;
} s_statement_t;

//  The number of the invoice or credit note an entry is of (a copy the
//  entry owns), NULL for other entries or a record without one.
static char *
s_number_text (MDB_txn *txn, const Pm__Finance__Entry *e)
{
    bool invoice = e->kind == PM__FINANCE__ENTRY_KIND__ENTRY_INVOICE
                   || e->kind == PM__FINANCE__ENTRY_KIND__ENTRY_INVOICE_CANCELLED;
    bool note = e->kind == PM__FINANCE__ENTRY_KIND__ENTRY_CREDIT_NOTE;
    if (!e->ref_id || (!invoice && !note)) {
        return NULL;
    }
    ProtobufCMessage *m = NULL;
    const ProtobufCMessageDescriptor *desc = invoice ? &pm__finance__invoice__descriptor
                                                     : &pm__finance__credit_note__descriptor;
    if (pm_store_get_msg (txn, invoice ? fin_db.invoices : fin_db.notes, e->ref_id,
                          strlen (e->ref_id), desc, &m) != PM_OK) {
        return NULL;
    }
    const char *text = invoice ? ((Pm__Finance__Invoice *) m)->number_text
                               : ((Pm__Finance__CreditNote *) m)->number_text;
    char *copy = text && *text ? strdup (text) : NULL;
    protobuf_c_message_free_unpacked (m, NULL);
    return copy;
}

static int
s_statement_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_statement_t *s = arg;
    Pm__Finance__Entry *e = pm__finance__entry__unpack (NULL, val->mv_size, val->mv_data);
    if (!e) {
        return PM_EINTERNAL;
    }
    if (e->at >= s->to) {
        pm__finance__entry__free_unpacked (e, NULL);
        return PM_SCAN_STOP;
    }
    s->res.closing_minor += e->amount_minor;
    if (e->at < s->from || s->res.n_entries >= FIN_LIST_MAX) {
        if (e->at < s->from) {
            s->res.opening_minor += e->amount_minor;
        }
        pm__finance__entry__free_unpacked (e, NULL);
        return 0;
    }
    //  Freed with the entry (free_unpacked frees set strings).
    e->number_text = s_number_text (s->txn, e);
    s->res.entries[s->res.n_entries++] = e;
    return 0;
}

//  finance.Statement: the entries in [from, to) with opening and closing
//  balances.
static pm_err
s_statement (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__Statement *req = (const Pm__Finance__Statement *) body;
    pm_err rc = s_check (ctx, req->patient_id, req->site_id);
    if (rc == PM_OK && (!req->has_from || !req->has_to || req->from < 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "from", "from: from and to (ms UTC) are required");
    }
    if (rc == PM_OK && req->to <= req->from) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to", "to: must be after from");
    }
    account_t *a = NULL;
    if (rc == PM_OK) {
        rc = fin_account_get (pm_ctx_txn (ctx), req->patient_id, req->site_id, NULL, &a);
    }
    if (rc != PM_OK) {
        pm__finance__account__free_unpacked (a, NULL);
        return rc;
    }
    s_statement_t s = {PM__FINANCE__STATEMENT_RESULT__INIT, req->from, req->to,
                       pm_ctx_txn (ctx)};
    s.res.patient_id = req->patient_id;
    s.res.site_id = req->site_id;
    s.res.currency = a->currency;
    s.res.has_opening_minor = s.res.has_closing_minor = 1;
    s.res.entries = calloc (FIN_LIST_MAX, sizeof *s.res.entries);
    pm_key_t prefix;
    s_account_key (&prefix, req->patient_id, req->site_id);
    rc = pm_key_scan (pm_ctx_txn (ctx), fin_db.ledger, prefix.b, prefix.len, NULL,
                      s_statement_each, &s);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s.res.base);
    }
    for (size_t i = 0; i < s.res.n_entries; i++) {
        pm__finance__entry__free_unpacked (s.res.entries[i], NULL);
    }
    free (s.res.entries);
    pm__finance__account__free_unpacked (a, NULL);
    return rc;
}

typedef struct {
    MDB_val *keys, *vals;
    size_t n, max;
} s_rows_t;

//  Copies each row (the scan's memory is the map's).
static int
s_copy_row (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_rows_t *s = arg;
    if (s->n == s->max) {
        s->max = s->max ? 2 * s->max : 64;
        s->keys = realloc (s->keys, s->max * sizeof *s->keys);
        s->vals = realloc (s->vals, s->max * sizeof *s->vals);
    }
    s->keys[s->n].mv_size = key->mv_size;
    s->keys[s->n].mv_data = malloc (key->mv_size);
    memcpy (s->keys[s->n].mv_data, key->mv_data, key->mv_size);
    s->vals[s->n].mv_size = val->mv_size;
    s->vals[s->n].mv_data = malloc (val->mv_size + 1);
    memcpy (s->vals[s->n].mv_data, val->mv_data, val->mv_size);
    s->n++;
    return 0;
}

static void
s_rows_free (s_rows_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free (s->keys[i].mv_data);
        free (s->vals[i].mv_data);
    }
    free (s->keys);
    free (s->vals);
}

//  --------------------------------------------------------------------------
//  Folds the merged patient's accounts and ledgers into the survivor's.
pm_err
fin_accounts_repoint (pm_ctx_t *ctx, const char *from, const char *to)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t prefix;
    s_account_key (&prefix, from, NULL);
    s_rows_t accts = {0}, rows = {0};
    pm_err rc = pm_key_scan (txn, fin_db.accounts, prefix.b, prefix.len, NULL,
                             s_copy_row, &accts);
    for (size_t i = 0; rc == PM_OK && i < accts.n; i++) {
        account_t *old = pm__finance__account__unpack (NULL, accts.vals[i].mv_size,
                                                       accts.vals[i].mv_data);
        account_t *a = NULL;
        rc = old ? fin_account_get (txn, to, old->site_id, old->currency, &a)
                 : PM_EINTERNAL;
        if (rc == PM_OK) {
            a->balance_minor += old->balance_minor;
            a->credit_minor += old->credit_minor;
            rc = s_account_put (ctx, a);
        }
        if (rc == PM_OK) {
            rc = pm_store_del (txn, fin_db.accounts, accts.keys[i].mv_data,
                               accts.keys[i].mv_size);
        }
        pm__finance__account__free_unpacked (a, NULL);
        pm__finance__account__free_unpacked (old, NULL);
    }
    if (rc == PM_OK) {
        rc = pm_key_scan (txn, fin_db.ledger, prefix.b, prefix.len, NULL, s_copy_row, &rows);
    }
    //  Same key after the patient part: site, time, kind, ref.
    for (size_t i = 0; rc == PM_OK && i < rows.n; i++) {
        pm_key_t k;
        s_account_key (&k, to, NULL);
        size_t rest = rows.keys[i].mv_size - prefix.len;
        if (k.len + rest > PM_KEY_MAX) {
            rc = PM_EINTERNAL;
            break;
        }
        memcpy (k.b + k.len, (uint8_t *) rows.keys[i].mv_data + prefix.len, rest);
        k.len += rest;
        rc = pm_store_put (txn, fin_db.ledger, k.b, k.len, rows.vals[i].mv_data,
                           rows.vals[i].mv_size, 0);
        if (rc == PM_OK) {
            rc = pm_store_del (txn, fin_db.ledger, rows.keys[i].mv_data,
                               rows.keys[i].mv_size);
        }
    }
    s_rows_free (&accts);
    s_rows_free (&rows);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_accounts_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.GetAccount", s_get_account);
    pm_server_handle (server, "finance.Statement", s_statement);
}
