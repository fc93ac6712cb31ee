/*
 * Rows straight into the response: {"rows":[{...},...],"next_cursor":...}
 * written value by value into an evbuffer, with no intermediate JSON tree.
 */
#ifndef RG_ROWJSON_H
#define RG_ROWJSON_H

#include <event2/buffer.h>
#include <readgate/adapter.h>

/* Append `s` (len bytes of UTF-8) as a JSON string literal, quotes included.
   Invalid UTF-8 from a backend is replaced by U+FFFD so output is always valid JSON. */
int rg_json_append_string(struct evbuffer *out, const char *s, size_t len);
/* Append a typed value as JSON (null, number, true/false, string). */
int rg_json_append_value(struct evbuffer *out, const rg_value *v);

#endif
