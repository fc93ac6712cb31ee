/* Several headers in one pass: the same answers as evhttp_find_header for
   each name (any case, the first of repeated headers, absent ones NULL). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>

#include "http/headers.h"

static void test_one_pass_equals_find_header(void **state)
{
    (void)state;
    struct evkeyvalq h;
    h.tqh_first = NULL;
    h.tqh_last = &h.tqh_first;
    assert_int_equal(evhttp_add_header(&h, "Host", "x"), 0);
    assert_int_equal(evhttp_add_header(&h, "x-readgate-NONCE", "n1"), 0);
    assert_int_equal(evhttp_add_header(&h, "X-Readgate-Nonce", "n2"), 0);
    assert_int_equal(evhttp_add_header(&h, "X-Readgate-Timestamp", "42"), 0);
    assert_int_equal(evhttp_add_header(&h, "X-Readgate-Signaturf", "same length, other name"), 0);
    assert_int_equal(evhttp_add_header(&h, "Content-Type", "application/json"), 0);
    static const char *const names[] = {"X-Readgate-Session", "X-Readgate-Timestamp",
                                        "X-Readgate-Nonce", "X-Readgate-Signature",
                                        "content-type", "HOST"};
    const char *got[6];
    rg_find_headers(&h, names, 6, got);
    for (size_t i = 0; i < 6; i++) {
        const char *want = evhttp_find_header(&h, names[i]);
        if (!want)
            assert_null(got[i]);
        else
            assert_ptr_equal(got[i], want);
    }
    assert_null(got[0]);
    assert_string_equal(got[1], "42");
    assert_string_equal(got[2], "n1");
    assert_null(got[3]);
    assert_string_equal(got[4], "application/json");
    assert_string_equal(got[5], "x");
    evhttp_clear_headers(&h);
    rg_find_headers(&h, names, 6, got);
    for (size_t i = 0; i < 6; i++)
        assert_null(got[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_pass_equals_find_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
