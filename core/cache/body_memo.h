/*
 * Per event loop: the result-cache key that a /query body was last found to
 * mean. A widget's popular questions arrive again and again byte for byte;
 * for those, a cached answer is found without parsing and validating the
 * JSON again (which was most of the cost of answering from the cache).
 * Only bodies whose plan is a pure function of the body and the site's
 * config are remembered (no cursor: it decrypts with keys and expires), and
 * an entry counts only under the runtime generation it was made in, so a
 * reload (new config or keys) forgets everything. Used by one thread.
 */
#ifndef RG_CACHE_BODY_MEMO_H
#define RG_CACHE_BODY_MEMO_H

#include <stddef.h>
#include <stdint.h>

typedef struct rg_body_memo rg_body_memo;

/* Bodies and keys longer than these are not remembered. */
#define RG_BODY_MEMO_MAX_BODY 2048
#define RG_BODY_MEMO_MAX_KEY 4096

rg_body_memo *rg_body_memo_new(void);
void rg_body_memo_free(rg_body_memo *m);

/* The key remembered for (generation, site, body), with its length and
   hash, or NULL. The pointer is valid until the next put. */
const unsigned char *rg_body_memo_find(rg_body_memo *m, unsigned generation, size_t site,
                                       const char *body, size_t len, uint64_t body_hash,
                                       size_t *key_len, uint64_t *key_hash);

/* Remember a key (replacing whatever shared its slot); out of memory or too
   long only means it is not remembered. */
void rg_body_memo_put(rg_body_memo *m, unsigned generation, size_t site, const char *body,
                      size_t len, uint64_t body_hash, const unsigned char *key, size_t key_len,
                      uint64_t key_hash);

#endif
