#include "workers/provider_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rg_provider_config_make(const rg_site *site, rg_ai_tools tools, rg_provider_cfg *out)
{
    const rg_ai_config *ai = site->ai;
    memset(out, 0, sizeof *out);
    out->opts = calloc(ai->noptions ? ai->noptions : 1, sizeof *out->opts);
    if (!out->opts)
        return -1;
    for (size_t i = 0; i < ai->noptions; i++) {
        out->opts[i].struct_size = sizeof out->opts[i];
        out->opts[i].key = ai->options[i].key;
        out->opts[i].value = ai->options[i].value;
    }
    out->cfg = (rg_provider_config){.struct_size = sizeof(rg_provider_config),
                                    .site_id = site->site_id,
                                    .options = out->opts,
                                    .noptions = ai->noptions,
                                    .expires_after_s = ai->expires_after_s,
                                    .tools = rg_ai_tools_name(tools)};
    return 0;
}

void rg_provider_config_clear(rg_provider_cfg *pc)
{
    free(pc->opts);
    memset(pc, 0, sizeof *pc);
}

/* The line of what a plugin's message names ("agent_id: required"). */
static int line_of_message(const rg_ai_config *ai, const char *msg)
{
    for (size_t i = 0; i < ai->noptions; i++) {
        size_t n = strlen(ai->options[i].key);
        if (strncmp(msg, ai->options[i].key, n) == 0 && (msg[n] == ':' || msg[n] == ' '))
            return ai->options[i].line;
    }
    if (strncmp(msg, "expires_after_s", 15) == 0 && ai->expires_after_line)
        return ai->expires_after_line;
    return ai->options_line ? ai->options_line : ai->line;
}

int rg_provider_check_site(const rg_token_provider *p, const rg_site *site,
                           const char *public_url, rg_ai_tools *tools, int *line, char *why,
                           size_t whylen)
{
    const rg_ai_config *ai = site->ai;
    uint32_t want = 0;
    if (ai->tools_set) {
        *tools = ai->tools;
        want = ai->tools == RG_AI_TOOLS_FUNCTIONS ? RG_PROVIDER_TOOLS_FUNCTIONS
               : ai->tools == RG_AI_TOOLS_MCP     ? RG_PROVIDER_TOOLS_MCP
                                                  : 0;
    } else {
        *tools = p->tools & RG_PROVIDER_TOOLS_FUNCTIONS ? RG_AI_TOOLS_FUNCTIONS : RG_AI_TOOLS_NONE;
    }
    if (ai->tools_set && ai->tools == RG_AI_TOOLS_MCP && !public_url) {
        /* The provider calls readgate from its own cloud: it needs the
           address the world reaches this gateway at. */
        *line = ai->tools_line;
        snprintf(why, whylen, "ai.tools: mcp needs public_url in readgate.yaml (the https "
                              "address the AI provider reaches this gateway at)");
        return -1;
    }
    if (want && !(p->tools & want)) {
        *line = ai->tools_line;
        snprintf(why, whylen,
                 "ai.tools: provider %s can't be given tools per session (%s); its agent gets "
                 "them in the provider's own configuration: use tools: none%s",
                 p->name, rg_ai_tools_name(ai->tools),
                 p->tools & RG_PROVIDER_TOOLS_MCP ? " or mcp" : "");
        return -1;
    }
    if (!p->check)
        return 0;
    rg_provider_cfg pc;
    if (rg_provider_config_make(site, *tools, &pc) != 0) {
        *line = ai->line;
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    rg_error err = {.struct_size = sizeof(rg_error)};
    int rc = 0;
    if (p->check(&pc.cfg, &err) != RG_OK) {
        err.message[sizeof err.message - 1] = '\0';
        *line = line_of_message(ai, err.message);
        snprintf(why, whylen, "ai.options: provider %s: %s", p->name,
                 err.message[0] ? err.message : "options refused");
        if (strncmp(err.message, "expires_after_s", 15) == 0)
            snprintf(why, whylen, "ai.%s (provider %s)", err.message, p->name);
        rc = -1;
    }
    rg_provider_config_clear(&pc);
    return rc;
}
