/*  staffing_credentials.h: licences and certificates per staff member,
    their expiry warnings, and the credential types each role requires.

    Expiry is local: a credential valid to 2026-05-31 at a Honolulu site
    expires at midnight starting 2026-06-01 in Honolulu. Warnings are due
    at local midnight 90, 30 and 7 days before that, and the expiry itself
    is announced; each exactly once (durable flags on the credential, set
    in the transaction that emits the event), however often the timer
    runs or the service restarts.                                         */
#ifndef STAFFING_CREDENTIALS_H
#define STAFFING_CREDENTIALS_H

#include <stddef.h>

#include "pm_server.h"
#include "staffing_staff.h"

//  Binds the credential and role requirement commands.
void stf_credentials_setup (pm_server_t *server);

//  Timed work: gives every warning that is due by now (at most a bounded
//  number per run; the next run continues).
pm_err stf_credentials_tick (pm_ctx_t *ctx);

//  Checks that `s` holds, for each credential type `role` requires, a
//  verified credential valid on every local date from `from` to `to`.
//  PM_OK with missing[0] == 0 when so; otherwise `missing` (len bytes)
//  says what is missing. Other codes are store errors.
pm_err stf_credentials_cover (pm_ctx_t *ctx, const stf_staff_t *s,
                              const char *role, const char *from,
                              const char *to, char *missing, size_t len);

#endif
