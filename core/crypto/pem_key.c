#include "pem_key.h"

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

/* A passphrase callback that has none to give: OpenSSL fails the read. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

EVP_PKEY *rg_pem_private_key(const char *pem, size_t len)
{
    if (!pem || len > INT_MAX)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    return k;
}
