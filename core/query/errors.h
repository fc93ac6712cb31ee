/*
 * API errors: {"error":{"code":..,"message":..,"field":..}} with the HTTP
 * status that goes with the code.
 *
 * Every code the gateway answers with is one row of the table in errors.c:
 * its name, its HTTP status and its standard message. Callers name a code
 * by its enum and never spell a code string or a status themselves, so a
 * code can't drift from its status. docs/http-api.md lists the same codes
 * (tests/unit/test_errors.c compares the two).
 */
#ifndef RG_ERRORS_H
#define RG_ERRORS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum rg_err_code {
    /* 400 */
    RG_E_INVALID_REQUEST,
    RG_E_INVALID_JSON,
    RG_E_UNKNOWN_PROPERTY,
    RG_E_UNKNOWN_COLLECTION,
    RG_E_INVALID_FILTER,
    RG_E_UNKNOWN_FIELD,
    RG_E_FIELD_NOT_FILTERABLE,
    RG_E_OPERATOR_NOT_ALLOWED,
    RG_E_INVALID_VALUE,
    RG_E_INVALID_SEARCH,
    RG_E_INVALID_SORT,
    RG_E_INVALID_FIELDS,
    RG_E_INVALID_LIMIT,
    RG_E_INVALID_CURSOR,
    RG_E_INVALID_EVENT,
    RG_E_UNSUPPORTED_PROTOCOL_VERSION,
    /* 401 */
    RG_E_MISSING_SIGNATURE,
    RG_E_INVALID_SIGNATURE_HEADER,
    RG_E_TIMESTAMP_OUT_OF_WINDOW,
    RG_E_INVALID_SESSION,
    RG_E_SESSION_EXPIRED,
    RG_E_SESSION_WRONG_SITE,
    RG_E_SESSION_ENDED,
    RG_E_INVALID_SIGNATURE,
    RG_E_REPLAYED_REQUEST,
    RG_E_MCP_UNAUTHORIZED,
    RG_E_INVALID_WEBHOOK_SIGNATURE,
    /* 403 to 429 */
    RG_E_ORIGIN_NOT_ALLOWED,
    RG_E_WIDGET_UNAVAILABLE,
    RG_E_NOT_FOUND,
    RG_E_METHOD_NOT_ALLOWED,
    RG_E_NOT_ACCEPTABLE,
    RG_E_BODY_TOO_LARGE,
    RG_E_UNSUPPORTED_MEDIA_TYPE,
    RG_E_RATE_LIMITED,
    /* 5xx */
    RG_E_INTERNAL,
    RG_E_UPSTREAM_ERROR,
    RG_E_SOURCE_UNAVAILABLE,
    RG_E_PROVIDER_UNAVAILABLE,
    RG_E_OVERLOADED,
    RG_E_UPSTREAM_TIMEOUT,
    RG_E_COUNT /* not a code: the size of the table */
} rg_err_code;

/* One row of the table. */
typedef struct rg_err_info {
    const char *code;    /* e.g. "invalid_filter" */
    int http_status;     /* e.g. 400 */
    const char *message; /* the standard message: plain ASCII, no quotes or backslashes */
} rg_err_info;

/* The row of `code`; an out-of-range value gets the row of RG_E_INTERNAL. */
const rg_err_info *rg_err_info_of(rg_err_code code);

typedef struct rg_api_error {
    rg_err_code id;
    int http_status;   /* the table's, kept here for whoever answers */
    const char *code;  /* the table's code string */
    char message[512]; /* says what was wrong and what is allowed; never echoes secrets */
    char field[128];   /* JSON path of the offending part, e.g. "filters[1].value"; may be empty */
    const char *provider; /* upstream errors of an AI provider mint: its name; else NULL */
} rg_api_error;

/* An error of `code` with its own message; field may be NULL. */
void rg_api_err(rg_api_error *e, rg_err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same with a va_list, for wrappers that add their own context. */
void rg_api_verr(rg_api_error *e, rg_err_code code, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* An error of `code` with the table's standard message and no field. */
void rg_api_err_default(rg_api_error *e, rg_err_code code);

/* Serialise to a malloc'd JSON document (jansson). NULL only on out of memory. */
char *rg_api_error_json(const rg_api_error *e);

/* The standard error of `code` as a JSON document written into buf without
   allocating: the same text rg_api_error_json gives for it. The length, or
   -1 when it does not fit; every row fits in RG_API_ERROR_DEFAULT_MAX. */
#define RG_API_ERROR_DEFAULT_MAX 512
int rg_api_error_json_default(rg_err_code code, char *buf, size_t len);

#endif
