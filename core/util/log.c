#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

static rg_log_level g_level = RG_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void rg_log_set_level(rg_log_level level) { g_level = level; }

void rg_logv(rg_log_level level, const char *component, const char *fmt, va_list ap)
{
    if (level < g_level || level > RG_LOG_ERROR)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s%s%s%s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            level_names[level], component ? " [" : "", component ? component : "",
            component ? "]" : "", msg);
}

void rg_log(rg_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rg_logv(level, NULL, fmt, ap);
    va_end(ap);
}
