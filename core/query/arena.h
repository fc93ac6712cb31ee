/*
 * A bump allocator: every allocation of one query plan comes from it and is
 * released at once with the plan, so building a plan never has to unwind
 * half-made parts on an error.
 */
#ifndef RG_ARENA_H
#define RG_ARENA_H

#include <stddef.h>

typedef struct rg_arena rg_arena;

rg_arena *rg_arena_new(void);
/* Zeroed, 16-byte aligned; NULL when out of memory. */
void *rg_arena_alloc(rg_arena *a, size_t size);
/* Copy of s[0..n) with a NUL appended. */
char *rg_arena_strndup(rg_arena *a, const char *s, size_t n);
void rg_arena_free(rg_arena *a);

#endif
