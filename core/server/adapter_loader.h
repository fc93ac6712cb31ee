/*
 * Loads adapters from adapters_dir with dlopen(RTLD_NOW | RTLD_LOCAL) and
 * checks the ABI before touching anything: entry symbol present, major equal,
 * struct_size at least the 1.0 layout, required callbacks set. A refused
 * adapter is logged once with the reason; the sources using it answer 503
 * while every other site keeps working.
 *
 * Loaded adapters stay loaded for the life of the process (a reload reuses
 * them), so a connection never outlives its code.
 */
#ifndef RG_ADAPTER_LOADER_H
#define RG_ADAPTER_LOADER_H

#include <readgate/adapter.h>
#include <stddef.h>

/* NULL on failure with the reason in err. Thread-safe. */
const rg_adapter *rg_adapter_load(const char *adapters_dir, const char *name, char *err,
                                  size_t errlen);
/* dlclose everything (at exit, after every connection is closed). */
void rg_adapter_unload_all(void);
const rg_host_api *rg_host_api_get(void);

#endif
