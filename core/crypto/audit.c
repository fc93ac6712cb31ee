#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "secret.h"
#include "util/log.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = STDERR_FILENO; /* stderr until a file is configured */

int rg_audit_open(const char *path, char *err, size_t errlen)
{
    int fd = STDERR_FILENO;
    if (path && strcmp(path, "-") != 0) {
        /* 0640: the audit log names sites and fields, not secrets, but it is
         * still nobody else's business. */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open audit log %s: %s", path, strerror(errno));
            return -1;
        }
    }
    pthread_mutex_lock(&g_lock);
    int old = g_fd;
    g_fd = fd;
    pthread_mutex_unlock(&g_lock);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return 0;
}

void rg_audit_close(void)
{
    pthread_mutex_lock(&g_lock);
    int old = g_fd;
    g_fd = STDERR_FILENO;
    pthread_mutex_unlock(&g_lock);
    if (old != STDERR_FILENO)
        close(old);
}

static void now_rfc3339(char *out, size_t outlen)
{
    struct timeval tv;
    struct tm tm;
    if (gettimeofday(&tv, NULL) != 0 || !gmtime_r(&tv.tv_sec, &tm) ||
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, outlen, "unknown");
        return;
    }
    size_t n = strlen(out);
    snprintf(out + n, outlen - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void rg_audit_decrypt(const char *site_id, const char *field_path, const char *kid,
                      const char *purpose, bool ok)
{
    char when[40];
    now_rfc3339(when, sizeof when);
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:b}", "time", when, "event",
                          "decrypt", "site", site_id, "field", field_path, "kid", kid, "purpose",
                          purpose, "ok", ok);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!line) {
        /* The audit trail must not silently lose an event. */
        rg_error_log("audit: cannot format a decrypt event (out of memory)");
        return;
    }
    size_t n = strlen(line);
    char *buf = realloc(line, n + 2);
    if (!buf) {
        free(line);
        rg_error_log("audit: cannot format a decrypt event (out of memory)");
        return;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    pthread_mutex_lock(&g_lock);
    ssize_t w = write(g_fd, buf, n + 1);
    pthread_mutex_unlock(&g_lock);
    if (w != (ssize_t)(n + 1))
        rg_error_log("audit: cannot write the audit log: %s",
                     w < 0 ? strerror(errno) : "short write");
    free(buf);
}

int rg_secret_kid(const char *enc, char kid[RG_KID_MAX + 1])
{
    kid[0] = '\0';
    if (!enc || strncmp(enc, "enc:v1:", 7) != 0)
        return -1;
    const char *k = enc + 7, *end = strchr(k, ':');
    size_t n = end ? (size_t)(end - k) : 0;
    if (n == 0 || n > RG_KID_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return -1;
    }
    memcpy(kid, k, n);
    kid[n] = '\0';
    return 0;
}

int rg_secret_decrypt_audited(const rg_keyring *kr, const char *site_id, const char *path,
                              const char *enc, const char *purpose, char **out, size_t *out_len,
                              char *err, size_t errlen)
{
    int rc = rg_secret_decrypt(kr, site_id, path, enc, out, out_len, err, errlen);
    char kid[RG_KID_MAX + 1];
    bool has_kid = rg_secret_kid(enc, kid) == 0;
    rg_audit_decrypt(site_id, path, has_kid ? kid : NULL, purpose, rc == 0);
    return rc;
}

int rg_secret_reencrypt(const rg_keyring *kr, const rg_master_key *to, const char *site_id,
                        const char *path, const char *enc, char **out, char *err, size_t errlen)
{
    char kid[RG_KID_MAX + 1], why[256];
    *out = NULL;
    if (rg_secret_kid(enc, kid) == 0 && strcmp(kid, to->kid) == 0)
        return 0;
    char *plain = NULL;
    size_t len = 0;
    if (rg_secret_decrypt_audited(kr, site_id, path, enc, "rotate", &plain, &len, why,
                                  sizeof why) != 0) {
        snprintf(err, errlen, "cannot decrypt: %s", why);
        return -1;
    }
    int rc = rg_secret_encrypt_with(to, site_id, path, plain, len, out);
    rg_secure_zero(plain, len);
    free(plain);
    if (rc != 0) {
        *out = NULL;
        snprintf(err, errlen, "cannot encrypt under '%s'", to->kid);
        return -1;
    }
    return 1;
}
