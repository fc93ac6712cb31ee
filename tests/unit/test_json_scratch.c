/* jansson on scratch memory: trees parsed between begin and end read as
   usual, values made before begin are freed normally inside it, a body
   larger than the scratch block spills into malloc, and outside the window
   jansson uses malloc (ASan sees every one of these frees). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/json_scratch.h"

static void test_parse_in_scratch(void **state)
{
    (void)state;
    rg_json_scratch_install();
    json_t *before = json_pack("{s:s, s:[i,i]}", "kept", "outside", "xs", 1, 2);
    assert_non_null(before);
    for (int round = 0; round < 3; round++) {
        rg_json_scratch_begin();
        const char *body = "{\"collection\":\"items\",\"filters\":[{\"field\":\"category\","
                           "\"op\":\"eq\",\"value\":\"boots\"}],\"limit\":20}";
        json_error_t je;
        json_t *j = json_loads(body, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "collection")), "items");
        json_t *f = json_array_get(json_object_get(j, "filters"), 0);
        assert_string_equal(json_string_value(json_object_get(f, "value")), "boots");
        assert_int_equal(json_integer_value(json_object_get(j, "limit")), 20);
        if (round == 1) {
            /* Made with malloc before begin, freed inside: a real free. */
            json_decref(before);
            before = NULL;
        }
        json_decref(j);
        rg_json_scratch_end();
    }
    /* Bigger than the scratch block: the rest comes from malloc. */
    size_t n = 20000;
    char *big = malloc(n * 8 + 16);
    assert_non_null(big);
    size_t w = 0;
    big[w++] = '[';
    for (size_t i = 0; i < n; i++)
        w += (size_t)sprintf(big + w, "%s\"v%zu\"", i ? "," : "", i % 1000);
    big[w++] = ']';
    big[w] = '\0';
    rg_json_scratch_begin();
    json_error_t je;
    json_t *arr = json_loads(big, 0, &je);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), n);
    assert_string_equal(json_string_value(json_array_get(arr, n - 1)), "v999");
    json_decref(arr);
    rg_json_scratch_end();
    free(big);
    /* Outside the window: plain malloc, freed after another window. */
    json_t *after = json_string("made outside");
    assert_non_null(after);
    rg_json_scratch_begin();
    rg_json_scratch_end();
    assert_string_equal(json_string_value(after), "made outside");
    json_decref(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_in_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
