/*
 * GET /v1/{site}/collections: the site's collections, their display,
 * filterable (with operators), searchable and sortable fields and types, and
 * LLM tool definitions (JSON Schema of the query body per collection, in the
 * OpenAI/Anthropic function-calling shape), built once per config load.
 */
#ifndef RG_DESCRIBE_H
#define RG_DESCRIBE_H

#include "config/config.h"

/* malloc'd JSON document; NULL on out of memory. */
char *rg_describe_site(const rg_site *site, const rg_limits *limits);

/* The same tools, provider-neutral: a JSON array of {"name", "description",
   "parameters"} (a token provider puts them in its own shape). malloc'd. */
char *rg_describe_tools(const rg_site *site, const rg_limits *limits);

/* The MCP tools/list result {"tools":[...]}: one query_<collection> tool per
   collection (input schema: the query body without `collection`) and
   describe_collections, all read-only. malloc'd. */
char *rg_describe_mcp_tools(const rg_site *site, const rg_limits *limits);
/* The collection a query_<collection> tool reads, or NULL. */
const rg_collection *rg_describe_tool_collection(const rg_site *site, const char *tool);

#endif
