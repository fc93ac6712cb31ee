#include "test_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void host_log(rg_log_level level, const char *adapter, const char *fmt, va_list ap)
{
    if (level < RG_LOG_WARN && !getenv("RG_TEST_VERBOSE"))
        return;
    fprintf(stderr, "[%s] ", adapter);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

const rg_host_api rg_test_host = {
    .struct_size = sizeof(rg_host_api),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .log = host_log,
    .malloc = malloc,
    .calloc = calloc,
    .realloc = realloc,
    .free = free,
};

const rg_adapter *rg_test_load_adapter(const char *dir, const char *name, void **dl)
{
    char path[600];
    snprintf(path, sizeof path, "%s/readgate-adapter-%s.so", dir, name);
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return NULL;
    }
    rg_adapter_entry_fn entry = (rg_adapter_entry_fn)dlsym(*dl, RG_ADAPTER_ENTRY_SYMBOL);
    const rg_adapter *ad = entry ? entry(&rg_test_host) : NULL;
    if (!ad || ad->abi_major != RG_ADAPTER_ABI_MAJOR || ad->struct_size < sizeof(rg_adapter)) {
        fprintf(stderr, "%s: no entry point, or not ABI %d\n", path, RG_ADAPTER_ABI_MAJOR);
        return NULL;
    }
    return ad;
}
