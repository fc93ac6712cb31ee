/*
 * Diagnostics collected while loading configuration: every problem as
 * "file:line: message". Loading keeps going after an error so that one run of
 * `readgate check` reports every mistake, not just the first.
 */
#ifndef RG_DIAG_H
#define RG_DIAG_H

#include <stddef.h>

typedef struct rg_diags {
    char **lines;
    size_t count;
    size_t cap;
} rg_diags;

/* file may be NULL (then "readgate: message"); line 0 means "no line". */
void rg_diag_add(rg_diags *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rg_diags_free(rg_diags *d);

#endif
