/*
 * Several request headers in one pass over the list. evhttp_find_header
 * walks every header with a case-insensitive compare for each name asked
 * for; a signed request asks for four, which made the compares a visible
 * part of answering from the cache. Here a header is compared only with
 * the names of its length.
 */
#ifndef RG_HTTP_HEADERS_H
#define RG_HTTP_HEADERS_H

#include <stddef.h>

struct evkeyvalq;

/* out[i] = the value of the first header named names[i] (any case), or
   NULL. n is at most 16. */
void rg_find_headers(const struct evkeyvalq *h, const char *const *names, size_t n,
                     const char **out);

#endif
