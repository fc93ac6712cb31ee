/*
 * `readgate keys generate` and `readgate secret encrypt`: the two commands an
 * operator uses to set up master keys and the encrypted values of site files.
 * Neither ever prints or logs a plaintext secret; buffers that held one are
 * wiped before they are freed.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"

#define DEFAULT_KEYS_ENV "READGATE_KEYS"
#define MAX_SECRET_BYTES (64 * 1024)
#define MAX_FIELD_PATH 256

/* ---- keys generate ----------------------------------------------------- */

static void keys_usage(FILE *f)
{
    fprintf(f, "usage: readgate keys generate [--kid KID]\n"
               "       readgate keys rotate --to KID [-c FILE] [--dry-run]\n"
               "\n"
               "Prints a new master key line \"KID:BASE64\" (32 random bytes) on stdout.\n"
               "KID is 1-32 of A-Z a-z 0-9 _ - (default: k<UTC date>-<4 random hex digits>).\n"
               "Put the line first in READGATE_KEYS or the key file (mode 0600) to make it\n"
               "the primary key; keep the older lines so what they encrypted still opens.\n");
}

/* "k20250131-3fa9": sorts by date and two keys made the same day differ. */
static int default_kid(char *out, size_t outlen)
{
    unsigned char r[2];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm))
        return -1;
    char date[16];
    if (strftime(date, sizeof date, "%Y%m%d", &tm) == 0)
        return -1;
    int n = snprintf(out, outlen, "k%s-%02x%02x", date, r[0], r[1]);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static bool kid_ok(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n > RG_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int rg_cli_keys(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keys_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
        return rg_cli_keys_rotate(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "generate") != 0) {
        if (argc >= 2)
            fprintf(stderr, "readgate keys: unknown action '%s'\n", argv[1]);
        keys_usage(stderr);
        return 2;
    }
    const char *kid = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--kid") == 0 && i + 1 < argc) {
            kid = argv[++i];
        } else if (strncmp(argv[i], "--kid=", 6) == 0) {
            kid = argv[i] + 6;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            keys_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "readgate keys generate: unexpected argument '%s'\n", argv[i]);
            keys_usage(stderr);
            return 2;
        }
    }
    char kidbuf[RG_KID_MAX + 1];
    if (!kid) {
        if (default_kid(kidbuf, sizeof kidbuf) != 0) {
            fprintf(stderr, "readgate keys generate: cannot make a key id\n");
            return 1;
        }
        kid = kidbuf;
    } else if (!kid_ok(kid)) {
        fprintf(stderr, "readgate keys generate: key id '%.40s' is invalid; expected 1-%d of "
                        "A-Z a-z 0-9 _ -\n",
                kid, RG_KID_MAX);
        return 2;
    }
    char line[RG_KID_MAX + 80];
    if (rg_keyring_generate_line(kid, line, sizeof line) != 0) {
        fprintf(stderr, "readgate keys generate: cannot generate a key (random source failed)\n");
        return 1;
    }
    int rc = 0;
    if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "readgate keys generate: cannot write the key: %s\n", strerror(errno));
        rc = 1;
    }
    rg_secure_zero(line, sizeof line);
    return rc;
}

/* ---- secret encrypt ---------------------------------------------------- */

static void secret_usage(FILE *f)
{
    fprintf(f,
            "usage: readgate secret encrypt --site SITE_ID --field PATH\n"
            "                               [-c FILE | --keys-file FILE | --keys-env NAME]\n"
            "\n"
            "Reads one secret from stdin (one trailing newline is removed; at most 64 KiB)\n"
            "and prints the value to put in the site file: enc:v1:KID:IV:CT:TAG.\n"
            "The ciphertext is bound to SITE_ID and PATH, e.g. sources.catalog.options.dsn,\n"
            "and opens nowhere else.\n"
            "\n"
            "Master keys come from the keys settings of the readgate.yaml given with -c,\n"
            "or from a key file (mode 0600), or from the environment variable NAME\n"
            "(default " DEFAULT_KEYS_ENV "). The first key encrypts.\n"
            "\n"
            "example: printf %%s \"$DSN\" | readgate secret encrypt --site demo0001 \\\n"
            "             --field sources.catalog.options.dsn\n");
}

/* Dot-separated segments of [A-Za-z0-9_-]+, like sources.catalog.options.dsn. */
static bool field_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > MAX_FIELD_PATH)
        return false;
    bool seg_empty = true;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '.') {
            if (seg_empty)
                return false;
            seg_empty = true;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-') {
            seg_empty = false;
        } else {
            return false;
        }
    }
    return !seg_empty;
}

/*
 * Read all of stdin into buf (capacity cap). Returns the number of bytes, or
 * -1 on a read error; a result equal to cap means "more than cap - 1".
 * On a terminal, echo is off so the secret does not appear on screen.
 */
static ssize_t read_stdin(char *buf, size_t cap)
{
    struct termios saved;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        fprintf(stderr, "secret (input hidden; end with Enter, then Ctrl-D): ");
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
            tty = false;
    }
    size_t got = 0;
    ssize_t rc = 0;
    int saved_errno = 0;
    while (got < cap) {
        ssize_t n = read(STDIN_FILENO, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved_errno = errno;
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (tty) {
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) != 0)
            fprintf(stderr, "\nreadgate secret encrypt: could not restore terminal echo\n");
        else
            fprintf(stderr, "\n");
    }
    errno = saved_errno;
    return rc < 0 ? -1 : (ssize_t)got;
}

/* Where the master keys come from: -c (its keys settings), a file, or an env name. */
typedef struct key_source {
    const char *config;
    const char *file;
    const char *env;
} key_source;

static rg_keyring *load_keys(const key_source *ks)
{
    char err[512] = "";
    rg_keyring *kr = NULL;
    if (ks->config) {
        rg_diags d = {0};
        rg_config *cfg = rg_config_load(ks->config, &d);
        if (!cfg) {
            for (size_t i = 0; i < d.count; i++)
                fprintf(stderr, "%s\n", d.lines[i]);
            fprintf(stderr, "readgate secret encrypt: cannot read the keys settings of %s "
                            "(fix the lines above, or use --keys-file / --keys-env)\n",
                    ks->config);
            rg_diags_free(&d);
            return NULL;
        }
        rg_diags_free(&d);
        kr = rg_keyring_load(cfg->keys_env ? cfg->keys_env : DEFAULT_KEYS_ENV, cfg->keys_file, err,
                             sizeof err);
        rg_config_free(cfg);
    } else {
        kr = rg_keyring_load(ks->env ? ks->env : DEFAULT_KEYS_ENV, ks->file, err, sizeof err);
    }
    if (!kr)
        fprintf(stderr, "readgate secret encrypt: %s\n", err);
    return kr;
}

int rg_cli_secret(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        secret_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "encrypt") != 0) {
        if (argc >= 2)
            fprintf(stderr, "readgate secret: unknown action '%s'\n", argv[1]);
        secret_usage(stderr);
        return 2;
    }
    const char *site = NULL, *field = NULL;
    key_source ks = {0};
    for (int i = 2; i < argc; i++) {
        if (rg_cli_opt_value(argc, argv, &i, "--site", &site) ||
            rg_cli_opt_value(argc, argv, &i, "--field", &field) ||
            rg_cli_opt_value(argc, argv, &i, "-c", &ks.config) ||
            rg_cli_opt_value(argc, argv, &i, "--config", &ks.config) ||
            rg_cli_opt_value(argc, argv, &i, "--keys-file", &ks.file) ||
            rg_cli_opt_value(argc, argv, &i, "--keys-env", &ks.env))
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            secret_usage(stdout);
            return 0;
        }
        fprintf(stderr, "readgate secret encrypt: unexpected argument '%s'\n", argv[i]);
        secret_usage(stderr);
        return 2;
    }
    if (!site || !field) {
        fprintf(stderr, "readgate secret encrypt: --site and --field are required\n");
        secret_usage(stderr);
        return 2;
    }
    if ((ks.config != NULL) + (ks.file != NULL) + (ks.env != NULL) > 1) {
        fprintf(stderr, "readgate secret encrypt: give at most one of -c, --keys-file, "
                        "--keys-env\n");
        return 2;
    }
    if (!rg_site_id_valid(site)) {
        fprintf(stderr, "readgate secret encrypt: site id '%.40s' is invalid; expected 8-32 of "
                        "a-z 0-9\n",
                site);
        return 2;
    }
    if (!field_path_ok(field)) {
        fprintf(stderr, "readgate secret encrypt: field path '%.80s' is invalid; expected "
                        "dot-separated names of A-Z a-z 0-9 _ -, e.g. "
                        "sources.catalog.options.dsn\n",
                field);
        return 2;
    }

    /* Keys first: a missing key should not cost the user typing the secret. */
    rg_keyring *kr = load_keys(&ks);
    if (!kr)
        return 1;

    /* One byte over the limit plus room for the newline tells "too large". */
    const size_t cap = MAX_SECRET_BYTES + 3;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "readgate secret encrypt: out of memory\n");
        rg_keyring_free(kr);
        return 1;
    }
    int rc = 1;
    char *enc = NULL;
    ssize_t got = read_stdin(buf, cap);
    size_t len = got > 0 ? (size_t)got : 0;
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    if (got < 0) {
        fprintf(stderr, "readgate secret encrypt: cannot read stdin: %s\n", strerror(errno));
    } else if (len == 0) {
        fprintf(stderr, "readgate secret encrypt: no secret on stdin; expected the value to "
                        "encrypt\n");
    } else if (len > MAX_SECRET_BYTES) {
        fprintf(stderr, "readgate secret encrypt: the secret is larger than %d bytes\n",
                MAX_SECRET_BYTES);
    } else if (memchr(buf, '\0', len)) {
        /* Site file values are text; a NUL would silently cut the value when used. */
        fprintf(stderr, "readgate secret encrypt: the secret contains a NUL byte; expected "
                        "text\n");
    } else if (rg_secret_encrypt(kr, site, field, buf, len, &enc) != 0) {
        fprintf(stderr, "readgate secret encrypt: encryption failed\n");
    } else if (printf("%s\n", enc) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "readgate secret encrypt: cannot write the result: %s\n",
                strerror(errno));
    } else {
        rc = 0;
    }
    rg_secure_zero(buf, cap);
    free(buf);
    free(enc);
    rg_keyring_free(kr);
    return rc;
}
