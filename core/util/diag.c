#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rg_diag_add(rg_diags *d, const char *file, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char full[1024];
    if (file && line > 0)
        snprintf(full, sizeof full, "%s:%d: %s", file, line, msg);
    else if (file)
        snprintf(full, sizeof full, "%s: %s", file, msg);
    else
        snprintf(full, sizeof full, "readgate: %s", msg);

    if (d->count == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        char **n = realloc(d->lines, ncap * sizeof *n);
        if (!n)
            return; /* out of memory: the caller still sees count > 0 from earlier, or
                       fails on its own allocation */
        d->lines = n;
        d->cap = ncap;
    }
    char *copy = strdup(full);
    if (copy)
        d->lines[d->count++] = copy;
}

void rg_diags_free(rg_diags *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->count = d->cap = 0;
}
