/*
 * A site's `ai` block against its token-provider plugin, without any I/O:
 * `readgate check`, and the server at start and at each reload, so that a
 * mistyped provider option is reported with its file:line at load instead of
 * as a failed mint in a customer's widget.
 */
#ifndef RG_PROVIDER_CHECK_H
#define RG_PROVIDER_CHECK_H

#include <readgate/token_provider.h>
#include <stddef.h>

#include "config/config.h"

/* The plugin's view of an ai block; free with rg_provider_config_clear. */
typedef struct rg_provider_cfg {
    rg_provider_config cfg;
    rg_option *opts;
} rg_provider_cfg;

int rg_provider_config_make(const rg_site *site, rg_ai_tools tools, rg_provider_cfg *out);
void rg_provider_config_clear(rg_provider_cfg *pc);

/*
 * Check site->ai against plugin p (public_url: readgate.yaml's, which
 * tools: mcp needs): the tools mode (ai.tools, or the default:
 * functions when the provider takes them, else none) into *tools, then the
 * plugin's own check. 0, or -1 with the line it concerns in *line and why.
 */
int rg_provider_check_site(const rg_token_provider *p, const rg_site *site,
                           const char *public_url, rg_ai_tools *tools, int *line, char *why,
                           size_t whylen);

#endif
