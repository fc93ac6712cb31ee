/*
 * The signature headers (core/crypto/signature.c): X-Readgate-Signature,
 * -Timestamp and -Nonce are parsed before anything is verified. The whole
 * input is offered to each parser, and each acceptance is checked against
 * the grammar of docs/http-api.md. Then the input is split at newlines into
 * the pieces of a string to sign and verified against a signature made for
 * them, and against one for a different body.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/signature.h"
#include "fuzz_common.h"

static bool hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static void check_parsers(const char *s)
{
    size_t n = strlen(s);
    uint8_t mac[32];
    if (rg_sig_parse_header(s, mac)) {
        RG_FUZZ_CHECK(n == 71 && memcmp(s, "sha256=", 7) == 0);
        for (size_t i = 7; i < n; i++)
            RG_FUZZ_CHECK(hexdig(s[i]));
        char back[72];
        rg_sig_format(mac, back);
        for (size_t i = 0; i < 71; i++)
            RG_FUZZ_CHECK(back[i] == lower(s[i]));
    }
    int64_t ts = -1;
    if (rg_sig_parse_timestamp(s, &ts)) {
        RG_FUZZ_CHECK(n >= 1 && n <= 12 && strspn(s, "0123456789") == n);
        RG_FUZZ_CHECK(ts >= 0 && ts == strtoll(s, NULL, 10));
    }
    if (rg_sig_nonce_valid(s)) {
        RG_FUZZ_CHECK(n >= 16 && n <= 64);
        RG_FUZZ_CHECK(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_-") == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = rg_fuzz_cstr(data, size);
    check_parsers(s);

    /* secret \n ts \n nonce \n method \n path \n body (body may hold anything). */
    const char *piece[6] = {"", "", "", "", "", ""};
    char *p = s;
    for (int i = 0; i < 5; i++) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        piece[i] = p;
        p = nl + 1;
        check_parsers(piece[i]);
    }
    piece[5] = p;
    size_t body_len = size - (size_t)(p - s);
    uint8_t mac[32], other[32];
    rg_sig_compute(piece[0], piece[1], piece[2], piece[3], piece[4], p, body_len, mac);
    RG_FUZZ_CHECK(rg_sig_verify(piece[0], piece[1], piece[2], piece[3], piece[4], p, body_len,
                                mac));
    char hdr[72];
    rg_sig_format(mac, hdr);
    RG_FUZZ_CHECK(rg_sig_parse_header(hdr, other) && memcmp(other, mac, 32) == 0);
    /* One more byte of body is another request. */
    char *longer = malloc(body_len + 1);
    RG_FUZZ_CHECK(longer != NULL);
    if (body_len)
        memcpy(longer, p, body_len);
    longer[body_len] = 'x';
    RG_FUZZ_CHECK(!rg_sig_verify(piece[0], piece[1], piece[2], piece[3], piece[4], longer,
                                 body_len + 1, mac));
    free(longer);
    free(s);
    return 0;
}
