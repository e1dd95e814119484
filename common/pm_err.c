/*  pm_err.c: names and text for the error vocabulary, and the one place
    where LMDB and errno codes become ours.                               */
#include <errno.h>
#include <lmdb.h>

#include "pm_err.h"

static const struct {
    const char *name;
    const char *text;
} s_errors[PM_ERR_COUNT] = {
    [PM_OK] = {"OK", "success"},
    [PM_EINVAL] = {"EINVAL", "invalid argument"},
    [PM_ENOTFOUND] = {"ENOTFOUND", "not found"},
    [PM_ECONFLICT] = {"ECONFLICT", "conflict"},
    [PM_EFORBIDDEN] = {"EFORBIDDEN", "forbidden"},
    [PM_EPROTO] = {"EPROTO", "malformed request"},
    [PM_EUNKNOWN] = {"EUNKNOWN", "unknown command"},
    [PM_ETOOBIG] = {"ETOOBIG", "request too large"},
    [PM_ETIMEDOUT] = {"ETIMEDOUT", "timed out"},
    [PM_EFULL] = {"EFULL", "store full"},
    [PM_EUNAVAILABLE] = {"EUNAVAILABLE", "service unavailable"},
    [PM_EINTERNAL] = {"EINTERNAL", "internal error"},
};

//  --------------------------------------------------------------------------
//  The code's short name.
const char *
pm_err_name (pm_err code)
{
    if ((unsigned) code >= PM_ERR_COUNT) {
        return "E?";
    }
    return s_errors[code].name;
}

//  --------------------------------------------------------------------------
//  One line of human text for the code.
const char *
pm_strerror (pm_err code)
{
    if ((unsigned) code >= PM_ERR_COUNT) {
        return "unknown error";
    }
    return s_errors[code].text;
}

//  --------------------------------------------------------------------------
//  LMDB codes to ours. MAP_FULL is EFULL so that the write path can grow
//  the map and retry; everything that means "the store is broken" is
//  EINTERNAL, which the log explains.
pm_err
pm_err_from_mdb (int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return PM_OK;
    case MDB_NOTFOUND:
        return PM_ENOTFOUND;
    case MDB_KEYEXIST:
        return PM_ECONFLICT;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_PAGE_FULL:
        return PM_EFULL;
    case MDB_BAD_VALSIZE:
        return PM_EINVAL;
    default:
        return rc > 0 ? pm_err_from_errno (rc) : PM_EINTERNAL;
    }
}

//  --------------------------------------------------------------------------
//  errno values to ours.
pm_err
pm_err_from_errno (int e)
{
    switch (e) {
    case 0:
        return PM_OK;
    case ENOENT:
        return PM_ENOTFOUND;
    case EINVAL:
        return PM_EINVAL;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
        return PM_EFULL;
    case EACCES:
    case EPERM:
        return PM_EFORBIDDEN;
    case ETIMEDOUT:
    case EAGAIN:
        return PM_ETIMEDOUT;
    case EMSGSIZE:
        return PM_ETOOBIG;
    case EINTR:
        return PM_EUNAVAILABLE;
    default:
        return PM_EINTERNAL;
    }
}
