/*
 * The audit log of secret use. Every decryption of a stored secret writes one
 * JSON line: time, site, field path, key id, purpose and outcome — never the
 * value. Operators ship this file to their SIEM to see when and why a
 * database password or OAuth token was opened.
 *
 *   {"time":"2026-11-26T07:40:00.123Z","event":"decrypt","site":"demo0001",
 *    "field":"sources.catalog.options.dsn","kid":"k1","purpose":"connect","ok":true}
 *
 * Thread-safe: lines are written whole with one write(2) on an O_APPEND
 * descriptor, so concurrent writers (and several processes) never interleave.
 */
#ifndef RG_AUDIT_H
#define RG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "keyring.h"

/*
 * Send audit lines to `path` ("-" or NULL: stderr). Opening again (on
 * SIGHUP) reopens the file, so log rotation works. On failure the previous
 * destination stays and -1 is returned with a message.
 */
int rg_audit_open(const char *path, char *err, size_t errlen);
void rg_audit_close(void);

/* Write one line. `kid` may be NULL when the value names no key id. */
void rg_audit_decrypt(const char *site_id, const char *field_path, const char *kid,
                      const char *purpose, bool ok);

/*
 * rg_secret_decrypt plus its audit line: what every caller that opens a
 * stored secret uses. `purpose` says why ("connect", "verify", "rotate").
 */
int rg_secret_decrypt_audited(const rg_keyring *kr, const char *site_id, const char *path,
                              const char *enc, const char *purpose, char **out, size_t *out_len,
                              char *err, size_t errlen);

/*
 * The ciphertext `enc` of (site_id, path) under the master key `to`, for key
 * rotation: 0 when it already is (nothing to do), 1 with a new malloc'd
 * ciphertext in *out, -1 with "cannot decrypt: ..." or "cannot encrypt ..."
 * in err. The decrypt is audited with purpose "rotate"; the plaintext wiped.
 */
int rg_secret_reencrypt(const rg_keyring *kr, const rg_master_key *to, const char *site_id,
                        const char *path, const char *enc, char **out, char *err, size_t errlen);

/* Copy the key id of an "enc:v1:<kid>:..." value into kid (NUL-terminated).
 * 0 on success, -1 when the value has no well-formed key id. */
int rg_secret_kid(const char *enc, char kid[RG_KID_MAX + 1]);

#endif
