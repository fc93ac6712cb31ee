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

#endif
