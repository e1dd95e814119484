/*  finance_dues.c: what each issued invoice had due, over time.

    The aging at a past date needs what was due then, and the records only
    say what is due now. The ledger does not have it either: it is the
    patient's account (credit applied to an invoice moves no balance and
    is not on it; a payment's entry does not say what it paid on; a merge
    moves it to another patient). So every change of an invoice's due
    amount is kept where it is made: fin_invoice_save, which every change
    of an invoice goes through (issue, payment, credit applied, write-off,
    refund, reversal, cancellation, merge), writes a record when the
    amount differs from the last one, at the transaction's time.

    Index: 'H' site 0 inv_id 0 be64 at -> InvoiceDue (the amount from
    then on), so one seek finds what an invoice had due at any instant,
    and the aging reads its site only. Changes within one millisecond
    keep the last. An invoice that is not issued or balanced (a draft,
    cancelled) has nothing due.

    Stores from before the history: it is built at the first start that
    knows it from finance's own stream, where every finance.invoice.*
    event carries the invoice's full new state and the time of its
    transaction: the same records the live path would have written.    */
#include <stdio.h>
#include <string.h>

#include "finance_dues.h"

static void
s_key (pm_key_t *k, const char *site, const char *inv)
{
    pm_key_init (k, FIN_IX_DUE);
    pm_key_str (k, site);
    pm_key_str (k, inv);
}

//  --------------------------------------------------------------------------
//  The amount of the last record before `before`, by one cursor seek.
pm_err
fin_due_at (MDB_txn *txn, const char *site, const char *inv, int64_t before, int64_t *due)
{
    *due = 0;
    if (before <= 0) {
        return PM_OK; //  keys hold instants after 1970 only
    }
    pm_key_t prefix;
    s_key (&prefix, site, inv);
    MDB_val val;
    pm_err rc = pm_key_at_or_before (txn, fin_db.index, &prefix, (uint64_t) before - 1, &val);
    if (rc == PM_ENOTFOUND) {
        return PM_OK; //  nothing recorded before it: nothing was due
    }
    if (rc == PM_OK) {
        Pm__Finance__InvoiceDue *d = pm__finance__invoice_due__unpack (NULL, val.mv_size,
                                                                      val.mv_data);
        rc = d ? PM_OK : PM_EINTERNAL;
        *due = d ? d->due_minor : 0;
        pm__finance__invoice_due__free_unpacked (d, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  A record when the invoice's due amount changed.
pm_err
fin_due_record (MDB_txn *txn, const Pm__Finance__Invoice *inv, int64_t at)
{
    if (!inv->site_id || !inv->id || at <= 0) {
        return PM_OK;
    }
    bool open = inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
                || inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED;
    int64_t now = open && inv->due_minor > 0 ? inv->due_minor : 0, was;
    //  The last record of all (INT64_MAX: every instant is before it).
    pm_err rc = fin_due_at (txn, inv->site_id, inv->id, INT64_MAX, &was);
    if (rc != PM_OK || now == was) {
        return rc;
    }
    Pm__Finance__InvoiceDue d = PM__FINANCE__INVOICE_DUE__INIT;
    d.invoice_id = inv->id;
    d.has_at = d.has_due_minor = 1;
    d.at = at;
    d.due_minor = now;
    pm_key_t k;
    s_key (&k, inv->site_id, inv->id);
    pm_key_u64 (&k, (uint64_t) at);
    return pm_store_put_msg (txn, fin_db.index, k.b, k.len, &d.base, 0);
}

typedef struct {
    MDB_txn *txn;
    long *changed;
} s_replay_t;

//  One event of finance's stream: an invoice's state at its time.
static pm_err
s_replay_one (const ProtobufCMessage *msg, void *arg)
{
    const Pm__Event *e = (const Pm__Event *) msg;
    s_replay_t *r = arg;
    if (!e->type || strncmp (e->type, "finance.invoice.", 16) != 0) {
        return PM_OK;
    }
    Pm__Finance__Invoice *inv = pm__finance__invoice__unpack (NULL, e->data.len, e->data.data);
    pm_err rc = inv ? fin_due_record (r->txn, inv, e->time) : PM_EINTERNAL;
    (*r->changed)++;
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  The history from finance's own stream, in seq order.
pm_err
fin_dues_migrate (MDB_txn *txn, void *arg, long *changed)
{
    MDB_dbi events = *(MDB_dbi *) arg;
    char tag = FIN_IX_DUE;
    //  Built whole: a partial history (a store that had some) would
    //  compare with the wrong last amount.
    pm_err rc = pm_key_drop (txn, fin_db.index, &tag, 1);
    s_replay_t replay = {txn, changed};
    return rc == PM_OK ? pm_store_each_msg (txn, events, &pm__event__descriptor, s_replay_one,
                                            &replay)
                       : rc;
}
