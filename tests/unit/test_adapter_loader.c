/* The loader accepts a good adapter and refuses, with a reason, one built for
   another ABI major, a missing file, and a malformed name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "server/plugin_registry.h"

static void loads_sqlite(void **state)
{
    (void)state;
    char err[512] = "";
    const rg_adapter *a = rg_adapter_load(RG_BUILD_DIR "/adapters", "sqlite", err, sizeof err);
    assert_non_null(a);
    assert_string_equal(a->name, "sqlite");
    assert_int_equal(a->abi_major, RG_ADAPTER_ABI_MAJOR);
    /* A second load returns the same descriptor (loaded once per process). */
    assert_ptr_equal(a, rg_adapter_load(RG_BUILD_DIR "/adapters", "sqlite", err, sizeof err));
}

static void refuses_wrong_major(void **state)
{
    (void)state;
    char err[512] = "";
    const rg_adapter *a =
        rg_adapter_load(RG_BUILD_DIR "/test-adapters", "wrongmajor", err, sizeof err);
    assert_null(a);
    assert_non_null(strstr(err, "ABI major 2"));
    assert_non_null(strstr(err, "supports adapter ABI major 1"));
    /* The refusal is remembered, with the same reason. */
    char again[512] = "";
    assert_null(rg_adapter_load(RG_BUILD_DIR "/test-adapters", "wrongmajor", again, sizeof again));
    assert_string_equal(err, again);
}

static void refuses_missing_file(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(rg_adapter_load(RG_BUILD_DIR "/adapters", "nosuchadapter", err, sizeof err));
    assert_non_null(strstr(err, "readgate-adapter-nosuchadapter.so: cannot load adapter"));
}

static void refuses_bad_name(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(rg_adapter_load(RG_BUILD_DIR "/adapters", "../etc/x", err, sizeof err));
    assert_non_null(strstr(err, "invalid adapter name"));
}

static int teardown(void **state)
{
    (void)state;
    rg_plugin_unload_all();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_sqlite),
        cmocka_unit_test(refuses_wrong_major),
        cmocka_unit_test(refuses_missing_file),
        cmocka_unit_test(refuses_bad_name),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
