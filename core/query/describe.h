/*
 * GET /v1/{site}/collections: the site's collections, their display,
 * filterable (with operators), searchable and sortable fields and types, and
 * LLM tool definitions (JSON Schema of the query body per collection, in the
 * OpenAI/Anthropic function-calling shape), built once per config load.
 */
#ifndef RG_DESCRIBE_H
#define RG_DESCRIBE_H

#include "../config/config.h"

/* malloc'd JSON document; NULL on out of memory. */
char *rg_describe_site(const rg_site *site, const rg_limits *limits);

/* The same tools, provider-neutral: a JSON array of {"name", "description",
   "parameters"} (a token provider puts them in its own shape). malloc'd. */
char *rg_describe_tools(const rg_site *site, const rg_limits *limits);

#endif
