/*
 * API errors: {"error":{"code":..,"message":..,"field":..}} with the HTTP
 * status that goes with the code (docs/http-api.md).
 */
#ifndef RG_ERRORS_H
#define RG_ERRORS_H

#include <stddef.h>

typedef struct rg_api_error {
    int http_status;
    const char *code;  /* static string, e.g. "invalid_filter" */
    char message[512]; /* says what was wrong and what is allowed; never echoes secrets */
    char field[128];   /* JSON path of the offending part, e.g. "filters[1].value"; may be empty */
    const char *provider; /* upstream errors of an AI provider mint: its name; else NULL */
} rg_api_error;

void rg_api_error_set(rg_api_error *e, int http_status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Serialise to a malloc'd JSON document (jansson). NULL only on out of memory. */
char *rg_api_error_json(const rg_api_error *e);

#endif
