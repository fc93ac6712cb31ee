/*
 * Filling an rg_error, shared by the first-party adapters. Backend messages
 * (libpq, MariaDB, libmongoc, HTTP bodies) may span lines; the host logs the
 * message on one line, so line breaks and tabs become spaces and trailing
 * spaces go.
 */
#ifndef RG_ADAPTER_ERR_H
#define RG_ADAPTER_ERR_H

#include <readgate/adapter.h>
#include <stdarg.h>

/* Sets err (when non-NULL) and returns st, so callers can `return` it. */
rg_status rg_adapter_fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
rg_status rg_adapter_vfail(rg_error *err, rg_status st, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* A line in the host's log (when the host has one), named after the adapter.
   Each adapter wraps it: #define logf_(lvl, ...) rg_adapter_log(host, NAME, lvl, __VA_ARGS__) */
void rg_adapter_log(const rg_host_api *host, const char *adapter, rg_log_level lvl,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
