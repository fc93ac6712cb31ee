/* Structured logging to stderr. Thread-safe. Never pass values or secrets. */
#ifndef RG_LOG_H
#define RG_LOG_H

#include <readgate/adapter.h>
#include <stdarg.h>

void rg_log_set_level(rg_log_level level);
void rg_log(rg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rg_logv(rg_log_level level, const char *component, const char *fmt, va_list ap);

#define rg_debug(...) rg_log(RG_LOG_DEBUG, __VA_ARGS__)
#define rg_info(...) rg_log(RG_LOG_INFO, __VA_ARGS__)
#define rg_warn(...) rg_log(RG_LOG_WARN, __VA_ARGS__)
#define rg_error_log(...) rg_log(RG_LOG_ERROR, __VA_ARGS__)

#endif
