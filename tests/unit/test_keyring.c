/* Master keys: parsing, rejection messages, key file permission checks,
   sub-key derivation (vectors computed independently with Python's hmac). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/keyring.h"

#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* bytes 0..31 */
#define K2 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" /* bytes 32..63 */
#define K_31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define K_33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void test_parse_good(void **state)
{
    (void)state;
    char err[256] = "";
    rg_keyring *kr = rg_keyring_parse("# master keys\n\nk2:" K2 "\n  k1:" K1 "  \r\n", err,
                                      sizeof err);
    assert_non_null(kr);
    assert_int_equal(kr->nkeys, 2);
    assert_string_equal(rg_keyring_primary(kr)->kid, "k2");
    const rg_master_key *k1 = rg_keyring_find(kr, "k1", 2);
    assert_non_null(k1);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k1->key[i], i);
    assert_null(rg_keyring_find(kr, "k3", 2));
    assert_null(rg_keyring_find(kr, "k", 1));
    rg_keyring_free(kr);

    /* Environment style: comma-separated. */
    kr = rg_keyring_parse("a_b-C9:" K1 ", old:" K2, err, sizeof err);
    assert_non_null(kr);
    assert_int_equal(kr->nkeys, 2);
    assert_string_equal(kr->keys[0].kid, "a_b-C9");
    assert_string_equal(kr->keys[1].kid, "old");
    rg_keyring_free(kr);
}

static void test_subkeys_hkdf(void **state)
{
    (void)state;
    char err[256];
    rg_keyring *kr = rg_keyring_parse("k1:" K1, err, sizeof err);
    assert_non_null(kr);
    uint8_t want[32];
    const rg_master_key *k = rg_keyring_primary(kr);
    hex_to("cb0c5fbdfe0e8155d77a6f848bc849e73f57b33b7c9f30f765755da30b76a0ac", want, 32);
    assert_memory_equal(k->session_key, want, 32);
    hex_to("6f770a080a29ea00e54c9bb9aeaf9b85216d8b38cc83c9114342d3c5cc924c01", want, 32);
    assert_memory_equal(k->signing_key, want, 32);
    hex_to("1a5670aacf9a475253a576622e8adea0f710629c623fc7c5a0c08abd5e8480f2", want, 32);
    assert_memory_equal(k->cursor_key, want, 32);
    hex_to("c013a8c1623c4f7ae2052efb8aadd6ffd1b6fb83afc648a42e13aab830f47b98", want, 32);
    assert_memory_equal(k->secret_key, want, 32);
    rg_keyring_free(kr);
}

static void expect_parse_error(const char *text, const char *needle)
{
    char err[256] = "";
    rg_keyring *kr = rg_keyring_parse(text, err, sizeof err);
    if (kr)
        fail_msg("accepted: %s", text);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("k1:AAEC!wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                       "line 1: key 'k1' is not valid base64");
    /* Missing padding. */
    expect_parse_error("k1:" K1 "\nk2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                       "line 2: key 'k2' is not valid base64");
    expect_parse_error("k1:" K_31, "key 'k1' is 31 bytes");
    expect_parse_error("k1:" K_33, "key 'k1' is 33 bytes");
    expect_parse_error("bad kid:" K1, "key id 'bad kid' is invalid");
    expect_parse_error("k.1:" K1, "key id 'k.1' is invalid");
    expect_parse_error(":" K1, "key id '' is invalid");
    expect_parse_error("k123456789012345678901234567890123:" K1, "is invalid");
    expect_parse_error("k1:" K1 "\n\nk1:" K2, "line 3: key id 'k1' appears twice");
    expect_parse_error(K1, "line 1: expected kid:base64");
    expect_parse_error("# nothing\n\n", "no keys found");
    expect_parse_error("", "no keys found");

    /* 32-character kid is the maximum and fine. */
    char err[256];
    rg_keyring *kr = rg_keyring_parse("k1234567890123456789012345678901:" K1, err, sizeof err);
    assert_non_null(kr);
    rg_keyring_free(kr);
}

static char *write_temp(mode_t mode, const char *text)
{
    char *path = strdup("/tmp/rg_keys_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    return path;
}

static void test_file_modes(void **state)
{
    (void)state;
    char err[512] = "";
    char *path = write_temp(0644, "k1:" K1 "\n");
    assert_null(rg_keyring_load(NULL, path, err, sizeof err));
    char want[512];
    snprintf(want, sizeof want, "key file %s has mode 0644; it must be 0600 (chmod 600 %s)", path,
             path);
    assert_string_equal(err, want);

    assert_int_equal(chmod(path, 0640), 0);
    assert_null(rg_keyring_load(NULL, path, err, sizeof err));
    assert_non_null(strstr(err, "mode 0640"));

    assert_int_equal(chmod(path, 0600), 0);
    rg_keyring *kr = rg_keyring_load("RG_TEST_UNUSED_ENV", path, err, sizeof err);
    assert_non_null(kr);
    assert_string_equal(rg_keyring_primary(kr)->kid, "k1");
    rg_keyring_free(kr);

    assert_int_equal(chmod(path, 0400), 0);
    kr = rg_keyring_load(NULL, path, err, sizeof err);
    assert_non_null(kr);
    rg_keyring_free(kr);
    unlink(path);
    free(path);

    /* Errors inside the file name the file and the line. */
    path = write_temp(0600, "k1:" K1 "\nk2:" K_31 "\n");
    assert_null(rg_keyring_load(NULL, path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 2: key 'k2' is 31 bytes"));
    unlink(path);
    free(path);

    /* Missing file and a directory. */
    assert_null(rg_keyring_load(NULL, "/nonexistent/rg/keys", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/rg/keys"));
    char dir[] = "/tmp/rg_keydir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_null(rg_keyring_load(NULL, dir, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    rmdir(dir);
}

static void test_env(void **state)
{
    (void)state;
    char err[512] = "";
    unsetenv("RG_TEST_KEYS");
    assert_null(rg_keyring_load("RG_TEST_KEYS", NULL, err, sizeof err));
    assert_non_null(strstr(err, "environment variable RG_TEST_KEYS is not set"));
    setenv("RG_TEST_KEYS", "", 1);
    assert_null(rg_keyring_load("RG_TEST_KEYS", NULL, err, sizeof err));
    assert_non_null(strstr(err, "RG_TEST_KEYS"));
    setenv("RG_TEST_KEYS", "k1:" K1 ",k1:" K2, 1);
    assert_null(rg_keyring_load("RG_TEST_KEYS", NULL, err, sizeof err));
    assert_non_null(strstr(err, "RG_TEST_KEYS"));
    assert_non_null(strstr(err, "appears twice"));
    setenv("RG_TEST_KEYS", "new:" K2 ",k1:" K1, 1);
    rg_keyring *kr = rg_keyring_load("RG_TEST_KEYS", NULL, err, sizeof err);
    assert_non_null(kr);
    assert_int_equal(kr->nkeys, 2);
    assert_string_equal(rg_keyring_primary(kr)->kid, "new");
    rg_keyring_free(kr);
    unsetenv("RG_TEST_KEYS");
}

static void test_generate(void **state)
{
    (void)state;
    char a[128], b[128], err[256];
    assert_int_equal(rg_keyring_generate_line("k7", a, sizeof a), 0);
    assert_int_equal(rg_keyring_generate_line("k7", b, sizeof b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, "k7:", 3), 0);
    assert_int_equal(strlen(a), 3 + 44);
    rg_keyring *kr = rg_keyring_parse(a, err, sizeof err);
    assert_non_null(kr);
    assert_string_equal(kr->keys[0].kid, "k7");
    rg_keyring_free(kr);
    assert_int_not_equal(rg_keyring_generate_line("bad kid", a, sizeof a), 0);
    assert_int_not_equal(rg_keyring_generate_line("k7", a, 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),  cmocka_unit_test(test_subkeys_hkdf),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_env),          cmocka_unit_test(test_generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
