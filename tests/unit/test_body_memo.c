/* The body memo: a key is found only for the same body bytes, site and
   runtime generation; slots are replaced, long bodies not remembered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cache/body_memo.h"

static const char BODY[] = "{\"collection\":\"items\",\"limit\":3}";
static const unsigned char KEY[] = "site\0items\0limit=3";

static void test_find_what_was_put(void **state)
{
    (void)state;
    rg_body_memo *m = rg_body_memo_new();
    assert_non_null(m);
    size_t klen = 0;
    uint64_t kh = 0;
    size_t n = strlen(BODY);
    assert_null(rg_body_memo_find(m, 1, 0, BODY, n, 42, &klen, &kh));
    rg_body_memo_put(m, 1, 0, BODY, n, 42, KEY, sizeof KEY, 99);
    const unsigned char *k = rg_body_memo_find(m, 1, 0, BODY, n, 42, &klen, &kh);
    assert_non_null(k);
    assert_int_equal(klen, sizeof KEY);
    assert_memory_equal(k, KEY, sizeof KEY);
    assert_int_equal(kh, 99);
    /* Another generation, another site, other bytes with the same hash. */
    assert_null(rg_body_memo_find(m, 2, 0, BODY, n, 42, &klen, &kh));
    assert_null(rg_body_memo_find(m, 1, 1, BODY, n, 42, &klen, &kh));
    char other[sizeof BODY];
    memcpy(other, BODY, sizeof BODY);
    other[n - 2] = '4';
    assert_null(rg_body_memo_find(m, 1, 0, other, n, 42, &klen, &kh));
    assert_null(rg_body_memo_find(m, 1, 0, BODY, n - 1, 42, &klen, &kh));
    /* The same slot taken by another body: the first is forgotten. */
    rg_body_memo_put(m, 1, 0, other, n, 42 + 256, KEY, 4, 7);
    assert_null(rg_body_memo_find(m, 1, 0, BODY, n, 42, &klen, &kh));
    assert_non_null(rg_body_memo_find(m, 1, 0, other, n, 42 + 256, &klen, &kh));
    assert_int_equal(klen, 4);
    rg_body_memo_free(m);
}

static void test_limits(void **state)
{
    (void)state;
    rg_body_memo *m = rg_body_memo_new();
    assert_non_null(m);
    static char big[RG_BODY_MEMO_MAX_BODY + 1];
    memset(big, ' ', sizeof big);
    size_t klen;
    uint64_t kh;
    rg_body_memo_put(m, 1, 0, big, sizeof big, 5, KEY, sizeof KEY, 1);
    assert_null(rg_body_memo_find(m, 1, 0, big, sizeof big, 5, &klen, &kh));
    rg_body_memo_put(m, 1, 0, big, RG_BODY_MEMO_MAX_BODY, 5, KEY, sizeof KEY, 1);
    assert_non_null(rg_body_memo_find(m, 1, 0, big, RG_BODY_MEMO_MAX_BODY, 5, &klen, &kh));
    /* No memo (it could not be made): nothing found, nothing kept. */
    rg_body_memo_put(NULL, 1, 0, BODY, 3, 5, KEY, 3, 1);
    assert_null(rg_body_memo_find(NULL, 1, 0, BODY, 3, 5, &klen, &kh));
    rg_body_memo_free(m);
    rg_body_memo_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_what_was_put),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
