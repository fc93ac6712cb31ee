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
