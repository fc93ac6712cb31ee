/*
 * The gateway's loaded plugins, every kind (adapters and token providers)
 * from adapters_dir, opened through the one loader (plugin/plugin_loader.h).
 * A refused plugin is logged once with the reason; the sources or sites using
 * it answer 503 while every other site keeps working.
 *
 * Loaded plugins stay loaded for the life of the process (a reload reuses
 * them), so a connection or a mint in flight never outlives its code.
 */
#ifndef RG_PLUGIN_REGISTRY_H
#define RG_PLUGIN_REGISTRY_H

#include <readgate/adapter.h>
#include <readgate/token_provider.h>
#include <stddef.h>

#include "plugin/plugin_loader.h"

/* NULL on failure with the reason in err. Thread-safe; loads once per name. */
const void *rg_plugin_load(const rg_plugin_kind *kind, const char *dir, const char *name,
                           char *err, size_t errlen);
const rg_adapter *rg_adapter_load(const char *adapters_dir, const char *name, char *err,
                                  size_t errlen);
const rg_token_provider *rg_provider_load(const char *adapters_dir, const char *name, char *err,
                                          size_t errlen);
/* dlclose everything (at exit, after every connection is closed). */
void rg_plugin_unload_all(void);
/* The host services table given to plugins of this kind. */
const rg_host_api *rg_plugin_host(const rg_plugin_kind *kind);

#endif
