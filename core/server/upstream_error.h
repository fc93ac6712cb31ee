/*
 * The one mapping of a failed backend call to the API's error: the status a
 * data source's adapter returned (plus the core's RG_ERR_REAUTH), or the one
 * an AI provider's plugin returned for a /token mint. Who failed changes the
 * wording and, for a refused credential, the code: a data source's is the
 * operator's to fix (503 source_unavailable), an AI provider's refusal is
 * the provider's answer (502 upstream_error). Codes and statuses come from
 * the table of query/errors.h.
 */
#ifndef RG_UPSTREAM_ERROR_H
#define RG_UPSTREAM_ERROR_H

#include <readgate/plugin.h>

#include "query/errors.h"

typedef enum rg_upstream_kind {
    RG_UPSTREAM_SOURCE,     /* a collection's data source */
    RG_UPSTREAM_AI_PROVIDER /* the site's AI provider, on /token */
} rg_upstream_kind;

typedef struct rg_upstream {
    rg_upstream_kind kind;
    const char *name;    /* the data source's or the AI provider's name */
    const char *site_id; /* data source: its site, for the re-authorisation hint */
    long http_status;    /* AI provider: the HTTP status of its answer (0: none) */
} rg_upstream;

/*
 * The error for st (not RG_OK) from u. A status that says nothing about the
 * backend (RG_ERR_INTERNAL, a plugin's own RG_ERR_CONFIG, anything unknown)
 * is 500 internal with nothing more said. An AI provider's error names the
 * provider (e->provider = u->name, which must outlive e).
 */
void rg_api_error_from_status(rg_api_error *e, rg_status st, const rg_upstream *u);

#endif
