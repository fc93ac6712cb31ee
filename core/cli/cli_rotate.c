/*
 * `readgate keys rotate --to KID`: re-encrypts every "enc:" value of every
 * site file (source options, oauth blocks, the ai block's key) and every OAuth token of the
 * state store under the master key KID, without downtime.
 *
 * The procedure it supports (docs/configuration.md, "Rotating master keys"):
 *   1. `readgate keys generate --kid k2` and put the line first in the key
 *      file (or READGATE_KEYS); keep the old line. SIGHUP: new sessions and
 *      cursors use k2, everything made under k1 still verifies and opens.
 *   2. `readgate keys rotate --to k2`: every stored secret is re-encrypted
 *      under k2. SIGHUP again.
 *   3. Once session_ttl_s has passed, remove the k1 line (retire it).
 *
 * Until step 2 has also covered the state store, OAuth tokens under k1 would
 * move to k2 only as each is refreshed, so k1 could not be retired safely.
 * The store's tokens are rewritten in one transaction holding every row's
 * lock (core/oauth/oauth_rekey.c): all of them or none, and never in the
 * middle of a refresh by a running gateway.
 *
 * Each site file is rewritten in place only where a ciphertext stood, so
 * comments and layout stay; the write is atomic (temporary file in the same
 * directory, fsync, rename, fsync of the directory), so a crash leaves either
 * the old file or the new one, and both open while both keys are loaded.
 * Running it again is harmless: values already under KID are left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"
#include "crypto/audit.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"
#include "oauth/oauth_rekey.h"
#include "state/state_store.h"

/* Site files are small; anything larger is not one. */
#define MAX_SITE_FILE (16 * 1024 * 1024)

typedef struct {
    char *old_enc; /* points into the loaded config: not owned */
    char *new_enc; /* owned */
} replacement;

static void rotate_usage(FILE *f)
{
    fprintf(f,
            "usage: readgate keys rotate --to KID [-c FILE] [--dry-run]\n"
            "\n"
            "Re-encrypts every enc: value of every site file, and every OAuth token in\n"
            "the state store, under the master key KID. KID must be one of the loaded\n"
            "master keys (the key file or environment variable named in readgate.yaml);\n"
            "the old keys must still be there too. Each site file is replaced\n"
            "atomically; the state store is rewritten in one transaction (all tokens or\n"
            "none). Then reload the server (SIGHUP).\n"
            "  -c, --config FILE  readgate.yaml (default: readgate.yaml)\n"
            "  --dry-run          say what would change, write nothing\n");
}

static char *read_file(const char *path, size_t *len, struct stat *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > MAX_SITE_FILE) {
        snprintf(err, errlen, "not a regular file of at most %d bytes", MAX_SITE_FILE);
        goto fail;
    }
    size_t n = (size_t)st->st_size, got = 0;
    buf = malloc(n + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "cannot read: %s", r < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    close(fd);
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

static size_t count_occurrences(const char *text, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + nl, needle))
        n++;
    return n;
}

/* Build the new text: each old ciphertext (known to occur exactly once)
 * replaced by its new one. */
static char *apply(const char *text, size_t len, const replacement *r, size_t nr)
{
    size_t out_len = len;
    for (size_t i = 0; i < nr; i++)
        out_len = out_len - strlen(r[i].old_enc) + strlen(r[i].new_enc);
    char *cur = strdup(text);
    for (size_t i = 0; cur && i < nr; i++) {
        char *at = strstr(cur, r[i].old_enc);
        size_t ol = strlen(r[i].old_enc), nl = strlen(r[i].new_enc), cl = strlen(cur);
        char *next = malloc(cl - ol + nl + 1);
        if (!next || !at) {
            free(next);
            free(cur);
            return NULL;
        }
        size_t head = (size_t)(at - cur);
        memcpy(next, cur, head);
        memcpy(next + head, r[i].new_enc, nl);
        memcpy(next + head + nl, at + ol, cl - head - ol + 1);
        free(cur);
        cur = next;
    }
    if (cur && strlen(cur) != out_len) {
        free(cur);
        return NULL;
    }
    return cur;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Temporary file next to `path` (a dot name: the server ignores it while it
 * exists), same mode and owner, fsync, rename over, fsync the directory. */
static int replace_atomically(const char *path, const char *text, const struct stat *st,
                              char *err, size_t errlen)
{
    char *dcopy = strdup(path), *bcopy = strdup(path);
    char *tmp = NULL;
    int fd = -1, dfd = -1, rc = -1;
    if (!dcopy || !bcopy) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    if (asprintf(&tmp, "%s/.%s.rotate.XXXXXX", dir, base) < 0) {
        tmp = NULL;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto out;
    }
    if ((st->st_uid != geteuid() || st->st_gid != getegid()) &&
        fchown(fd, st->st_uid, st->st_gid) != 0) {
        snprintf(err, errlen, "cannot give the new file the old owner: %s", strerror(errno));
        goto out;
    }
    if (fchmod(fd, st->st_mode & 07777) != 0 || write_all(fd, text, strlen(text)) != 0 ||
        fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL; /* renamed: nothing to remove any more */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(dcopy);
    free(bcopy);
    return rc;
}

/* One encrypted value of a site file: its replacement appended to r[*nr]
 * unless it is already under `to`. 0, or -1 after printing why. */
static int rekey_site_value(const rg_site *site, const rg_keyring *kr, const rg_master_key *to,
                            const char *path, char *enc, int line, replacement *r, size_t *nr)
{
    char why[256];
    int e = rg_secret_reencrypt(kr, to, site->site_id, path, enc, &r[*nr].new_enc, why,
                                sizeof why);
    if (e < 0) {
        fprintf(stderr, "%s:%d: %s: %s\n", site->file, line, path, why);
        return -1;
    }
    if (e == 0)
        return 0; /* already under the new key */
    r[(*nr)++].old_enc = enc;
    return 0;
}

/* Re-encrypt one site's values; writes the file unless dry_run. Returns the
 * number of values changed, or -1 after printing why. */
static long rotate_site(const rg_site *site, const rg_keyring *kr, const rg_master_key *to,
                        bool dry_run)
{
    size_t cap = 0, nr = 0;
    for (size_t j = 0; j < site->nsources; j++)
        cap += site->sources[j].noptions + (site->sources[j].oauth ? 2 : 0);
    cap += site->ai ? 1 : 0;
    replacement *r = calloc(cap ? cap : 1, sizeof *r);
    char *text = NULL, *out = NULL;
    long rc = -1;
    char err[512];
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", site->file);
        return -1;
    }
    for (size_t j = 0; j < site->nsources; j++) {
        const rg_source *src = &site->sources[j];
        char path[256];
        for (size_t k = 0; k < src->noptions; k++) {
            const rg_source_option *o = &src->options[k];
            if (!rg_secret_is_encrypted(o->value))
                continue;
            snprintf(path, sizeof path, "sources.%s.options.%s", src->name, o->key);
            if (rekey_site_value(site, kr, to, path, o->value, o->line, r, &nr) != 0)
                goto out;
        }
        /* The oauth block's secrets (the same paths config/verify_secrets.c
           opens): left under the old key, they would stop the start once it
           is retired. */
        const rg_oauth_config *oa = src->oauth;
        if (oa && oa->client_secret) {
            snprintf(path, sizeof path, "sources.%s.oauth.client_secret", src->name);
            if (rekey_site_value(site, kr, to, path, oa->client_secret, oa->client_secret_line,
                                 r, &nr) != 0)
                goto out;
        }
        if (oa && oa->sa_private_key) {
            snprintf(path, sizeof path, "sources.%s.oauth.service_account.private_key",
                     src->name);
            if (rekey_site_value(site, kr, to, path, oa->sa_private_key,
                                 oa->sa_private_key_line, r, &nr) != 0)
                goto out;
        }
    }
    /* The AI provider's key (AAD site_id/ai.api_key). */
    if (site->ai && site->ai->api_key &&
        rekey_site_value(site, kr, to, "ai.api_key", site->ai->api_key, site->ai->api_key_line, r,
                         &nr) != 0)
        goto out;
    if (nr == 0) {
        rc = 0;
        goto out;
    }
    size_t len;
    struct stat st;
    if (!(text = read_file(site->file, &len, &st, err, sizeof err))) {
        fprintf(stderr, "%s: %s\n", site->file, err);
        goto out;
    }
    /* The file is edited as text so that comments and layout survive; that
     * needs each ciphertext to stand verbatim, once, in the file. */
    for (size_t i = 0; i < nr; i++) {
        size_t n = count_occurrences(text, r[i].old_enc);
        if (n != 1) {
            fprintf(stderr,
                    "%s: an encrypted value occurs %zu times in the file text (expected once, "
                    "on one line); write each enc: value on a single line and retry\n",
                    site->file, n);
            goto out;
        }
    }
    if (!(out = apply(text, len, r, nr))) {
        fprintf(stderr, "%s: out of memory\n", site->file);
        goto out;
    }
    if (!dry_run && replace_atomically(site->file, out, &st, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s; the file is unchanged\n", site->file, err);
        goto out;
    }
    rc = (long)nr;
out:
    for (size_t i = 0; i < nr; i++)
        free(r[i].new_enc);
    free(r);
    free(text);
    free(out);
    return rc;
}

/* What to call the store in messages: a postgres:// URL may carry a password. */
static const char *store_label(const char *url)
{
    if (!url)
        return "(none)";
    return strncmp(url, "sqlite:", 7) == 0 ? url : "postgres";
}

/*
 * The OAuth tokens of the state store that `serve` and `oauth status` use
 * (state_store in readgate.yaml, as the configuration loader resolved it).
 * 0, or 1 after printing why; on failure nothing in the store changed.
 */
static int rotate_store(const rg_config *cfg, const rg_keyring *kr, const rg_master_key *to,
                        bool dry_run)
{
    const char *label = store_label(cfg->state_store);
    char err[1024];
    rg_state_store *st = NULL;
    int found = rg_state_open_existing(cfg->state_store, &st, err, sizeof err);
    if (found < 0) {
        fprintf(stderr, "readgate keys rotate: %s; its OAuth tokens were not re-encrypted\n",
                err);
        return 1;
    }
    if (found == 0) {
        printf("state store %s: does not exist yet; no OAuth tokens to re-encrypt\n", label);
        return 0;
    }
    rg_rekey_result res;
    if (rg_oauth_rekey_store(st, kr, to, dry_run, &res, err, sizeof err) != 0) {
        fprintf(stderr, "readgate keys rotate: state store %s: %s; nothing in the store was "
                        "changed\n",
                label, err);
        rg_state_close(st);
        return 1;
    }
    rg_state_close(st);
    printf("state store %s: %zu OAuth token%s %s under %s (%zu connection%s, %zu token%s "
           "already under %s)\n",
           label, res.reencrypted, res.reencrypted == 1 ? "" : "s",
           dry_run ? "would be re-encrypted" : "re-encrypted", to->kid, res.rows,
           res.rows == 1 ? "" : "s", res.current, res.current == 1 ? "" : "s", to->kid);
    return 0;
}

int rg_cli_keys_rotate(int argc, char **argv)
{
    const char *to_kid = NULL, *config = "readgate.yaml";
    bool dry_run = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to_kid = argv[++i];
        } else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
                   i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            rotate_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "readgate keys rotate: unexpected argument '%s'\n", argv[i]);
            rotate_usage(stderr);
            return 2;
        }
    }
    if (!to_kid) {
        fprintf(stderr, "readgate keys rotate: --to KID is required\n");
        rotate_usage(stderr);
        return 2;
    }
    rg_diags d = {0};
    rg_config *cfg = rg_config_load(config, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s\n", d.lines[i]);
    rg_diags_free(&d);
    if (!cfg) {
        fprintf(stderr, "readgate keys rotate: fix the configuration first; nothing changed\n");
        return 1;
    }
    int status = 1;
    char why[512];
    rg_keyring *kr = rg_keyring_load(cfg->keys_env, cfg->keys_file, why, sizeof why);
    if (!kr) {
        fprintf(stderr, "readgate keys rotate: master keys: %s\n", why);
        goto out;
    }
    const rg_master_key *to = rg_keyring_find(kr, to_kid, strlen(to_kid));
    if (!to) {
        fprintf(stderr,
                "readgate keys rotate: key id '%.40s' is not among the loaded master keys; add "
                "its line (readgate keys generate --kid %.40s) to %s first, keeping the old keys\n",
                to_kid, to_kid, cfg->keys_file ? cfg->keys_file : cfg->keys_env);
        goto out;
    }
    if (rg_audit_open(cfg->audit_log, why, sizeof why) != 0) {
        fprintf(stderr, "readgate keys rotate: %s\n", why);
        goto out;
    }
    size_t total = 0, failed = 0;
    for (size_t i = 0; i < cfg->nsites; i++) {
        long n = rotate_site(&cfg->sites[i], kr, to, dry_run);
        if (n < 0) {
            failed++;
            continue;
        }
        total += (size_t)n;
        if (n > 0)
            printf("%s: %ld value%s %s under %s\n", cfg->sites[i].file, n, n == 1 ? "" : "s",
                   dry_run ? "would be re-encrypted" : "re-encrypted", to->kid);
    }
    printf("%zu value%s %s under %s; %zu site file%s failed\n", total, total == 1 ? "" : "s",
           dry_run ? "would be re-encrypted" : "re-encrypted", to->kid, failed,
           failed == 1 ? "" : "s");
    if (!dry_run && total > 0)
        printf("reload readgate (SIGHUP) so that it opens the new values\n");
    /* Site files and store are independent (each changes whole or not at
       all), so a failure in one does not keep the other from moving on. */
    int store_failed = rotate_store(cfg, kr, to, dry_run);
    status = failed || store_failed ? 1 : 0;
out:
    rg_audit_close();
    rg_keyring_free(kr);
    rg_config_free(cfg);
    return status;
}
