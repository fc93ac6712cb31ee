/* The loader accepts a good adapter and refuses, with a reason, one built for
   another ABI major (the next one, and 1.x), a missing file, and a malformed
   name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "workers/plugin_registry.h"

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
    assert_non_null(strstr(err, "built for ABI major 3"));
    assert_non_null(strstr(err, "supports adapter ABI major 2"));
    /* The refusal is remembered, with the same reason. */
    char again[512] = "";
    assert_null(rg_adapter_load(RG_BUILD_DIR "/test-adapters", "wrongmajor", again, sizeof again));
    assert_string_equal(err, again);
}

/* Plugins built against the 1.x headers: their descriptors have the same
   layout, but the arrays they read and write do not, so they never load. */
static void refuses_major_1(void **state)
{
    (void)state;
    const char *const want[] = {"adapter was built for ABI major 1;",
                                "supports adapter ABI major 2",
                                "provider was built for ABI major 1;",
                                "supports provider ABI major 2"};
    char err[2][512] = {"", ""};
    assert_null(rg_adapter_load(RG_BUILD_DIR "/test-adapters", "oldmajor", err[0], sizeof err[0]));
    assert_null(rg_provider_load(RG_BUILD_DIR "/test-adapters", "oldmajor", err[1], sizeof err[1]));
    for (size_t i = 0; i < 4; i++)
        assert_non_null(strstr(err[i / 2], want[i]));
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

/* The same loader and check for the other plugin kind. */
static void refuses_provider_of_wrong_major(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(rg_provider_load(RG_BUILD_DIR "/test-adapters", "wrongmajor", err, sizeof err));
    assert_non_null(strstr(err, "provider was built for ABI major 3"));
    assert_non_null(strstr(err, "supports provider ABI major 2"));
    /* A provider and an adapter of the same name are different plugins. */
    char aerr[512] = "";
    assert_null(rg_adapter_load(RG_BUILD_DIR "/test-adapters", "wrongmajor", aerr, sizeof aerr));
    assert_non_null(strstr(aerr, "readgate-adapter-wrongmajor.so"));
}

static void refuses_provider_smaller_than_2_0(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(rg_provider_load(RG_BUILD_DIR "/test-adapters", "toosmall", err, sizeof err));
    assert_non_null(strstr(err, "smaller than the provider ABI 2.0 layout"));
}

/* A descriptor of exactly the 2.0 size loads: the check is against the
   kind's 2.0 layout, not against whatever the host's sizeof has grown to. */
static void min_size_is_the_2_0_layout(void **state)
{
    (void)state;
    assert_int_equal(rg_plugin_adapter.min_size, RG_ADAPTER_SIZE_2_0);
    assert_int_equal(rg_plugin_provider.min_size, RG_PROVIDER_SIZE_2_0);
    assert_true(rg_plugin_name_ok("openai-realtime"));
    assert_false(rg_plugin_name_ok("-x"));
    assert_false(rg_plugin_name_ok("a/b"));
    assert_false(rg_plugin_name_ok("A"));
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
        cmocka_unit_test(refuses_major_1),
        cmocka_unit_test(refuses_missing_file),
        cmocka_unit_test(refuses_bad_name),
        cmocka_unit_test(refuses_provider_of_wrong_major),
        cmocka_unit_test(refuses_provider_smaller_than_2_0),
        cmocka_unit_test(min_size_is_the_2_0_layout),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
