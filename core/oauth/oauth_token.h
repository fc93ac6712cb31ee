/* The answer of a token endpoint (RFC 6749 section 5): a new access token,
   maybe a new (rotated) refresh token, its lifetime; or an OAuth error. */
#ifndef RG_OAUTH_TOKEN_H
#define RG_OAUTH_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "oauth_http.h"

typedef enum rg_token_outcome {
    RG_TOKEN_ISSUED,        /* access_token (and maybe refresh_token) set */
    RG_TOKEN_INVALID_GRANT, /* the grant is gone: the user must authorise again */
    RG_TOKEN_FAILED         /* anything else: try again later (message says why) */
} rg_token_outcome;

typedef struct rg_token_answer {
    char *access_token;  /* secret */
    char *refresh_token; /* secret; NULL when the provider did not rotate */
    int64_t expires_in;  /* seconds; 0 when not given */
    char message[256];   /* for RG_TOKEN_INVALID_GRANT / FAILED: no secrets */
} rg_token_answer;

rg_token_outcome rg_token_answer_parse(const rg_http_resp *resp, rg_token_answer *out);
void rg_token_answer_clear(rg_token_answer *a);

/* A token as providers issue them: 1 to 4096 visible ASCII characters. */
bool rg_token_value_ok(const char *s);

#endif
