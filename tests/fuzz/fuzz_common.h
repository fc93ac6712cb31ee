/*
 * What every fuzz target shares: fixed master keys (so that the committed
 * corpus holds real cursors and session tokens these targets accept), a fixed
 * clock, and a way to turn fuzz bytes into a NUL-terminated string.
 */
#ifndef RG_FUZZ_COMMON_H
#define RG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"

/* Two keys: k1 is the primary, k2 an older one that still verifies. */
#define RG_FUZZ_KEYS                                                                               \
    "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"                                              \
    "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

/* The clock of every target: 2025-11-22T08:00:00Z. Tokens in the corpus
   expire well after it, so they stay valid for as long as it is fixed. */
#define RG_FUZZ_NOW 1763798400u

/* The query digest cursors in the cursor corpus are bound to. */
static const uint8_t rg_fuzz_digest[16] = {0x52, 0x47, 0x66, 0x75, 0x7a, 0x7a, 0x01, 0x02,
                                           0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};

/* Stop the run: libFuzzer reports it as a crash with the input. */
#define RG_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline rg_keyring *rg_fuzz_keyring(void)
{
    char err[256];
    rg_keyring *kr = rg_keyring_parse(RG_FUZZ_KEYS, err, sizeof err);
    if (!kr) {
        fprintf(stderr, "fuzz keyring: %s\n", err);
        abort();
    }
    return kr;
}

/* A malloc'd NUL-terminated copy of data[0..size); aborts when out of memory
   (a fuzz target has nothing sensible to do then). */
static inline char *rg_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
