/*  finance.c: wires the finance service together: its store and each
    concept's commands and followers.                                   */
#include "finance.h"
#include "finance_charges.h"
#include "finance_sites.h"
#include "finance_store.h"

//  --------------------------------------------------------------------------
int
finance_setup (pm_server_t *server)
{
    if (fin_store_open (pm_server_store (server)) != PM_OK) {
        return -1;
    }
    fin_sites_setup (server);
    fin_charges_setup (server);
    return 0;
}
