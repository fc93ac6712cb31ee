#include "cache/body_memo.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS 256 /* direct-mapped by the body's hash */

typedef struct entry {
    uint64_t body_hash, key_hash;
    unsigned generation;
    size_t site, body_len, key_len;
    unsigned char data[]; /* body, then key */
} entry;

struct rg_body_memo {
    entry *slots[SLOTS];
};

rg_body_memo *rg_body_memo_new(void)
{
    return calloc(1, sizeof(rg_body_memo));
}

void rg_body_memo_free(rg_body_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(m->slots[i]);
    free(m);
}

const unsigned char *rg_body_memo_find(rg_body_memo *m, unsigned generation, size_t site,
                                       const char *body, size_t len, uint64_t body_hash,
                                       size_t *key_len, uint64_t *key_hash)
{
    if (!m)
        return NULL;
    const entry *e = m->slots[body_hash % SLOTS];
    if (!e || e->body_hash != body_hash || e->generation != generation || e->site != site ||
        e->body_len != len || memcmp(e->data, body, len) != 0)
        return NULL;
    *key_len = e->key_len;
    *key_hash = e->key_hash;
    return e->data + e->body_len;
}

void rg_body_memo_put(rg_body_memo *m, unsigned generation, size_t site, const char *body,
                      size_t len, uint64_t body_hash, const unsigned char *key, size_t key_len,
                      uint64_t key_hash)
{
    if (!m || len > RG_BODY_MEMO_MAX_BODY || key_len > RG_BODY_MEMO_MAX_KEY)
        return;
    entry *e = malloc(sizeof *e + len + key_len);
    if (!e)
        return;
    e->body_hash = body_hash;
    e->key_hash = key_hash;
    e->generation = generation;
    e->site = site;
    e->body_len = len;
    e->key_len = key_len;
    memcpy(e->data, body, len);
    memcpy(e->data + len, key, key_len);
    entry **slot = &m->slots[body_hash % SLOTS];
    free(*slot);
    *slot = e;
}
