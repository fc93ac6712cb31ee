#include "test_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "plugin/plugin_loader.h"

static void host_log(rg_log_level level, const char *adapter, const char *fmt, va_list ap)
{
    if (level < RG_LOG_WARN && !getenv("RG_TEST_VERBOSE"))
        return;
    fprintf(stderr, "[%s] ", adapter);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

const rg_host_api rg_test_host =
    RG_HOST_TABLE(RG_ADAPTER_ABI_MAJOR, RG_ADAPTER_ABI_MINOR, host_log);

int rg_test_row(const rg_value *values, size_t n, rg_value *out, size_t max)
{
    if (n > max || (n && !values)) {
        fprintf(stderr, "row of %zu values (at most %zu expected)\n", n, max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        /* Element 0 is checked before the first step by its size. */
        const rg_value *v = rg_value_at(values, i);
        if (v->struct_size < RG_VALUE_SIZE_2_0 || v->struct_size != values->struct_size) {
            fprintf(stderr,
                    "value %zu of a row has struct_size %u (value 0: %u, 2.0 layout: %zu)\n", i,
                    (unsigned)v->struct_size, (unsigned)values->struct_size,
                    (size_t)RG_VALUE_SIZE_2_0);
            return -1;
        }
        out[i] = (rg_value){
            .struct_size = sizeof(rg_value), .type = v->type, .is_null = v->is_null, .u = v->u};
    }
    return 0;
}

/* Through the gateway's own loader, so the tests load what readgate loads. */
const rg_adapter *rg_test_load_adapter(const char *dir, const char *name, void **dl)
{
    char err[600];
    const rg_adapter *ad = rg_plugin_open_dir(&rg_plugin_adapter, dir, name, &rg_test_host, dl,
                                              err, sizeof err);
    if (!ad)
        fprintf(stderr, "%s\n", err);
    return ad;
}
