/*  pm_log.c: JSON-lines logging. A line is built in one buffer and written
    with one write(2), so lines from several processes sharing a terminal
    (make run) do not interleave mid-line.                                */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pm_log.h"

#define LINE_MAX_BYTES 4096

static char s_service[64] = "praxis";
static pm_log_level_t s_level = PM_LOG_INFO;
static const char *s_level_names[] = {"debug", "info", "warn", "error"};

//  --------------------------------------------------------------------------
//  Names the service and sets the least level written.
void
pm_log_init (const char *service, const char *level)
{
    if (service) {
        snprintf (s_service, sizeof s_service, "%s", service);
    }
    s_level = PM_LOG_INFO;
    for (int i = 0; level && i < 4; i++) {
        if (strcasecmp (level, s_level_names[i]) == 0) {
            s_level = (pm_log_level_t) i;
        }
    }
}

//  --------------------------------------------------------------------------
//  True when `level` would be written.
int
pm_log_enabled (pm_log_level_t level)
{
    return level >= s_level;
}

//  Appends `s` as a JSON string; stops quietly at the end of the buffer.
static size_t
s_put_string (char *buf, size_t at, size_t cap, const char *s)
{
    if (at < cap) {
        buf[at++] = '"';
    }
    for (; s && *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char) c;
        }
        else if (c == '\n') {
            buf[at++] = '\\';
            buf[at++] = 'n';
        }
        else if (c < 0x20) {
            at += (size_t) snprintf (buf + at, cap - at, "\\u%04x", c);
        }
        else {
            buf[at++] = (char) c;
        }
    }
    if (at < cap) {
        buf[at++] = '"';
    }
    return at;
}

static size_t
s_put_raw (char *buf, size_t at, size_t cap, const char *s)
{
    if (at >= cap) {
        return cap;
    }
    size_t n = strlen (s);
    if (n > cap - at) {
        n = cap - at;
    }
    memcpy (buf + at, s, n);
    return at + n;
}

//  --------------------------------------------------------------------------
//  Writes one line.
void
pm_log (pm_log_level_t level, const char *msg, ...)
{
    if (level < s_level) {
        return;
    }
    char buf[LINE_MAX_BYTES];
    const size_t cap = sizeof buf - 2; //  room for "}\n"
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    size_t at = (size_t) snprintf (
        buf, cap, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, (long) (tv.tv_usec / 1000), s_level_names[level]);
    if (at >= cap) {
        at = cap;
    }
    at = s_put_raw (buf, at, cap, "\"service\":");
    at = s_put_string (buf, at, cap, s_service);
    at = s_put_raw (buf, at, cap, ",\"msg\":");
    at = s_put_string (buf, at, cap, msg);

    va_list args;
    va_start (args, msg);
    const char *key;
    while ((key = va_arg (args, const char *)) != NULL) {
        const char *value = va_arg (args, const char *);
        at = s_put_raw (buf, at, cap, ",");
        at = s_put_string (buf, at, cap, key);
        at = s_put_raw (buf, at, cap, ":");
        at = value ? s_put_string (buf, at, cap, value)
                   : s_put_raw (buf, at, cap, "null");
    }
    va_end (args);
    if (at > cap) {
        at = cap;
    }
    buf[at++] = '}';
    buf[at++] = '\n';
    ssize_t rc = write (STDERR_FILENO, buf, at);
    (void) rc; //  nowhere to report a failed log write
}
