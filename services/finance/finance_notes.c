/*  finance_notes.c: credit note numbers and finance.GetCreditNote.

    A credit note is a tax document: like an invoice it carries a number
    unique to its site, 1, 2, 3... without gaps, but in a series of its own
    (SiteFinance.last_credit_note_number): "north-CN-000001" is the first
    note of site north as "north-000001" is its first invoice. The number
    is taken from the site record in the transaction that issues the note
    (finance_payments.c): a refused note rolls the counter back with
    everything else, and the runtime's batches apply writes one after the
    other, so two issuers never read the same counter.

    The text is parsed back from its last "-CN-": what comes before is the
    site (a site token may itself hold "-CN-"; the number part never
    does), what comes after the number. Index: 'N' site 0 be64 number ->
    crn id, so a note is found by its number in one get.

    Stores from before numbering: at the first start that knows numbers,
    every note without one is numbered in issue order, per site
    (fin_notes_migrate).

    finance.ListCreditNotes lists an invoice's notes by number ('V'
    invoice 0 be64 number -> crn id) and a site's by issue time ('W' site
    0 be64 created_at crn_id 0 -> crn id), both written in the issuing
    transaction (fin_note_list_index), a page at a time: the page token is
    the last note listed, and the next page starts just past its entry.
    Stores from before the lists get the entries at start
    (fin_notes_list_migrate, after the numbering).                       */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_invoices.h"
#include "finance_notes.h"
#include "pm_id.h"
#include "pm_log.h"

typedef Pm__Finance__CreditNote note_t;
typedef Pm__Finance__SiteFinance site_t;

#define NUMBER_DIGITS_MAX 19 //  every 19-digit number fits a uint64

//  --------------------------------------------------------------------------
//  The site's next credit note number, in the caller's transaction.
pm_err
fin_note_take_number (pm_ctx_t *ctx, site_t *site, uint64_t *number)
{
    site->has_last_credit_note_number = 1;
    site->last_credit_note_number++;
    site->version++;
    site->has_updated_at = 1;
    site->updated_at = pm_ctx_now (ctx);
    *number = site->last_credit_note_number;
    return fin_put (ctx, fin_db.sites, site->site_id, &site->base);
}

//  --------------------------------------------------------------------------
void
fin_note_number_text (const char *site, uint64_t number, char *out)
{
    snprintf (out, FIN_NUMBER_TEXT_MAX, "%s-CN-%06llu", site, (unsigned long long) number);
}

static void
s_number_key (pm_key_t *k, const char *site, uint64_t number)
{
    pm_key_init (k, FIN_IX_NOTE_NUMBER);
    pm_key_str (k, site);
    pm_key_u64 (k, number);
}

//  --------------------------------------------------------------------------
//  'N' site 0 be64 number -> the note's id.
pm_err
fin_note_number_index (MDB_txn *txn, const note_t *n)
{
    if (!n->has_number || !n->site_id || !n->id) {
        return PM_OK;
    }
    pm_key_t k;
    s_number_key (&k, n->site_id, n->number);
    return fin_index (txn, &k, n->id, true);
}

//  Splits "<site>-CN-<digits>" into site (`site`, FIN_NUMBER_TEXT_MAX
//  bytes) and number; false when it is not a credit note number.
static bool
s_parse (const char *text, char *site, uint64_t *number)
{
    const char *sep = NULL;
    for (const char *p = strstr (text, "-CN-"); p; p = strstr (p + 1, "-CN-")) {
        sep = p;
    }
    if (!sep || sep == text || (size_t) (sep - text) >= FIN_NUMBER_TEXT_MAX) {
        return false;
    }
    const char *digits = sep + 4;
    size_t n = strlen (digits);
    if (n == 0 || n > NUMBER_DIGITS_MAX || strspn (digits, "0123456789") != n) {
        return false;
    }
    memcpy (site, text, (size_t) (sep - text));
    site[sep - text] = 0;
    *number = strtoull (digits, NULL, 10);
    return *number > 0 && fin_token_ok (site);
}

//  finance.GetCreditNote: by id, by number text, or by site and number.
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetCreditNote *req = (const Pm__Finance__GetCreditNote *) body;
    bool by_id = req->credit_note_id && *req->credit_note_id;
    bool by_text = req->number_text && *req->number_text;
    bool by_number = (req->site_id && *req->site_id) || req->has_number;
    if (by_id + by_text + by_number != 1) {
        return pm_ctx_fail (ctx, PM_EINVAL, "credit_note_id", "credit_note_id: give "
                            "credit_note_id, number_text, or site_id and number");
    }
    note_t *n = NULL;
    pm_err rc = PM_OK;
    const char *field = by_id ? "credit_note_id" : by_text ? "number_text" : "site_id";
    if (by_id) {
        rc = fin_load (ctx, fin_db.notes, req->credit_note_id, "crn",
                       &pm__finance__credit_note__descriptor, field, "credit note", &n);
    }
    else {
        char site[FIN_NUMBER_TEXT_MAX];
        uint64_t number = req->number;
        if (by_text && !s_parse (req->number_text, site, &number)) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: \"%.100s\" is not a credit note "
                              "number (\"north-CN-000042\")", field, req->number_text);
        }
        else if (!by_text) {
            rc = fin_token (ctx, field, req->site_id);
            snprintf (site, sizeof site, "%s", req->site_id ? req->site_id : "");
            if (rc == PM_OK && (!req->has_number || req->number == 0)) {
                rc = pm_ctx_fail (ctx, PM_EINVAL, "number", "number: 1 or more is "
                                  "required with site_id");
            }
        }
        //  The site's scope first: a caller from elsewhere learns nothing,
        //  not even whether the number exists.
        if (rc == PM_OK) {
            rc = fin_access (ctx, site, field);
        }
        char text[FIN_NUMBER_TEXT_MAX], id[PM_ID_MAX] = "";
        fin_note_number_text (site, number, text);
        if (rc == PM_OK) {
            pm_key_t k;
            s_number_key (&k, site, number);
            MDB_val val;
            rc = pm_store_get (pm_ctx_txn (ctx), fin_db.index, k.b, k.len, &val);
            if (rc == PM_OK) {
                pm_val_str (&val, id, sizeof id);
            }
            else if (rc == PM_ENOTFOUND) {
                rc = pm_ctx_fail (ctx, rc, field, "%s: no credit note %s", field, text);
            }
        }
        if (rc == PM_OK) {
            rc = pm_store_get_msg (pm_ctx_txn (ctx), fin_db.notes, id, strlen (id),
                                   &pm__finance__credit_note__descriptor,
                                   (ProtobufCMessage **) &n);
            //  The index names only notes it was written with.
            rc = rc == PM_ENOTFOUND ? PM_EINTERNAL : rc;
        }
    }
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, n->id, n->site_id);
        rc = fin_access (ctx, n->site_id, field);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &n->base);
    }
    pm__finance__credit_note__free_unpacked (n, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Numbers one note of an old store: its site's next number, the number
//  of the invoice it corrects, its index entry. Already numbered: nothing.
static pm_err
s_number_old (MDB_txn *txn, const char *id, long *changed)
{
    note_t *n = NULL;
    site_t *site = NULL;
    Pm__Finance__Invoice *inv = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.notes, id, strlen (id),
                                  &pm__finance__credit_note__descriptor,
                                  (ProtobufCMessage **) &n);
    if (rc != PM_OK || n->has_number) {
        pm__finance__credit_note__free_unpacked (n, NULL);
        return rc;
    }
    const char *site_id = n->site_id ? n->site_id : "";
    rc = pm_store_get_msg (txn, fin_db.sites, site_id, strlen (site_id),
                           &pm__finance__site_finance__descriptor,
                           (ProtobufCMessage **) &site);
    if (rc == PM_ENOTFOUND) {
        //  A note is issued only at a site with settings, and settings are
        //  never deleted: numbering here could repeat a number later.
        pm_error ("credit note of a site without settings: not numbered", "note", id,
                  "site", site_id, NULL);
        rc = PM_EINTERNAL;
    }
    if (rc == PM_OK && n->invoice_id) {
        rc = pm_store_get_msg (txn, fin_db.invoices, n->invoice_id, strlen (n->invoice_id),
                               &pm__finance__invoice__descriptor,
                               (ProtobufCMessage **) &inv);
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    char text[FIN_NUMBER_TEXT_MAX];
    char *old_text = n->number_text, *old_inv_text = n->invoice_number_text;
    if (rc == PM_OK) {
        //  The counter moves without a new version: the settings did not
        //  change, the store caught up with what was issued.
        site->has_last_credit_note_number = 1;
        site->last_credit_note_number++;
        rc = pm_store_put_msg (txn, fin_db.sites, site_id, strlen (site_id), &site->base, 0);
    }
    if (rc == PM_OK) {
        n->has_number = 1;
        n->number = site->last_credit_note_number;
        fin_note_number_text (site_id, n->number, text);
        n->number_text = text;
        n->invoice_number_text = inv && inv->number_text ? inv->number_text : NULL;
        rc = pm_store_put_msg (txn, fin_db.notes, id, strlen (id), &n->base, 0);
    }
    if (rc == PM_OK) {
        rc = fin_note_number_index (txn, n);
        (*changed)++;
    }
    n->number_text = old_text; //  the unpacked message owns its strings
    n->invoice_number_text = old_inv_text;
    pm__finance__invoice__free_unpacked (inv, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    pm__finance__credit_note__free_unpacked (n, NULL);
    return rc;
}

typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n, max;
} s_ids_t;

//  Copies every note id (the scan's memory is the map's, and the notes are
//  written again after the scan).
static int
s_collect (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    s_ids_t *s = arg;
    if (s->n == s->max) {
        s->max = s->max ? 2 * s->max : 256;
        void *more = realloc (s->ids, s->max * sizeof *s->ids);
        if (!more) {
            return PM_EINTERNAL;
        }
        s->ids = more;
    }
    size_t len = key->mv_size < PM_ID_MAX - 1 ? key->mv_size : PM_ID_MAX - 1;
    memcpy (s->ids[s->n], key->mv_data, len);
    s->ids[s->n++][len] = 0;
    return 0;
}

//  --------------------------------------------------------------------------
//  Numbers the notes of a store from before numbering, in issue order.
pm_err
fin_notes_migrate (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    //  Note ids are time-ordered (the issuing batch's clock, then a count
    //  within the millisecond), so key order is issue order.
    s_ids_t ids = {NULL, 0, 0};
    pm_err rc = pm_key_scan (txn, fin_db.notes, NULL, 0, NULL, s_collect, &ids);
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        rc = s_number_old (txn, ids.ids[i], changed);
    }
    free (ids.ids);
    return rc;
}

//  --- lists ---------------------------------------------------------------------

static void
s_invoice_key (pm_key_t *k, const char *invoice, uint64_t number)
{
    pm_key_init (k, FIN_IX_INVOICE_NOTE);
    pm_key_str (k, invoice);
    pm_key_u64 (k, number);
}

static void
s_issued_key (pm_key_t *k, const char *site, int64_t at, const char *id)
{
    pm_key_init (k, FIN_IX_NOTE_ISSUED);
    pm_key_str (k, site);
    pm_key_u64 (k, (uint64_t) (at > 0 ? at : 0));
    pm_key_str (k, id);
}

//  --------------------------------------------------------------------------
//  'V' invoice 0 be64 number and 'W' site 0 be64 created_at id 0 -> id.
pm_err
fin_note_list_index (MDB_txn *txn, const note_t *n)
{
    if (!n->id || !n->site_id) {
        return PM_OK;
    }
    pm_key_t k;
    pm_err rc = PM_OK;
    if (n->invoice_id && *n->invoice_id) {
        s_invoice_key (&k, n->invoice_id, n->number);
        rc = fin_index (txn, &k, n->id, true);
    }
    if (rc == PM_OK) {
        s_issued_key (&k, n->site_id, n->created_at, n->id);
        rc = fin_index (txn, &k, n->id, true);
    }
    return rc;
}

typedef struct {
    MDB_txn *txn;
    size_t time_at;           //  'W': where the issue time starts; 0 for 'V'
    int64_t to;               //  'W': the first instant past the period
    note_t **notes;
    size_t n, max;            //  max: a page and one more (is there more?)
} s_list_t;

//  One entry of a list index: its note, until the page (and one) is full.
static int
s_list_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_list_t *l = arg;
    if (l->n == l->max
        || (l->time_at && (key->mv_size < l->time_at + 8
                           || pm_be64_get ((const uint8_t *) key->mv_data + l->time_at)
                                  >= (uint64_t) l->to))) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    pm_err rc = pm_store_get_msg (l->txn, fin_db.notes, id, strlen (id),
                                  &pm__finance__credit_note__descriptor,
                                  (ProtobufCMessage **) &l->notes[l->n]);
    if (rc == PM_OK) {
        l->n++;
    }
    //  The indexes name only notes they were written with.
    return rc == PM_ENOTFOUND ? PM_EINTERNAL : (int) rc;
}

//  The later of two keys.
static const pm_key_t *
s_key_max (const pm_key_t *a, const pm_key_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp (a->b, b->b, n);
    return c > 0 || (c == 0 && a->len >= b->len) ? a : b;
}

//  finance.ListCreditNotes: an invoice's notes by number, or a site's over
//  a period by issue time, a page at a time.
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__ListCreditNotes *req = (const Pm__Finance__ListCreditNotes *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    bool by_invoice = req->invoice_id && *req->invoice_id;
    bool by_site = req->site_id && *req->site_id;
    int64_t from = req->has_from ? req->from : 0;
    int64_t to = req->has_to ? req->to : INT64_MAX;
    uint32_t page = req->has_page_size ? req->page_size : 100;
    pm_err rc = PM_OK;
    if (by_invoice == by_site) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "invoice_id", "invoice_id: give invoice_id or "
                          "site_id");
    }
    else if (by_invoice && (req->has_from || req->has_to)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, req->has_from ? "from" : "to", "%s: a period "
                          "goes with site_id", req->has_from ? "from" : "to");
    }
    else if (from < 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "from", "from: an instant (ms UTC), 0 or more");
    }
    else if (to <= from) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to", "to: must be after from");
    }
    else if (page < 1 || page > FIN_LIST_MAX) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "page_size", "page_size: 1..%d", FIN_LIST_MAX);
    }
    Pm__Finance__Invoice *inv = NULL;
    if (rc == PM_OK && by_invoice) {
        rc = fin_invoice_load (ctx, req->invoice_id, "invoice_id", &inv);
    }
    else if (rc == PM_OK) {
        rc = fin_token (ctx, "site_id", req->site_id);
        rc = rc == PM_OK ? fin_access (ctx, req->site_id, "site_id") : rc;
    }
    pm_key_t prefix, start, after;
    if (by_invoice) {
        pm_key_init (&prefix, FIN_IX_INVOICE_NOTE);
        pm_key_str (&prefix, req->invoice_id);
        start = prefix;
    }
    else {
        pm_key_init (&prefix, FIN_IX_NOTE_ISSUED);
        pm_key_str (&prefix, req->site_id);
        start = prefix;
        pm_key_u64 (&start, (uint64_t) from);
    }
    //  The token is the last note of the previous page: this one starts
    //  just after its entry (its key and a NUL: the next key up).
    note_t *last = NULL;
    if (rc == PM_OK && req->page_token && *req->page_token) {
        rc = pm_id_valid (req->page_token, "crn")
                 ? pm_store_get_msg (txn, fin_db.notes, req->page_token,
                                     strlen (req->page_token),
                                     &pm__finance__credit_note__descriptor,
                                     (ProtobufCMessage **) &last)
                 : PM_ENOTFOUND;
        if (rc == PM_ENOTFOUND
            || (rc == PM_OK && (by_invoice ? !last->invoice_id
                                                 || strcmp (last->invoice_id, inv->id) != 0
                                           : strcmp (last->site_id, req->site_id) != 0))) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "page_token", "page_token: not a page of "
                              "this list");
        }
        if (rc == PM_OK) {
            if (by_invoice) {
                s_invoice_key (&after, inv->id, last->number);
            }
            else {
                s_issued_key (&after, last->site_id, last->created_at, last->id);
            }
            pm_key_byte (&after, 0);
            start = *s_key_max (&start, &after);
        }
    }
    s_list_t l = {txn, by_invoice ? 0 : prefix.len, to, NULL, 0, (size_t) page + 1};
    if (rc == PM_OK) {
        l.notes = calloc (l.max, sizeof *l.notes);
        rc = pm_key_scan (txn, fin_db.index, prefix.b, prefix.len, &start, s_list_each, &l);
    }
    if (rc == PM_OK) {
        Pm__Finance__CreditNoteList out = PM__FINANCE__CREDIT_NOTE_LIST__INIT;
        out.n_credit_notes = l.n > page ? page : l.n;
        out.credit_notes = l.notes;
        for (size_t i = 0; i < out.n_credit_notes; i++) {
            //  Each note concerns a patient: its read is on the audit log.
            pm_ctx_audit (ctx, l.notes[i]->id, l.notes[i]->site_id);
        }
        out.next_page_token = l.n > page ? l.notes[page - 1]->id : NULL;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < l.n; i++) {
        pm__finance__credit_note__free_unpacked (l.notes[i], NULL);
    }
    free (l.notes);
    pm__finance__credit_note__free_unpacked (last, NULL);
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  The list entries of every note of a store from before the lists.
pm_err
fin_notes_list_migrate (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    s_ids_t ids = {NULL, 0, 0};
    pm_err rc = pm_key_scan (txn, fin_db.notes, NULL, 0, NULL, s_collect, &ids);
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        note_t *n = NULL;
        rc = pm_store_get_msg (txn, fin_db.notes, ids.ids[i], strlen (ids.ids[i]),
                               &pm__finance__credit_note__descriptor,
                               (ProtobufCMessage **) &n);
        if (rc == PM_OK) {
            rc = fin_note_list_index (txn, n);
            (*changed)++;
        }
        pm__finance__credit_note__free_unpacked (n, NULL);
    }
    free (ids.ids);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_notes_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.GetCreditNote", s_get);
    pm_server_handle (server, "finance.ListCreditNotes", s_list);
}
