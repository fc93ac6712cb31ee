/* The OAuth token state store, SQLite backend, in a temporary directory:
   import and read back, encryption at rest, AAD binding of each row's tokens,
   the refresh-lock protocol across two connections, re-encryption under a new
   master key (keys rotate), reopening, and errors for unusable locations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/audit.h"
#include "crypto/secret.h"
#include "oauth/oauth_refresh.h"
#include "oauth/oauth_rekey.h"
#include "state/state_store.h"
#include "keyring_fixture.h"

#define SITE_A "sitealpha01"
#define SITE_B "sitebravo01"
/* Distinctive token texts: searched for in the raw database file. */
#define ACCESS_A "atk-Alpha-7c1f9e2d4b6a8f0e3d5c7b9a1e2f4d6c"
#define REFRESH_A "rtk-Alpha-0b2d4f6a8c1e3f5b7d9a2c4e6f8b0d1a"
#define ACCESS_B "atk-Bravo-95e3c1a7f2d4b6e8a0c2f4d6b8e1a3c5"

static char *slurp(const char *path, size_t *len);

static char tmpdir[64];
static char url[160];    /* "sqlite:<tmpdir>/state.db" */
static char dbpath[128]; /* "<tmpdir>/state.db" */
static char auditpath[128]; /* "<tmpdir>/audit.log": every test's decrypt lines */

/* ---- helpers ------------------------------------------------------------ */

static int tmp_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rg-test-state-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
    snprintf(url, sizeof url, "sqlite:%s", dbpath);
    snprintf(auditpath, sizeof auditpath, "%s/audit.log", tmpdir);
    char err[256];
    return rg_audit_open(auditpath, err, sizeof err);
}

/* Lines of the audit log containing every one of the NULL-terminated needles. */
static size_t audit_lines(const char *needle, ...)
{
    size_t len, count = 0;
    char *log = slurp(auditpath, &len);
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        va_list ap;
        va_start(ap, needle);
        bool all = true;
        for (const char *n = needle; n; n = va_arg(ap, const char *))
            all = all && strstr(line, n);
        va_end(ap);
        count += all;
    }
    free(log);
    return count;
}

/* The directory holds only files (database, -wal, -shm, audit log). */
static int tmp_teardown(void **state)
{
    (void)state;
    rg_audit_close();
    DIR *d = opendir(tmpdir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p) != 0)
            rc = -1;
    }
    closedir(d);
    return rmdir(tmpdir) == 0 ? rc : -1;
}

static rg_state_store *open_store(void)
{
    char err[512] = "";
    rg_state_store *st = rg_state_open(url, err, sizeof err);
    if (!st)
        fail_msg("rg_state_open(%s): %s", url, err);
    assert_string_equal(rg_state_kind(st), "sqlite");
    return st;
}

/* A token encrypted the way `oauth import` and the refresh protocol do. */
static char *enc_token(const rg_keyring *kr, const char *site, const char *source,
                       const char *which, const char *plain)
{
    char path[256];
    rg_oauth_token_path(path, sizeof path, source, which);
    char *enc = NULL;
    assert_int_equal(rg_secret_encrypt(kr, site, path, plain, strlen(plain), &enc), 0);
    return enc;
}

/* Decrypt a stored token with its own AAD: 0 and *out, or -1 and err. */
static int open_token(const rg_keyring *kr, const char *site, const char *source,
                      const char *which, const char *enc, char **out, char *err, size_t errlen)
{
    char path[256];
    rg_oauth_token_path(path, sizeof path, source, which);
    return rg_secret_decrypt(kr, site, path, enc, out, NULL, err, errlen);
}

static void expect_token(const rg_keyring *kr, const char *site, const char *source,
                         const char *which, const char *enc, const char *want)
{
    char *plain = NULL, err[256] = "";
    if (open_token(kr, site, source, which, enc, &plain, err, sizeof err) != 0)
        fail_msg("%s/%s %s: %s", site, source, which, err);
    assert_string_equal(plain, want);
    free(plain);
}

static void import_row(rg_state_store *st, const rg_keyring *kr, const char *site,
                       const char *source, const char *access, const char *refresh,
                       int64_t expires_at)
{
    char *acc = access ? enc_token(kr, site, source, "access_token", access) : NULL;
    char *ref = refresh ? enc_token(kr, site, source, "refresh_token", refresh) : NULL;
    rg_token_row row = {
        .site_id = (char *)site,
        .source = (char *)source,
        .provider = (char *)"airtable",
        .access_token_enc = acc,
        .refresh_token_enc = ref,
        .expires_at = expires_at,
        .last_refresh = 1700000100,
        .state = (char *)RG_TOKEN_STATE_OK,
        .error = (char *)"",
        .updated_at = 1700000200,
    };
    char err[512] = "";
    if (rg_state_import(st, &row, err, sizeof err) != 0)
        fail_msg("import %s/%s: %s", site, source, err);
    free(acc);
    free(ref);
}

static rg_token_row get_row(rg_state_store *st, const char *site, const char *source)
{
    rg_token_row r = {0};
    char err[512] = "";
    int found = rg_state_get(st, site, source, &r, err, sizeof err);
    if (found != 1)
        fail_msg("get %s/%s: %d %s", site, source, found, err);
    return r;
}

static char *kid_of(const char *enc, char kid[RG_KID_MAX + 1])
{
    assert_int_equal(rg_secret_kid(enc, kid), 0);
    return kid;
}

/* Whole file contents (NUL-terminated, may contain NULs); "" if absent. */
static char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        return calloc(1, 1);
    size_t cap = 0;
    for (;;) {
        char *nb = realloc(buf, cap + 65536 + 1);
        assert_non_null(nb);
        buf = nb;
        size_t got = fread(buf + cap, 1, 65536, f);
        cap += got;
        if (got < 65536)
            break;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[cap] = '\0';
    *len = cap;
    return buf;
}

static bool mem_contains(const char *hay, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; nl <= n && i + nl <= n; i++)
        if (memcmp(hay + i, needle, nl) == 0)
            return true;
    return false;
}

/* The database and its write-ahead log, as bytes on disk. */
static bool at_rest_contains(const char *needle)
{
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    size_t n1, n2;
    char *db = slurp(dbpath, &n1), *log = slurp(wal, &n2);
    bool found = mem_contains(db, n1, needle) || mem_contains(log, n2, needle);
    free(db);
    free(log);
    return found;
}

/* Every column of two rows equal (ciphertexts compared as text). */
static void assert_rows_equal(const rg_token_row *a, const rg_token_row *b)
{
    assert_string_equal(a->site_id, b->site_id);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->provider, b->provider);
    if (a->access_token_enc || b->access_token_enc)
        assert_string_equal(a->access_token_enc, b->access_token_enc);
    if (a->refresh_token_enc || b->refresh_token_enc)
        assert_string_equal(a->refresh_token_enc, b->refresh_token_enc);
    assert_int_equal(a->expires_at, b->expires_at);
    assert_int_equal(a->last_refresh, b->last_refresh);
    assert_string_equal(a->state, b->state);
    assert_string_equal(a->error, b->error);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_int_equal(a->version, b->version);
}

static void snapshot(rg_state_store *st, rg_token_row **rows, size_t *n)
{
    char err[512] = "";
    if (rg_state_list(st, rows, n, err, sizeof err) != 0)
        fail_msg("list: %s", err);
}

static void assert_snapshot_equal(rg_token_row *a, size_t na, rg_token_row *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_rows_equal(&a[i], &b[i]);
}

/* ---- tests -------------------------------------------------------------- */

static void test_import_read_roundtrip(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_state_store *st = open_store();
    char err[512] = "";
    rg_token_row r = {0};
    assert_int_equal(rg_state_get(st, SITE_A, "tab", &r, err, sizeof err), 0);

    import_row(st, kr, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);
    r = get_row(st, SITE_A, "tab");
    assert_string_equal(r.site_id, SITE_A);
    assert_string_equal(r.source, "tab");
    assert_string_equal(r.provider, "airtable");
    assert_string_equal(r.state, RG_TOKEN_STATE_OK);
    assert_string_equal(r.error, "");
    assert_int_equal(r.expires_at, 1700003600);
    assert_int_equal(r.last_refresh, 1700000100);
    assert_int_equal(r.updated_at, 1700000200);
    assert_int_equal(r.version, 1);
    expect_token(kr, SITE_A, "tab", "access_token", r.access_token_enc, ACCESS_A);
    expect_token(kr, SITE_A, "tab", "refresh_token", r.refresh_token_enc, REFRESH_A);

    /* A deep copy is independent of the original. */
    rg_token_row copy;
    assert_int_equal(rg_token_row_copy(&copy, &r), 0);
    rg_token_row_clear(&r);
    assert_null(r.site_id);
    assert_string_equal(copy.site_id, SITE_A);
    rg_token_row_clear(&copy);

    /* A new import replaces the tokens and raises the version, so running
       processes notice; a grant without a refresh token stores NULL. */
    import_row(st, kr, SITE_A, "tab", ACCESS_B, NULL, 0);
    r = get_row(st, SITE_A, "tab");
    assert_int_equal(r.version, 2);
    assert_int_equal(r.expires_at, 0);
    assert_null(r.refresh_token_enc);
    expect_token(kr, SITE_A, "tab", "access_token", r.access_token_enc, ACCESS_B);
    rg_token_row_clear(&r);

    import_row(st, kr, SITE_B, "tab", ACCESS_B, NULL, 0);
    rg_token_row *rows = NULL;
    size_t n = 0;
    snapshot(st, &rows, &n);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].site_id, SITE_A); /* ordered by site, source */
    assert_string_equal(rows[1].site_id, SITE_B);
    rg_token_rows_free(rows, n);

    assert_int_equal(rg_state_delete(st, SITE_B, "tab", err, sizeof err), 1);
    assert_int_equal(rg_state_delete(st, SITE_B, "tab", err, sizeof err), 0);
    assert_int_equal(rg_state_get(st, SITE_B, "tab", &r, err, sizeof err), 0);
    rg_state_close(st);
    rg_keyring_free(kr);
}

static void test_encrypted_at_rest(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_state_store *st = open_store();
    import_row(st, kr, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);
    /* While open (the row may still be in the WAL) and after a close
       (checkpointed into the database file). */
    assert_true(at_rest_contains("enc:v1:k1:"));
    assert_false(at_rest_contains(ACCESS_A));
    assert_false(at_rest_contains(REFRESH_A));
    rg_state_close(st);
    assert_true(at_rest_contains("enc:v1:k1:"));
    assert_false(at_rest_contains(ACCESS_A));
    assert_false(at_rest_contains(REFRESH_A));
    /* Created private: who used which provider is nobody else's business. */
    struct stat sb;
    assert_int_equal(stat(dbpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    rg_keyring_free(kr);
}

static void test_aad_binds_site_source_and_field(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_state_store *st = open_store();
    import_row(st, kr, SITE_A, "tab", ACCESS_A, REFRESH_A, 0);
    import_row(st, kr, SITE_B, "tab", ACCESS_B, NULL, 0);
    rg_token_row a = get_row(st, SITE_A, "tab");
    rg_token_row b = get_row(st, SITE_B, "tab");
    /* Each site reads its own row. */
    expect_token(kr, SITE_B, "tab", "access_token", b.access_token_enc, ACCESS_B);

    char *plain = NULL, err[256] = "";
    /* Site A's ciphertext does not open as site B's, as another source's, or
       as the other token of the same row. */
    assert_int_equal(open_token(kr, SITE_B, "tab", "access_token", a.access_token_enc, &plain,
                                err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_int_equal(open_token(kr, SITE_A, "other", "access_token", a.access_token_enc,
                                &plain, err, sizeof err),
                     -1);
    assert_int_equal(open_token(kr, SITE_A, "tab", "refresh_token", a.access_token_enc, &plain,
                                err, sizeof err),
                     -1);
    assert_null(plain);

    /* A row copied into another site's place (a database-level move) stores
       fine but its tokens do not open there. */
    rg_token_row moved = b;
    moved.access_token_enc = a.access_token_enc;
    assert_int_equal(rg_state_import(st, &moved, err, sizeof err), 0);
    rg_token_row_clear(&b);
    b = get_row(st, SITE_B, "tab");
    assert_int_equal(open_token(kr, SITE_B, "tab", "access_token", b.access_token_enc, &plain,
                                err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_null(strstr(err, ACCESS_A));
    rg_token_row_clear(&a);
    rg_token_row_clear(&b);
    rg_state_close(st);
    rg_keyring_free(kr);
}

typedef struct locker {
    rg_state_store *st;
    atomic_int got_lock;
    int64_t seen_version;
    char seen_access[256];
    int rc;
} locker;

/* A second "process" running the refresh protocol: lock (waits for the
   holder), re-read, write version + 1, commit. */
static void *refresh_in_thread(void *arg)
{
    locker *l = arg;
    rg_token_row r = {0};
    char err[512] = "";
    l->rc = rg_state_lock(l->st, SITE_A, "tab", &r, err, sizeof err);
    atomic_store(&l->got_lock, 1);
    if (l->rc != 1)
        return NULL;
    l->seen_version = r.version;
    snprintf(l->seen_access, sizeof l->seen_access, "%s", r.access_token_enc);
    r.version++;
    r.last_refresh = r.updated_at = 1700009999;
    if (rg_state_update_locked(l->st, &r, err, sizeof err) != 0 ||
        rg_state_commit(l->st, err, sizeof err) != 0)
        l->rc = -1;
    rg_token_row_clear(&r);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_refresh_lock_protocol(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_state_store *h1 = open_store(), *h2 = open_store();
    char err[512] = "";

    /* A service account's placeholder: no tokens, due now, version 0; a
       second ensure leaves it alone. */
    assert_int_equal(rg_state_ensure(h1, SITE_A, "sheet", "google", err, sizeof err), 0);
    assert_int_equal(rg_state_ensure(h2, SITE_A, "sheet", "google", err, sizeof err), 0);
    rg_token_row p = get_row(h2, SITE_A, "sheet");
    assert_null(p.access_token_enc);
    assert_null(p.refresh_token_enc);
    assert_int_equal(p.expires_at, 1);
    assert_int_equal(p.version, 0);
    rg_token_row_clear(&p);

    /* Locking an absent row: 0, with the transaction left to roll back. */
    rg_token_row r = {0};
    assert_int_equal(rg_state_lock(h1, SITE_A, "nothing", &r, err, sizeof err), 0);
    rg_state_rollback(h1);

    import_row(h1, kr, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);
    /* A rolled-back write leaves the row as it was. */
    assert_int_equal(rg_state_lock(h1, SITE_A, "tab", &r, err, sizeof err), 1);
    assert_int_equal(r.version, 1);
    r.version = 42;
    assert_int_equal(rg_state_update_locked(h1, &r, err, sizeof err), 0);
    rg_state_rollback(h1);
    rg_token_row_clear(&r);
    r = get_row(h2, SITE_A, "tab");
    assert_int_equal(r.version, 1);
    rg_token_row_clear(&r);

    /* h1 holds the lock (a refresh in flight); h2's refresh waits for it,
       then re-reads the row h1 committed and builds on its version. */
    assert_int_equal(rg_state_lock(h1, SITE_A, "tab", &r, err, sizeof err), 1);
    locker l = {.st = h2};
    atomic_init(&l.got_lock, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, refresh_in_thread, &l), 0);
    sleep_ms(300);
    assert_int_equal(atomic_load(&l.got_lock), 0);
    char *fresh = enc_token(kr, SITE_A, "tab", "access_token", ACCESS_B);
    free(r.access_token_enc);
    r.access_token_enc = fresh;
    r.version++;
    assert_int_equal(rg_state_update_locked(h1, &r, err, sizeof err), 0);
    assert_int_equal(rg_state_commit(h1, err, sizeof err), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rc, 1);
    assert_int_equal(l.seen_version, 2);
    assert_string_equal(l.seen_access, r.access_token_enc);
    rg_token_row_clear(&r);

    r = get_row(h1, SITE_A, "tab");
    assert_int_equal(r.version, 3);
    assert_int_equal(r.last_refresh, 1700009999);
    expect_token(kr, SITE_A, "tab", "access_token", r.access_token_enc, ACCESS_B);
    expect_token(kr, SITE_A, "tab", "refresh_token", r.refresh_token_enc, REFRESH_A);
    rg_token_row_clear(&r);
    rg_state_close(h1);
    rg_state_close(h2);
    rg_keyring_free(kr);
}

/* Three rows under k1: both tokens, access only, and a placeholder. */
static void fill_k1(rg_state_store *st)
{
    rg_keyring *k1 = ring(K1);
    char err[512] = "";
    import_row(st, k1, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);
    import_row(st, k1, SITE_B, "tab", ACCESS_B, NULL, 0);
    assert_int_equal(rg_state_ensure(st, SITE_B, "sheet", "google", err, sizeof err), 0);
    rg_keyring_free(k1);
}

static void test_rekey_under_new_key(void **state)
{
    (void)state;
    char err[1024] = "";
    rg_state_store *st = open_store();
    fill_k1(st);
    rg_token_row *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    snapshot(st, &before, &nb);
    assert_int_equal(nb, 3);

    rg_keyring *k21 = ring(K2 "\n" K1);
    const rg_master_key *to = rg_keyring_find(k21, "k2", 2);
    assert_non_null(to);

    /* A dry run counts and changes nothing. */
    rg_rekey_result res;
    assert_int_equal(rg_oauth_rekey_store(st, k21, to, true, &res, err, sizeof err), 0);
    assert_int_equal(res.rows, 3);
    assert_int_equal(res.reencrypted, 3);
    assert_int_equal(res.current, 0);
    assert_int_equal(res.failed, 0);
    snapshot(st, &after, &na);
    assert_snapshot_equal(before, nb, after, na);
    rg_token_rows_free(after, na);

    if (rg_oauth_rekey_store(st, k21, to, false, &res, err, sizeof err) != 0)
        fail_msg("rekey: %s", err);
    assert_int_equal(res.reencrypted, 3);
    snapshot(st, &after, &na);
    assert_int_equal(na, nb);
    /* Only the ciphertexts changed: same values under k2, same version,
       expiry, timestamps and state. */
    rg_keyring *k2 = ring(K2);
    char kid[RG_KID_MAX + 1];
    for (size_t i = 0; i < na; i++) {
        rg_token_row want = after[i];
        want.access_token_enc = before[i].access_token_enc;
        want.refresh_token_enc = before[i].refresh_token_enc;
        assert_rows_equal(&want, &before[i]);
        if (after[i].access_token_enc)
            assert_string_equal(kid_of(after[i].access_token_enc, kid), "k2");
        if (after[i].refresh_token_enc)
            assert_string_equal(kid_of(after[i].refresh_token_enc, kid), "k2");
    }
    assert_string_equal(after[0].site_id, SITE_A);
    expect_token(k2, SITE_A, "tab", "access_token", after[0].access_token_enc, ACCESS_A);
    expect_token(k2, SITE_A, "tab", "refresh_token", after[0].refresh_token_enc, REFRESH_A);
    assert_string_equal(after[1].source, "sheet"); /* the placeholder: nothing to do */
    assert_null(after[1].access_token_enc);
    expect_token(k2, SITE_B, "tab", "access_token", after[2].access_token_enc, ACCESS_B);
    assert_null(after[2].refresh_token_enc);

    /* Again: nothing left to do, nothing changes. */
    assert_int_equal(rg_oauth_rekey_store(st, k21, to, false, &res, err, sizeof err), 0);
    assert_int_equal(res.reencrypted, 0);
    assert_int_equal(res.current, 3);
    rg_token_row *again = NULL;
    size_t ng = 0;
    snapshot(st, &again, &ng);
    assert_snapshot_equal(after, na, again, ng);
    rg_token_rows_free(again, ng);

    /* Every decrypt was audited with purpose "rotate" (dry run included),
       naming site, field and old key id, never the value. */
    assert_int_equal(audit_lines("\"purpose\":\"rotate\"", NULL), 6);
    assert_int_equal(audit_lines("\"site\":\"" SITE_A "\",\"field\":\"oauth.tab.access_token\","
                                 "\"kid\":\"k1\",\"purpose\":\"rotate\",\"ok\":true",
                                 NULL),
                     2);
    assert_int_equal(audit_lines("\"field\":\"oauth.tab.refresh_token\"", "\"ok\":true", NULL),
                     2);
    size_t alen;
    char *log = slurp(auditpath, &alen);
    assert_null(strstr(log, ACCESS_A));
    assert_null(strstr(log, REFRESH_A));
    assert_null(strstr(log, ACCESS_B));
    free(log);

    rg_token_rows_free(before, nb);
    rg_token_rows_free(after, na);
    rg_state_close(st);
    rg_keyring_free(k2);
    rg_keyring_free(k21);
}

static void test_rekey_failure_changes_nothing(void **state)
{
    (void)state;
    rg_state_store *st = open_store();
    fill_k1(st);
    char err[1024] = "";
    rg_token_row *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    snapshot(st, &before, &nb);
    rg_rekey_result res;

    /* The old key is missing from the keyring: nothing opens. */
    rg_keyring *k2 = ring(K2);
    assert_int_equal(rg_oauth_rekey_store(st, k2, &k2->keys[0], false, &res, err, sizeof err),
                     -1);
    assert_int_equal(res.failed, 3);
    assert_int_equal(res.reencrypted, 0);
    assert_non_null(strstr(err, "3 token values could not be re-encrypted"));
    assert_non_null(strstr(err, SITE_A "/oauth.tab.access_token: cannot decrypt: unknown key "
                                       "id 'k1'"));
    /* Each failed decrypt is audited too, with the key id it named. */
    assert_int_equal(
        audit_lines("\"kid\":\"k1\",\"purpose\":\"rotate\",\"ok\":false", NULL), 3);
    snapshot(st, &after, &na);
    assert_snapshot_equal(before, nb, after, na);
    rg_token_rows_free(after, na);

    /* One bad value among good ones (a ciphertext moved from another site):
       the good ones are not rewritten either — one transaction. */
    rg_token_row b = get_row(st, SITE_B, "tab");
    rg_token_row moved = b;
    moved.access_token_enc = before[0].access_token_enc; /* site A's */
    assert_int_equal(rg_state_import(st, &moved, err, sizeof err), 0);
    rg_token_row_clear(&b);
    rg_token_rows_free(before, nb);
    snapshot(st, &before, &nb);
    rg_keyring *k21 = ring(K2 "\n" K1);
    assert_int_equal(
        rg_oauth_rekey_store(st, k21, &k21->keys[0], false, &res, err, sizeof err), -1);
    assert_int_equal(res.failed, 1);
    assert_int_equal(res.reencrypted, 2);
    assert_non_null(strstr(err, "1 token value could not be re-encrypted"));
    assert_non_null(strstr(err, SITE_B "/oauth.tab.access_token: cannot decrypt: "
                                       "authentication failed"));
    assert_null(strstr(err, ACCESS_A));
    snapshot(st, &after, &na);
    assert_snapshot_equal(before, nb, after, na);
    char kid[RG_KID_MAX + 1];
    assert_string_equal(kid_of(after[0].access_token_enc, kid), "k1");
    rg_token_rows_free(after, na);

    /* The failed runs left no transaction open: the store is usable. */
    char *fresh = enc_token(k21, SITE_B, "tab", "access_token", ACCESS_B);
    b = get_row(st, SITE_B, "tab");
    free(b.access_token_enc);
    b.access_token_enc = fresh;
    assert_int_equal(rg_state_import(st, &b, err, sizeof err), 0);
    rg_token_row_clear(&b);
    assert_int_equal(rg_oauth_rekey_store(st, k21, &k21->keys[0], false, &res, err, sizeof err),
                     0);
    assert_int_equal(res.reencrypted, 2); /* site A's two; site B's new one is under k2 */
    assert_int_equal(res.current, 1);

    rg_token_rows_free(before, nb);
    rg_state_close(st);
    rg_keyring_free(k2);
    rg_keyring_free(k21);
}

typedef struct rekeyer {
    rg_state_store *st;
    const rg_keyring *kr;
    atomic_int done;
    int rc;
    rg_rekey_result res;
    char err[1024];
} rekeyer;

static void *rekey_in_thread(void *arg)
{
    rekeyer *k = arg;
    k->rc = rg_oauth_rekey_store(k->st, k->kr, &k->kr->keys[0], false, &k->res, k->err,
                                 sizeof k->err);
    atomic_store(&k->done, 1);
    return NULL;
}

/* keys rotate while a gateway refreshes: rotation waits for the refresh's
   commit and re-encrypts the token it stored; nothing is lost. */
static void test_rekey_waits_for_a_refresh(void **state)
{
    (void)state;
    rg_keyring *k1 = ring(K1), *k21 = ring(K2 "\n" K1);
    rg_state_store *gw = open_store(), *cli = open_store();
    char err[512] = "";
    import_row(gw, k1, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);

    rg_token_row r = {0};
    assert_int_equal(rg_state_lock(gw, SITE_A, "tab", &r, err, sizeof err), 1);
    rekeyer k = {.st = cli, .kr = k21};
    atomic_init(&k.done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, rekey_in_thread, &k), 0);
    sleep_ms(300);
    assert_int_equal(atomic_load(&k.done), 0);
    /* The refresh commits a new access token under the gateway's key. */
    char *fresh = enc_token(k1, SITE_A, "tab", "access_token", ACCESS_B);
    free(r.access_token_enc);
    r.access_token_enc = fresh;
    r.version++;
    assert_int_equal(rg_state_update_locked(gw, &r, err, sizeof err), 0);
    assert_int_equal(rg_state_commit(gw, err, sizeof err), 0);
    rg_token_row_clear(&r);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (k.rc != 0)
        fail_msg("rekey: %s", k.err);
    assert_int_equal(k.res.reencrypted, 2);

    r = get_row(gw, SITE_A, "tab");
    assert_int_equal(r.version, 2);
    rg_keyring *k2 = ring(K2);
    expect_token(k2, SITE_A, "tab", "access_token", r.access_token_enc, ACCESS_B);
    expect_token(k2, SITE_A, "tab", "refresh_token", r.refresh_token_enc, REFRESH_A);
    rg_token_row_clear(&r);
    rg_state_close(gw);
    rg_state_close(cli);
    rg_keyring_free(k1);
    rg_keyring_free(k2);
    rg_keyring_free(k21);
}

static void test_reopen_after_close(void **state)
{
    (void)state;
    rg_keyring *kr = ring(K1);
    rg_state_store *st = open_store();
    import_row(st, kr, SITE_A, "tab", ACCESS_A, REFRESH_A, 1700003600);
    rg_token_row before = get_row(st, SITE_A, "tab");
    rg_state_close(st);

    /* The schema exists already; opening again keeps every row. */
    st = open_store();
    rg_token_row after = get_row(st, SITE_A, "tab");
    assert_rows_equal(&before, &after);
    expect_token(kr, SITE_A, "tab", "refresh_token", after.refresh_token_enc, REFRESH_A);
    rg_token_row_clear(&after);
    rg_state_close(st);

    rg_state_store *again = NULL;
    char err[512] = "";
    assert_int_equal(rg_state_open_existing(url, &again, err, sizeof err), 1);
    assert_non_null(again);
    after = get_row(again, SITE_A, "tab");
    assert_int_equal(after.version, before.version);
    rg_token_row_clear(&after);
    rg_state_close(again);
    rg_token_row_clear(&before);
    rg_keyring_free(kr);
}

static void expect_open_error(const char *u, const char *needle)
{
    char err[512] = "";
    rg_state_store *st = rg_state_open(u, err, sizeof err);
    if (st)
        fail_msg("rg_state_open(%s) succeeded", u ? u : "NULL");
    if (!strstr(err, needle))
        fail_msg("rg_state_open(%s): '%s' does not contain '%s'", u ? u : "NULL", err, needle);
}

static void test_bad_locations(void **state)
{
    (void)state;
    char u[256], err[512] = "";
    expect_open_error("sqlite:/nonexistent-rg-dir/sub/state.db", "/nonexistent-rg-dir/sub/state.db");
    expect_open_error("sqlite:/nonexistent-rg-dir/sub/state.db", "cannot create");
    expect_open_error("mysql://db/state", "expected sqlite:PATH or postgres://");
    expect_open_error(NULL, "expected sqlite:PATH or postgres://");
    /* A directory, and a file that is not a database. */
    snprintf(u, sizeof u, "sqlite:%s", tmpdir);
    expect_open_error(u, "state store (sqlite)");
    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.db", tmpdir);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        assert_true(fputs("this is not an SQLite database. ", f) >= 0);
    assert_int_equal(fclose(f), 0);
    snprintf(u, sizeof u, "sqlite:%s", junk);
    expect_open_error(u, "not a database");
    /* A PostgreSQL server that is not there: an error, never a password. */
    expect_open_error("postgres://rg:pw-secret-9@127.0.0.1:1/none", "state store (postgres)");
    char pgerr[512] = "";
    assert_null(rg_state_open("postgres://rg:pw-secret-9@127.0.0.1:1/none", pgerr, sizeof pgerr));
    assert_null(strstr(pgerr, "pw-secret-9"));

    /* open_existing: a missing SQLite file is "no store", and is not created;
       a path that cannot exist is an error. */
    rg_state_store *st = NULL;
    snprintf(u, sizeof u, "sqlite:%s/absent.db", tmpdir);
    assert_int_equal(rg_state_open_existing(u, &st, err, sizeof err), 0);
    assert_null(st);
    struct stat sb;
    assert_int_equal(stat(u + 7, &sb), -1);
    snprintf(u, sizeof u, "sqlite:%s/sub/state.db", junk); /* under a regular file */
    assert_int_equal(rg_state_open_existing(u, &st, err, sizeof err), -1);
    assert_null(st);
    assert_non_null(strstr(err, "cannot use"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_read_roundtrip, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_at_rest, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_aad_binds_site_source_and_field, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_lock_protocol, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_under_new_key, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_failure_changes_nothing, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_waits_for_a_refresh, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_close, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_bad_locations, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
