/*  pm_log.h: one JSON object per line on stderr.

    {"ts":"2026-11-27T10:17:06.123Z","level":"info","service":"patients",
     "msg":"listening","endpoint":"tcp://127.0.0.1:7101"}

    Fields are string pairs ending in NULL; callers format numbers first.
    Compose and journald collect stderr; jq reads it.                     */
#ifndef PM_LOG_H
#define PM_LOG_H

typedef enum {
    PM_LOG_DEBUG = 0,
    PM_LOG_INFO = 1,
    PM_LOG_WARN = 2,
    PM_LOG_ERROR = 3,
} pm_log_level_t;

//  Names the service in every line and sets the least level written
//  ("debug", "info", "warn", "error"); unknown names mean "info".
void pm_log_init (const char *service, const char *level);

//  True when `level` would be written: guard costly field formatting.
int pm_log_enabled (pm_log_level_t level);

//  Writes one line: msg, then key/value string pairs, then NULL. A NULL
//  value is written as JSON null.
void pm_log (pm_log_level_t level, const char *msg, ...)
    __attribute__ ((sentinel));

#define pm_debug(...) pm_log (PM_LOG_DEBUG, __VA_ARGS__)
#define pm_info(...) pm_log (PM_LOG_INFO, __VA_ARGS__)
#define pm_warn(...) pm_log (PM_LOG_WARN, __VA_ARGS__)
#define pm_error(...) pm_log (PM_LOG_ERROR, __VA_ARGS__)

#endif
