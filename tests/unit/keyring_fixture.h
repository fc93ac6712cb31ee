/*
 * Two master keys and a keyring made from their text, for the unit tests of
 * everything keyed (sessions, cursors, secrets, the state store). Include
 * after <cmocka.h>.
 */
#ifndef RG_TEST_KEYRING_FIXTURE_H
#define RG_TEST_KEYRING_FIXTURE_H

#include "crypto/keyring.h"

#define K1 "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

/* The keyring of `text` (lines "kid:base64"); fails the test otherwise. */
static inline rg_keyring *ring(const char *text)
{
    char err[256];
    rg_keyring *kr = rg_keyring_parse(text, err, sizeof err);
    if (!kr)
        fail_msg("%s", err);
    return kr;
}

#endif
