#include "query/json_scratch.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Enough for a body of a few KiB; a bigger one spills into malloc. */
#define SCRATCH_BYTES (32 * 1024)

typedef struct scratch {
    size_t used;
    bool active;
    _Alignas(16) unsigned char mem[SCRATCH_BYTES];
} scratch;

static _Thread_local scratch *tl;
static pthread_key_t key; /* frees a thread's block when it ends */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_bool installed;

static void *scratch_malloc(size_t n)
{
    scratch *s = tl;
    if (s && s->active && n <= SCRATCH_BYTES) {
        size_t need = (n + 15) & ~(size_t)15;
        if (need <= SCRATCH_BYTES - s->used) {
            void *p = s->mem + s->used;
            s->used += need;
            return p;
        }
    }
    return malloc(n);
}

static void scratch_free(void *p)
{
    scratch *s = tl;
    if (s && (unsigned char *)p >= s->mem && (unsigned char *)p < s->mem + SCRATCH_BYTES)
        return; /* reclaimed all at once by rg_json_scratch_end */
    free(p);
}

static void scratch_destroy(void *p)
{
    free(p);
}

static void install_once(void)
{
    if (pthread_key_create(&key, scratch_destroy) != 0)
        return;
    json_set_alloc_funcs(scratch_malloc, scratch_free);
    atomic_store(&installed, true);
}

void rg_json_scratch_install(void)
{
    (void)pthread_once(&once, install_once);
}

void rg_json_scratch_begin(void)
{
    if (!atomic_load_explicit(&installed, memory_order_relaxed))
        return;
    if (!tl) {
        scratch *s = malloc(sizeof *s);
        if (!s)
            return; /* malloc, as without scratch */
        if (pthread_setspecific(key, s) != 0) {
            free(s);
            return;
        }
        tl = s;
    }
    tl->used = 0;
    tl->active = true;
}

void rg_json_scratch_end(void)
{
    if (tl) {
        tl->active = false;
        tl->used = 0;
    }
}
