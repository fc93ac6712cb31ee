/*
 * A PEM private key from memory, never asking for a passphrase: OpenSSL's
 * default would prompt on the terminal, which in a server blocks a thread
 * (or the start) forever. An encrypted PEM is refused like any bad key.
 */
#ifndef RG_PEM_KEY_H
#define RG_PEM_KEY_H

#include <openssl/evp.h>
#include <stddef.h>

/* The key, or NULL (malformed, encrypted, or out of memory). EVP_PKEY_free it. */
EVP_PKEY *rg_pem_private_key(const char *pem, size_t len);

#endif
