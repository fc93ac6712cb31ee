/*
 * Proleptic Gregorian calendar arithmetic (H. Hinnant's days_from_civil and
 * civil_from_days: exact for every year, and portable, unlike timegm): the one
 * copy the gateway's value checks (query/plan_values.c) and the adapters'
 * in-memory evaluation (adapters/common/memfilter.c) both use. Pure functions,
 * no state; built as a small library of its own so adapters link it without
 * the rest of the core.
 */
#ifndef RG_CIVIL_H
#define RG_CIVIL_H

#include <stddef.h>
#include <stdint.h>

/* 28..31; m in 1..12. */
int rg_civil_days_in_month(int64_t y, int m);
/* Days since 1970-01-01 of y-m-d, and back. */
int64_t rg_civil_to_days(int64_t y, int m, int d);
void rg_civil_from_days(int64_t days, int *y, int *m, int *d);
/* n ASCII digits at s into *out: 0, or -1 if any is not a digit. */
int rg_civil_digits(const char *s, size_t n, int *out);

#endif
