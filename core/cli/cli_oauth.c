/*
 * `readgate oauth import` and `readgate oauth status`: putting a connection's
 * tokens into the state store and showing what it holds.
 *
 *   readgate oauth import --site S --source SRC [-c FILE]
 *       Reads the provider's token answer as JSON on stdin
 *       ({"access_token": ..., "refresh_token": ..., "expires_in": ...}),
 *       encrypts the tokens (AAD <site>/oauth.<source>.access_token and
 *       .refresh_token) and stores them with state ok. The client credentials
 *       stay in the site file's oauth block. Running processes pick the new
 *       tokens up on their next query.
 *
 *   readgate oauth status [-c FILE] [--json]
 *       Per connection: site, source, provider, expiry, last refresh, state
 *       (ok | needs_reauth | missing) and the last refresh problem.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "crypto/secret.h"
#include "oauth/oauth_refresh.h"
#include "oauth/oauth_token.h"
#include "state/state_store.h"

#define MAX_STDIN (64 * 1024)

static void oauth_usage(FILE *f)
{
    fprintf(f, "usage: readgate oauth import --site S --source SRC [-c FILE]   (token JSON on stdin)\n"
               "       readgate oauth status [-c FILE] [--json]\n");
}

static char *read_all_stdin(size_t *len)
{
    char *buf = malloc(MAX_STDIN + 1);
    size_t n = 0;
    if (!buf)
        return NULL;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf + n, MAX_STDIN - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == MAX_STDIN) {
            rg_secure_zero(buf, n);
            free(buf);
            errno = EFBIG;
            return NULL;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int do_import(const char *config, const char *site_id, const char *source)
{
    rg_cli_env env;
    if (rg_cli_env_open(&env, config, "readgate oauth import", true) != 0)
        return 1;
    int status = 1;
    char *input = NULL, *acc = NULL, *ref = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    const rg_source *src = rg_cli_find_oauth_source(&env, site_id, source, "readgate oauth import");
    if (!src)
        goto out;
    if (src->oauth->service_account) {
        fprintf(stderr, "readgate oauth import: %s/%s signs in with a service account; it needs "
                        "no imported token\n",
                site_id, source);
        goto out;
    }
    input = read_all_stdin(&len);
    if (!input) {
        fprintf(stderr, "readgate oauth import: cannot read stdin: %s\n", strerror(errno));
        goto out;
    }
    json_error_t je;
    doc = json_loadb(input, len, 0, &je);
    if (!json_is_object(doc)) {
        fprintf(stderr, "readgate oauth import: stdin is not a JSON object (line %d: %s); "
                        "expected {\"access_token\": ..., \"refresh_token\": ..., "
                        "\"expires_in\": ...}\n",
                je.line, json_is_object(doc) || !doc ? je.text : "not an object");
        goto out;
    }
    json_t *at = json_object_get(doc, "access_token"), *rt = json_object_get(doc, "refresh_token"),
           *ei = json_object_get(doc, "expires_in");
    if (!rg_token_value_ok(json_string_value(at))) {
        fprintf(stderr, "readgate oauth import: access_token: expected a string of 1 to 4096 "
                        "visible ASCII characters\n");
        goto out;
    }
    if (rt && !json_is_null(rt) && !rg_token_value_ok(json_string_value(rt))) {
        fprintf(stderr, "readgate oauth import: refresh_token: expected a string of 1 to 4096 "
                        "visible ASCII characters, or null\n");
        goto out;
    }
    if (ei && !json_is_null(ei) && (!json_is_integer(ei) || json_integer_value(ei) <= 0 ||
                                    json_integer_value(ei) > 10LL * 365 * 86400)) {
        fprintf(stderr, "readgate oauth import: expires_in: expected a positive number of "
                        "seconds, or null for a token that does not expire\n");
        goto out;
    }
    char path[256];
    const char *atv = json_string_value(at);
    rg_oauth_token_path(path, sizeof path, source, "access_token");
    if (rg_secret_encrypt(env.kr, site_id, path, atv, strlen(atv), &acc) != 0)
        goto enc_fail;
    if (json_is_string(rt)) {
        const char *rtv = json_string_value(rt);
        rg_oauth_token_path(path, sizeof path, source, "refresh_token");
        if (rg_secret_encrypt(env.kr, site_id, path, rtv, strlen(rtv), &ref) != 0)
            goto enc_fail;
    }
    int64_t now = (int64_t)time(NULL);
    rg_token_row row = {
        .site_id = (char *)site_id,
        .source = (char *)source,
        .provider = (char *)rg_oauth_provider_name(src->oauth->provider),
        .access_token_enc = acc,
        .refresh_token_enc = ref,
        .expires_at = json_is_integer(ei) ? now + json_integer_value(ei) : 0,
        .last_refresh = 0,
        .state = RG_TOKEN_STATE_OK,
        .error = "",
        .updated_at = now,
    };
    char err[300];
    if (rg_state_import(env.st, &row, err, sizeof err) != 0) {
        fprintf(stderr, "readgate oauth import: %s\n", err);
        goto out;
    }
    printf("imported the tokens of %s/%s (%s, %s%s); state ok\n", site_id, source,
           row.provider, ref ? "with a refresh token" : "no refresh token",
           row.expires_at ? ", expiring" : ", not expiring");
    status = 0;
    goto out;
enc_fail:
    fprintf(stderr, "readgate oauth import: could not encrypt the tokens\n");
out:
    json_decref(doc);
    if (input) {
        rg_secure_zero(input, len);
        free(input);
    }
    free(acc);
    free(ref);
    rg_cli_env_close(&env);
    return status;
}

static void fmt_time(char *out, size_t cap, int64_t t)
{
    if (t <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int do_status(const char *config, bool as_json)
{
    rg_cli_env env;
    if (rg_cli_env_open(&env, config, "readgate oauth status", false) != 0)
        return 1;
    int status = 1;
    json_t *arr = json_array();
    if (!as_json)
        printf("%-20s %-16s %-9s %-13s %-21s %-21s %s\n", "SITE", "SOURCE", "PROVIDER", "STATE",
               "EXPIRES_AT", "LAST_REFRESH", "ERROR");
    for (size_t i = 0; i < env.cfg->nsites; i++) {
        const rg_site *site = &env.cfg->sites[i];
        for (size_t j = 0; j < site->nsources; j++) {
            const rg_source *src = &site->sources[j];
            if (!src->oauth)
                continue;
            rg_token_row row = {0};
            char err[300];
            int found = rg_state_get(env.st, site->site_id, src->name, &row, err, sizeof err);
            if (found < 0) {
                fprintf(stderr, "readgate oauth status: %s\n", err);
                json_decref(arr);
                rg_cli_env_close(&env);
                return 1;
            }
            const char *state = found ? row.state : "missing";
            /* A service account's placeholder has no token yet. */
            if (found && !row.access_token_enc && strcmp(row.state, RG_TOKEN_STATE_OK) == 0)
                state = "missing";
            char exp[32], last[32];
            fmt_time(exp, sizeof exp, found ? row.expires_at : 0);
            fmt_time(last, sizeof last, found ? row.last_refresh : 0);
            const char *error = found ? row.error : "";
            const char *prov = rg_oauth_provider_name(src->oauth->provider);
            if (as_json) {
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:b}", "site",
                                      site->site_id, "source", src->name, "provider", prov,
                                      "state", state, "expires_at",
                                      found && row.expires_at > 0 ? exp : NULL, "last_refresh",
                                      found && row.last_refresh > 0 ? last : NULL, "error", error,
                                      "version", (json_int_t)(found ? row.version : 0),
                                      "service_account", src->oauth->service_account);
                json_array_append_new(arr, o);
            } else {
                printf("%-20s %-16s %-9s %-13s %-21s %-21s %s\n", site->site_id, src->name, prov,
                       state, exp, last, *error ? error : "-");
            }
            rg_token_row_clear(&row);
        }
    }
    if (as_json) {
        char *text = json_dumps(arr, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    }
    status = 0;
    json_decref(arr);
    rg_cli_env_close(&env);
    return status;
}

int rg_cli_oauth(int argc, char **argv)
{
    if (argc < 2) {
        oauth_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    const char *config = rg_cli_default_config(), *site = NULL, *source = NULL;
    bool as_json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has)
            config = argv[++i];
        else if (!strcmp(a, "--site") && has)
            site = argv[++i];
        else if (!strcmp(a, "--source") && has)
            source = argv[++i];
        else if (!strcmp(a, "--json"))
            as_json = true;
        else {
            fprintf(stderr, "readgate oauth %s: unexpected argument '%s'\n", sub, a);
            oauth_usage(stderr);
            return 2;
        }
    }
    if (!strcmp(sub, "import")) {
        if (!site || !source || as_json) {
            oauth_usage(stderr);
            return 2;
        }
        return do_import(config, site, source);
    }
    if (!strcmp(sub, "status")) {
        if (site || source) {
            oauth_usage(stderr);
            return 2;
        }
        return do_status(config, as_json);
    }
    if (!strcmp(sub, "--help") || !strcmp(sub, "help")) {
        oauth_usage(stdout);
        return 0;
    }
    fprintf(stderr, "readgate oauth: unknown sub-command '%s'\n", sub);
    oauth_usage(stderr);
    return 2;
}
