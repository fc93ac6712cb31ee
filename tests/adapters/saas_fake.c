/*
 * Fake providers for the SaaS adapter tests (see saas_fake.h).
 */
#include "saas_fake.h"

#include <curl/curl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int saas_fake_start(saas_fake *f, const char *source_dir, const char *provider,
                    const char *const *extra)
{
    memset(f, 0, sizeof *f);
    snprintf(f->state, sizeof f->state, "/tmp/rg-test-%s-XXXXXX", provider);
    if (!mkdtemp(f->state))
        return -1;
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/fakes/%s.py", source_dir, provider);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    const char *argv[32] = {"python3", script, "--port", "0", "--state", f->state};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* The fake's own log (a client that hung up, ...) stays out of the
           test's output. */
        char log[200];
        snprintf(log, sizeof log, "%s/stderr.log", f->state);
        FILE *e = fopen(log, "w");
        if (e)
            dup2(fileno(e), 2);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    f->pid = pid;
    FILE *in = fdopen(out[0], "r");
    char line[128] = "";
    if (!in || !fgets(line, sizeof line, in) || sscanf(line, "ready port=%d", &f->port) != 1) {
        if (in)
            fclose(in);
        else
            close(out[0]);
        saas_fake_stop(f);
        return -1;
    }
    fclose(in);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void saas_fake_stop(saas_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    if (f->state[0])
        nftw(f->state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    f->state[0] = '\0';
}

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    buf *b = ctx;
    char *d = realloc(b->data, b->len + size * n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, size * n);
    b->len += size * n;
    d[b->len] = '\0';
    b->data = d;
    return size * n;
}

json_t *saas_fake_call(const saas_fake *f, const char *method, const char *path, json_t *body,
                       long *status)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->url, path);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    buf b = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    json_t *out = NULL;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (payload)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        if (curl_easy_perform(c) == CURLE_OK) {
            if (status)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
            if (b.data)
                out = json_loads(b.data, 0, NULL);
        }
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(h);
    free(payload);
    free(b.data);
    return out;
}

json_t *saas_fake_control(const saas_fake *f, const char *what, json_t *body)
{
    char path[128];
    snprintf(path, sizeof path, "/_fake/%s", what);
    long status = 0;
    json_t *out = saas_fake_call(f, body ? "POST" : "GET", path, body, &status);
    if (status != 200) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *saas_fake_requests(const saas_fake *f)
{
    json_t *all = saas_fake_control(f, "requests", NULL);
    json_t *list = json_incref(json_object_get(all, "requests"));
    json_decref(all);
    return list;
}

char *saas_fake_mint(const saas_fake *f, const char *subject)
{
    json_t *t = saas_fake_control(f, "tokens", json_pack("{s:s}", "subject", subject));
    const char *tok = json_string_value(json_object_get(t, "access_token"));
    char *out = tok ? strdup(tok) : NULL;
    json_decref(t);
    return out;
}
