#include "adapter_err.h"

#include <stdio.h>
#include <string.h>

rg_status rg_adapter_vfail(rg_error *err, rg_status st, const char *fmt, va_list ap)
{
    if (!err)
        return st;
    err->status = st;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    for (char *p = err->message; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t n = strlen(err->message);
    while (n && err->message[n - 1] == ' ')
        err->message[--n] = '\0';
    return st;
}

rg_status rg_adapter_fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rg_adapter_vfail(err, st, fmt, ap);
    va_end(ap);
    return st;
}

void rg_adapter_log(const rg_host_api *host, const char *adapter, rg_log_level lvl,
                    const char *fmt, ...)
{
    if (!host || !host->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    host->log(lvl, adapter, fmt, ap);
    va_end(ap);
}
