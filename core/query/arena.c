#include "query/arena.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16
/* Standard-size chunks a thread keeps for its next plans. */
#define ARENA_SPARE_MAX 4

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
    size_t used;
    alignas(ARENA_ALIGN) unsigned char data[];
} arena_chunk;

struct rg_arena {
    arena_chunk *head;
};

/*
 * Every query plan takes at least one chunk, and a 4 KiB malloc is in
 * glibc's large range, where each one first consolidates the small freed
 * blocks of the whole heap: measured, that was a tenth of a cached answer's
 * time. So each thread keeps a few freed standard chunks for its next plans
 * (plans are built and freed on the same event loop), and frees them when
 * it exits.
 */
typedef struct spare_list {
    arena_chunk *head;
    int n;
} spare_list;

static pthread_key_t g_spare_key;
static pthread_once_t g_spare_once = PTHREAD_ONCE_INIT;
static int g_spare_ok;

static void free_spares(void *p)
{
    spare_list *l = p;
    for (arena_chunk *c = l->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(l);
}

static void spare_setup(void) { g_spare_ok = pthread_key_create(&g_spare_key, free_spares) == 0; }

static spare_list *spares(int create)
{
    if (pthread_once(&g_spare_once, spare_setup) != 0 || !g_spare_ok)
        return NULL;
    spare_list *l = pthread_getspecific(g_spare_key);
    if (!l && create && (l = calloc(1, sizeof *l)) && pthread_setspecific(g_spare_key, l) != 0) {
        free(l);
        l = NULL;
    }
    return l;
}

static arena_chunk *chunk_new(size_t cap)
{
    spare_list *l = cap == ARENA_CHUNK ? spares(0) : NULL;
    if (l && l->head) {
        arena_chunk *c = l->head;
        l->head = c->next;
        l->n--;
        return c;
    }
    arena_chunk *c = malloc(sizeof *c + cap);
    if (c)
        c->cap = cap;
    return c;
}

static void chunk_free(arena_chunk *c)
{
    spare_list *l = c->cap == ARENA_CHUNK ? spares(1) : NULL;
    if (l && l->n < ARENA_SPARE_MAX) {
        c->next = l->head;
        l->head = c;
        l->n++;
        return;
    }
    free(c);
}

rg_arena *rg_arena_new(void) { return calloc(1, sizeof(rg_arena)); }

void *rg_arena_alloc(rg_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = size ? (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) : ARENA_ALIGN;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        c = chunk_new(size > ARENA_CHUNK ? size : ARENA_CHUNK);
        if (!c)
            return NULL;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *rg_arena_strndup(rg_arena *a, const char *s, size_t n)
{
    char *p = rg_arena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void rg_arena_free(rg_arena *a)
{
    if (!a)
        return;
    for (arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        chunk_free(c);
    }
    free(a);
}
