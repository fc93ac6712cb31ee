/* Remembered sessions: the same answers as rg_session_verify, expiry and
   site checked on every use, nothing carried over to another runtime or
   generation (a reload, new keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/session_memo.h"
#include "keyring_fixture.h"

#define NOW 1763801400u

static void test_memo_answers_like_verify(void **state)
{
    (void)state;
    rg_runtime rt = {.kr = ring(K1 "\n"), .generation = 1};
    char token[RG_SESSION_TOKEN_MAX];
    rg_session minted, got;
    assert_int_equal(rg_session_mint(rt.kr, "site0001", NOW, 600, token, &minted), 0);
    for (int i = 0; i < 3; i++) { /* first verified, then remembered */
        memset(&got, 0, sizeof got);
        assert_int_equal(rg_session_verify_memo(&rt, token, "site0001", NOW + 1, &got),
                         RG_SESSION_OK);
        assert_memory_equal(&got, &minted, sizeof got);
    }
    assert_int_equal(rg_session_verify_memo(&rt, token, "site0002", NOW + 1, &got),
                     RG_SESSION_WRONG_SITE);
    assert_int_equal(rg_session_verify_memo(&rt, token, "site0001", NOW + 600, &got),
                     RG_SESSION_EXPIRED);
    assert_int_equal(rg_session_verify_memo(&rt, token, "site0001", NOW + 599, &got),
                     RG_SESSION_OK);
    /* One character changed: verified afresh, and refused. */
    char forged[RG_SESSION_TOKEN_MAX];
    memcpy(forged, token, sizeof forged);
    size_t n = strlen(forged);
    forged[n - 3] = forged[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(rg_session_verify_memo(&rt, forged, "site0001", NOW + 1, &got),
                     RG_SESSION_BAD_MAC);

    /* The next generation has only k2: the k1 session is refused, even
       though this thread verified it a moment ago. */
    rg_runtime next = {.kr = ring(K2 "\n"), .generation = 2};
    assert_int_equal(rg_session_verify_memo(&next, token, "site0001", NOW + 1, &got),
                     RG_SESSION_BAD_MAC);
    /* Same runtime object, generation changed (a reload that reused it). */
    rg_keyring *k1 = rt.kr;
    rt.kr = next.kr;
    rt.generation = 3;
    assert_int_equal(rg_session_verify_memo(&rt, token, "site0001", NOW + 1, &got),
                     RG_SESSION_BAD_MAC);
    rg_keyring_free(k1);
    rg_keyring_free(next.kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_answers_like_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
