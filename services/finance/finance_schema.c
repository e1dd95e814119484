/*  finance_schema.c: the finance service's commands and events.

    Roles: network-admin may call everything. Practice managers and
    finance set a site's fees and prices; the front desk, practice
    managers and finance raise charges, invoice and take payments;
    refunds, write-offs, payment reversals and period locks are finance's
    alone; auditors read.                                               */
#include "finance_schema.h"

//  Who sets a site's money rules.
#define SETTERS (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE)
//  Who works the till: charges, invoices, payments.
#define BILLING (PM_ROLE_FRONT_DESK | PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FINANCE)
//  Who reads billing records.
#define READERS (BILLING | PM_ROLE_AUDITOR)
//  Who reads prices and site settings.
#define PRICE_READERS (PM_ROLES_CARE | PM_ROLE_FINANCE | PM_ROLE_AUDITOR | PM_ROLE_SERVICE)

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
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"finance.site.set", D (site_finance)},
    {"finance.price.set", D (price)},
    {"finance.charge.raised", D (charge)},
    {"finance.charge.voided", D (charge)},
    {"finance.charge.updated", D (charge)},
    {NULL, NULL},
};

const pm_schema_t finance_schema = {"finance", s_commands, s_events};
