/*
 * A site's `ai` block: the token-provider plugin that mints the widget's AI
 * credential (docs/configuration.md, "AI provider"). What the plugin itself
 * accepts in ai.options is asked of the plugin when the site is loaded
 * (workers/provider_check.c); here is what readgate reads itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secret.h"
#include "node.h"

static const char *const ai_keys[] = {"provider", "api_key",    "expires_after_s",
                                      "tools",    "options",    "timeout_ms",
                                      "connect_timeout_ms",     NULL};

const char *rg_ai_tools_name(rg_ai_tools t)
{
    switch (t) {
    case RG_AI_TOOLS_FUNCTIONS: return "functions";
    case RG_AI_TOOLS_MCP: return "mcp";
    default: return "none";
    }
}

static bool provider_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

void rg_ai_config_load(rg_cfgctx *c, const rg_node_pair *p, rg_site *site)
{
    if (rg_cfg_kind(c, p->value, "ai", RG_NODE_MAP) != 0)
        return;
    rg_ai_config *ai = calloc(1, sizeof *ai);
    if (!ai) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    site->ai = ai;
    ai->line = p->line;
    ai->expires_after_s = 600;
    ai->timeout_ms = 10000;
    ai->connect_timeout_ms = 3000;
    const rg_node *m = p->value;
    rg_cfg_check_keys(c, m, "ai", ai_keys);

    const char *s;
    const rg_node_pair *k = rg_cfg_require(c, m, p->line, "ai", "provider");
    if (k && rg_cfg_string(c, k->value, "ai.provider", true, &s) == 0) {
        ai->provider_line = k->value->line;
        if (!rg_cfg_name_ok(s, rg_cfg_is_lower_alpha, provider_char, 64))
            rg_cfg_error(c, k->value->line,
                         "ai.provider: '%s' is not a valid provider name; expected [a-z][a-z0-9_-]*, "
                         "e.g. openai-realtime, retell, vapi, elevenlabs",
                         s);
        else if (!(ai->provider = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
    }
    k = rg_cfg_require(c, m, p->line, "ai", "api_key");
    if (k && rg_cfg_string(c, k->value, "ai.api_key", true, &s) == 0) {
        ai->api_key_line = k->value->line;
        /* A provider key in clear text would sit in every backup and diff of
           the site file: only the encrypted form is accepted. */
        if (!rg_secret_is_encrypted(s))
            rg_cfg_error(c, k->value->line,
                         "ai.api_key: must be encrypted (enc:v1:...); make it with: readgate "
                         "secret encrypt --site %s --field ai.api_key",
                         site->site_id ? site->site_id : "SITE_ID");
        else if (!(ai->api_key = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
    }
    long long v;
    k = rg_node_find(m, "expires_after_s");
    if (k && rg_cfg_int(c, k->value, "ai.expires_after_s", 10, 86400, &v) == 0) {
        ai->expires_after_s = (uint32_t)v;
        ai->expires_after_line = k->value->line;
    }
    k = rg_node_find(m, "timeout_ms");
    if (k && rg_cfg_int(c, k->value, "ai.timeout_ms", 100, 60000, &v) == 0)
        ai->timeout_ms = (uint32_t)v;
    k = rg_node_find(m, "connect_timeout_ms");
    if (k && rg_cfg_int(c, k->value, "ai.connect_timeout_ms", 100, 60000, &v) == 0)
        ai->connect_timeout_ms = (uint32_t)v;
    k = rg_node_find(m, "tools");
    if (k && rg_cfg_string(c, k->value, "ai.tools", true, &s) == 0) {
        ai->tools_line = k->value->line;
        ai->tools_set = true;
        if (strcmp(s, "functions") == 0)
            ai->tools = RG_AI_TOOLS_FUNCTIONS;
        else if (strcmp(s, "mcp") == 0)
            ai->tools = RG_AI_TOOLS_MCP;
        else if (strcmp(s, "none") == 0)
            ai->tools = RG_AI_TOOLS_NONE;
        else
            rg_cfg_error(c, k->value->line, "ai.tools: '%s' is not a tools mode; expected "
                         "functions, mcp or none", s);
    }
    k = rg_node_find(m, "options");
    if (k && rg_cfg_kind(c, k->value, "ai.options", RG_NODE_MAP) == 0) {
        ai->options_line = k->line;
        rg_cfg_scalar_options(c, k->value, "ai.options", &ai->options, &ai->noptions);
        /* ai.options reach the plugin in clear and may be logged by it:
           secrets belong in ai.api_key only. */
        for (size_t i = 0; i < ai->noptions; i++)
            if (ai->options[i].value && rg_secret_is_encrypted(ai->options[i].value))
                rg_cfg_error(c, ai->options[i].line,
                             "ai.options.%s: options are not secret; the provider's key goes in "
                             "ai.api_key",
                             ai->options[i].key);
    }
}

void rg_ai_config_free(rg_ai_config *ai)
{
    if (!ai)
        return;
    free(ai->provider);
    free(ai->api_key);
    for (size_t i = 0; i < ai->noptions; i++) {
        free(ai->options[i].key);
        free(ai->options[i].value);
    }
    free(ai->options);
    free(ai);
}
