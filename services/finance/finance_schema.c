/*  finance_schema.c: the finance service's commands and events.

    Roles: network-admin may call everything. Practice managers and
    finance set a site's fees and prices; the front desk, practice
    managers and finance raise charges, invoice and take payments;
    refunds, write-offs and period locks are finance's
    alone; auditors read. Budgets and reports are for practice managers
    and finance of the site.                                              */
#include "finance_schema.h"

//  Who sets a site's money rules.
#define SETTERS (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE)
//  Who works the till: charges, invoices, payments.
#define BILLING (PM_ROLE_FRONT_DESK | PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE)
//  Who reads billing records.
#define READERS (BILLING | PM_ROLE_AUDITOR)
//  Who reads prices and site settings.
#define PRICE_READERS (PM_ROLES_CARE | PM_ROLE_FINANCE | PM_ROLE_AUDITOR | PM_ROLE_SERVICE)

//  Who plans and reads a site's budgets and reports.
#define REPORTERS (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE)

#define D(name) &pm__finance__##name##__descriptor

static const pm_command_def_t s_commands[] = {
    //  Sites and prices
    {"finance.SetSite", PM_WRITE, D (set_site), D (site_finance),
     "a site's currency, zone, no-show and late-cancel fees (expected_version to change)",
     SETTERS},
    {"finance.GetSite", PM_READ, D (get_site), D (site_finance),
     "a site's finance settings", PRICE_READERS},
    {"finance.SetPrice", PM_WRITE, D (set_price), D (price),
     "the price of an appointment type or service code from an instant on", SETTERS},
    {"finance.ListPrices", PM_READ, D (list_prices), D (price_list),
     "a site's price list (all entries, or those in force at an instant)",
     PRICE_READERS},
    //  Charges
    {"finance.AddCharge", PM_WRITE, D (add_charge), D (charge),
     "a charge entered by hand (price list or given unit price)", BILLING},
    {"finance.VoidCharge", PM_WRITE, D (void_charge), D (charge),
     "void a charge that is on no invoice, with a reason", BILLING},
    {"finance.GetCharge", PM_READ, D (get_charge), D (charge),
     "a charge by id or by appointment", READERS},
    {"finance.ListCharges", PM_READ, D (list_charges), D (charge_list),
     "a patient's charges at a site", READERS},
    //  Invoices
    {"finance.CreateInvoice", PM_WRITE, D (create_invoice), D (invoice),
     "a draft invoice of a patient's billable charges at a site (named, or all)",
     BILLING},
    {"finance.Discount", PM_WRITE, D (discount), D (invoice),
     "a draft line's discount (amount or basis points) or exemption, with a reason",
     BILLING},
    {"finance.IssueInvoice", PM_WRITE, D (invoice_action), D (invoice),
     "issue a draft: the site's next number, charges billed", BILLING},
    {"finance.CancelInvoice", PM_WRITE, D (invoice_action), D (invoice),
     "cancel a draft or an unpaid issued invoice (reason); its charges go back",
     BILLING},
    {"finance.MarkInError", PM_WRITE, D (invoice_action), D (invoice),
     "mark a draft entered in error (reason)", BILLING},
    {"finance.GetInvoice", PM_READ, D (get_invoice), D (invoice), "an invoice by id",
     READERS},
    //  Payments, credit notes, accounts
    {"finance.RecordPayment", PM_WRITE, D (record_payment), D (payment),
     "money received (mode), against an invoice or as credit; overpayment kept as credit",
     BILLING},
    {"finance.ReversePayment", PM_WRITE, D (reverse_payment), D (payment),
     "money received that did not clear (reason): due again, credit taken back, out of "
     "the day book", PM_ROLE_FINANCE},
    {"finance.ApplyCredit", PM_WRITE, D (apply_credit), D (invoice),
     "the patient's credit at the site pays an issued invoice", BILLING},
    {"finance.IssueCreditNote", PM_WRITE, D (issue_credit_note), D (credit_note),
     "a refund (of an invoice or of credit) or a write-off, with a reason; the site's "
     "next credit note number", PM_ROLE_FINANCE},
    {"finance.GetCreditNote", PM_READ, D (get_credit_note), D (credit_note),
     "a credit note by id, by number text (north-CN-000042), or by site and number",
     READERS},
    {"finance.ListCreditNotes", PM_READ, D (list_credit_notes), D (credit_note_list),
     "an invoice's credit notes by number, or a site's over a period, paged", READERS},
    {"finance.GetAccount", PM_READ, D (get_account), D (account),
     "a patient's balance and credit at a site", READERS},
    {"finance.Statement", PM_READ, D (statement), D (statement_result),
     "a patient's account entries over a period with opening and closing balances",
     READERS},
    //  Daily close, period lock
    {"finance.CloseDay", PM_WRITE, D (close_day), D (day),
     "close a site's day: counted per mode against expected, a note for a variance",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE},
    {"finance.GetDay", PM_READ, D (get_day), D (day),
     "a site's day: expected per mode, or as closed",
     PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE | PM_ROLE_AUDITOR},
    {"finance.LockPeriod", PM_WRITE, D (lock_period), D (period_lock),
     "lock a month that is over and whose days with payments are closed",
     PM_ROLE_FINANCE},
    //  Budgets and reports (practice managers and finance of the site)
    {"finance.SetBudget", PM_WRITE, D (set_budget), D (budget),
     "a site's budget for a month by category (expected_version to change)", REPORTERS},
    {"finance.GetBudget", PM_READ, D (get_budget), D (budget),
     "a site's budget for a month", REPORTERS},
    {"finance.BudgetReport", PM_READ, D (budget_report), D (budget_vs_actual),
     "budget against actuals (payroll, hires, revenue) for a site's month, with variance",
     REPORTERS},
    {"finance.RevenueReport", PM_READ, D (revenue_report), D (revenue_result),
     "what a site invoiced over a period, by practitioner, appointment type and month",
     REPORTERS},
    {"finance.AgingReport", PM_READ, D (aging_report), D (aging_result),
     "accounts receivable of a site at a date in 0-30, 31-60, 61-90 and 90+ days",
     REPORTERS},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"finance.site.set", D (site_finance)},
    {"finance.price.set", D (price)},
    {"finance.charge.raised", D (charge)},
    {"finance.charge.voided", D (charge)},
    {"finance.charge.updated", D (charge)},
    {"finance.charge.billed", D (charge)},
    {"finance.invoice.created", D (invoice)},
    {"finance.invoice.updated", D (invoice)},
    {"finance.invoice.issued", D (invoice)},
    {"finance.invoice.cancelled", D (invoice)},
    {"finance.invoice.entered_in_error", D (invoice)},
    {"finance.payment.recorded", D (payment)},
    {"finance.payment.reversed", D (payment)},
    {"finance.credit_note.issued", D (credit_note)},
    {"finance.day.closed", D (day)},
    {"finance.period.locked", D (period_lock)},
    {"finance.budget.set", D (budget)},
    {NULL, NULL},
};

const pm_schema_t finance_schema = {"finance", s_commands, s_events};
