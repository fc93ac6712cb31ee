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

/* The envelope. begin writes `{"rows":[`; each row is one object with the
   visible columns under their public names (a NULL keeps its field, value
   null), `first` telling whether a comma goes before it; end closes the
   array with `next_cursor` (NULL: the last page). Each returns 0, or -1
   when the buffer could not grow. */
int rg_rows_begin(struct evbuffer *out);
int rg_rows_append(struct evbuffer *out, int first, const rg_query_plan *plan,
                   const unsigned char *visible, const rg_value *values);
int rg_rows_end(struct evbuffer *out, const char *next_cursor);

/* Length (1-4) of the well-formed UTF-8 sequence at s[0..n), or 0 if the
   bytes there are not one (overlong forms, surrogates and > U+10FFFF included). */
size_t rg_utf8_seq_len(const unsigned char *s, size_t n);
/* True if s[0..n) is entirely well-formed UTF-8. */
int rg_utf8_valid(const char *s, size_t n);

#endif
