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
#include "keys.h"
#include "load.h"

#define K(id) (&rg_site_keys.keys[RG_SITEK_##id])

/* As written in site files, and the mode each stands for. */
const char *const rg_ai_tools_names[] = {"functions", "mcp", "none", NULL};
static const rg_ai_tools tools_modes[] = {RG_AI_TOOLS_FUNCTIONS, RG_AI_TOOLS_MCP,
                                          RG_AI_TOOLS_NONE};
_Static_assert(sizeof tools_modes / sizeof tools_modes[0] ==
                   sizeof rg_ai_tools_names / sizeof rg_ai_tools_names[0] - 1,
               "a mode for every name");

const char *rg_ai_tools_name(rg_ai_tools t)
{
    for (size_t i = 0; i < sizeof tools_modes / sizeof tools_modes[0]; i++)
        if (tools_modes[i] == t)
            return rg_ai_tools_names[i];
    return "none";
}

static bool provider_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

void rg_ai_config_load(rg_cfgctx *c, const rg_cfgmap *top, rg_site *site)
{
    char where[8];
    rg_cfgmap m;
    if (rg_cfg_key_map(c, top, K(AI), where, sizeof where, &m) != 0)
        return;
    rg_ai_config *ai = calloc(1, sizeof *ai);
    if (!ai) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    site->ai = ai;
    ai->line = m.line;
    rg_key_defaults(&rg_site_keys, K(AI), ai);

    const char *s;
    if (rg_cfg_key_string(c, &m, K(AI_PROVIDER), &s) == 0) {
        ai->provider_line = rg_cfg_key_line(&m, K(AI_PROVIDER));
        if (!rg_cfg_name_ok(s, rg_cfg_is_lower_alpha, provider_char, 64))
            rg_cfg_error(c, ai->provider_line,
                         "ai.provider: '%s' is not a valid provider name; expected [a-z][a-z0-9_-]*, "
                         "e.g. openai-realtime, retell, vapi, elevenlabs",
                         s);
        else if (!(ai->provider = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
    }
    if (rg_cfg_key_string(c, &m, K(AI_API_KEY), &s) == 0) {
        ai->api_key_line = rg_cfg_key_line(&m, K(AI_API_KEY));
        /* A provider key in clear text would sit in every backup and diff of
           the site file: only the encrypted form is accepted. */
        if (!rg_secret_is_encrypted(s))
            rg_cfg_error(c, ai->api_key_line,
                         "ai.api_key: must be encrypted (enc:v1:...); make it with: readgate "
                         "secret encrypt --site %s --field ai.api_key",
                         site->site_id ? site->site_id : "SITE_ID");
        else if (!(ai->api_key = strdup(s)))
            rg_cfg_error(c, 0, "out of memory");
    }
    long long v;
    if (rg_cfg_key_int(c, &m, K(AI_EXPIRES_AFTER_S), &v) == 0) {
        ai->expires_after_s = (uint32_t)v;
        ai->expires_after_line = rg_cfg_key_line(&m, K(AI_EXPIRES_AFTER_S));
    }
    if (rg_cfg_key_int(c, &m, K(AI_TIMEOUT_MS), &v) == 0)
        ai->timeout_ms = (uint32_t)v;
    if (rg_cfg_key_int(c, &m, K(AI_CONNECT_TIMEOUT_MS), &v) == 0)
        ai->connect_timeout_ms = (uint32_t)v;
    int mode;
    if (rg_cfg_key_enum(c, &m, K(AI_TOOLS), &s, &mode) == 0) {
        ai->tools_line = rg_cfg_key_line(&m, K(AI_TOOLS));
        ai->tools_set = true;
        if (mode >= 0) {
            ai->tools = tools_modes[mode];
        } else {
            char list[64];
            rg_key_values_text(K(AI_TOOLS), ", ", " or ", list, sizeof list);
            rg_cfg_error(c, ai->tools_line, "ai.tools: '%s' is not a tools mode; expected %s", s,
                         list);
        }
    }
    const rg_node_pair *k;
    if (rg_cfg_key_names(c, &m, K(AI_OPTIONS), &k) == 0) {
        char path[32];
        rg_cfg_key_path(&m, K(AI_OPTIONS), path, sizeof path);
        ai->options_line = k->line;
        rg_cfg_scalar_options(c, k->value, path, &ai->options, &ai->noptions);
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
