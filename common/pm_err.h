/*  pm_err.h: the one error vocabulary of Praxis.

    The numbers are pm.Code's (proto/pm.proto), so a code travels unchanged
    from the store to the wire. LMDB and errno codes are mapped here and
    never leak past common/.                                               */
#ifndef PM_ERR_H
#define PM_ERR_H

typedef enum {
    PM_OK = 0,
    PM_EINVAL = 1,        // a field is missing or malformed
    PM_ENOTFOUND = 2,     // no such record
    PM_ECONFLICT = 3,     // stale version, duplicate key, illegal state
    PM_EFORBIDDEN = 4,    // not allowed for this principal or site
    PM_EPROTO = 5,        // not a Request, or a body that does not decode
    PM_EUNKNOWN = 6,      // no such command
    PM_ETOOBIG = 7,       // request larger than the service accepts
    PM_ETIMEDOUT = 8,     // deadline passed, or no reply in time
    PM_EFULL = 9,         // store full and cannot grow
    PM_EUNAVAILABLE = 10, // shutting down or not ready
    PM_EINTERNAL = 11,    // a bug or an I/O failure
} pm_err;

#define PM_ERR_COUNT 12

//  The code's short name, e.g. "EINVAL"; "E?" for an unknown number.
const char *pm_err_name (pm_err code);

//  One line of human text for the code.
const char *pm_strerror (pm_err code);

//  Maps an LMDB return code (or an errno value LMDB passed up) to ours.
pm_err pm_err_from_mdb (int rc);

//  Maps an errno value to ours.
pm_err pm_err_from_errno (int e);

#endif
