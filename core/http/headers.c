#include "http/headers.h"

#include <event2/keyvalq_struct.h>
#include <string.h>
#include <strings.h>

void rg_find_headers(const struct evkeyvalq *h, const char *const *names, size_t n,
                     const char **out)
{
    size_t lens[16];
    size_t left = 0;
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        lens[i] = strlen(names[i]);
        left++;
    }
    for (const struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
        size_t klen = strlen(kv->key);
        for (size_t i = 0; i < n; i++) {
            if (out[i] || lens[i] != klen || strcasecmp(kv->key, names[i]) != 0)
                continue;
            out[i] = kv->value;
            if (--left == 0)
                return;
            break;
        }
    }
}
