#include "workers/plugin_registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>

#include "util/log.h"

typedef struct loaded {
    const rg_plugin_kind *kind;
    char *name;
    void *handle;     /* NULL when loading failed */
    const void *desc;
    char *error;      /* why it was refused */
    struct loaded *next;
} loaded;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static loaded *g_loaded;

static void host_log(rg_log_level level, const char *plugin, const char *fmt, va_list ap)
{
    rg_logv(level, plugin, fmt, ap);
}

/* One services table per kind: abi_major/minor say which ABI the host speaks. */
static const rg_host_api g_adapter_host =
    RG_HOST_TABLE(RG_ADAPTER_ABI_MAJOR, RG_ADAPTER_ABI_MINOR, host_log);

static const rg_host_api g_provider_host =
    RG_HOST_TABLE(RG_PROVIDER_ABI_MAJOR, RG_PROVIDER_ABI_MINOR, host_log);

const rg_host_api *rg_plugin_host(const rg_plugin_kind *kind)
{
    return kind == &rg_plugin_provider ? &g_provider_host : &g_adapter_host;
}

const void *rg_plugin_load(const rg_plugin_kind *kind, const char *dir, const char *name,
                           char *err, size_t errlen)
{
    if (!rg_plugin_name_ok(name)) {
        snprintf(err, errlen, "invalid %s name '%.64s' (want [a-z0-9_-], at most 64)", kind->what,
                 name ? name : "");
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    for (loaded *l = g_loaded; l; l = l->next) {
        if (l->kind == kind && strcmp(l->name, name) == 0) {
            const void *d = l->desc;
            if (!d)
                snprintf(err, errlen, "%s", l->error);
            pthread_mutex_unlock(&g_lock);
            return d;
        }
    }
    loaded *l = calloc(1, sizeof *l);
    if (!l || !(l->name = strdup(name))) {
        free(l);
        pthread_mutex_unlock(&g_lock);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->kind = kind;
    char why[512] = "";
    l->desc = rg_plugin_open_dir(kind, dir, name, rg_plugin_host(kind), &l->handle, why, sizeof why);
    if (!l->desc) {
        l->error = strdup(why);
        rg_error_log("%s '%s' refused: %s", kind->what, name, why);
        snprintf(err, errlen, "%s", why);
    } else {
        const rg_plugin_header *h = l->desc;
        rg_info("%s '%s' loaded (version %s, ABI %u.%u)", kind->what, name,
                h->version ? h->version : "?", (unsigned)h->abi_major, (unsigned)h->abi_minor);
    }
    l->next = g_loaded;
    g_loaded = l;
    const void *d = l->desc;
    pthread_mutex_unlock(&g_lock);
    return d;
}

const rg_adapter *rg_adapter_load(const char *adapters_dir, const char *name, char *err,
                                  size_t errlen)
{
    return rg_plugin_load(&rg_plugin_adapter, adapters_dir, name, err, errlen);
}

const rg_token_provider *rg_provider_load(const char *adapters_dir, const char *name, char *err,
                                          size_t errlen)
{
    return rg_plugin_load(&rg_plugin_provider, adapters_dir, name, err, errlen);
}

void rg_plugin_unload_all(void)
{
    pthread_mutex_lock(&g_lock);
    loaded *l = g_loaded;
    g_loaded = NULL;
    pthread_mutex_unlock(&g_lock);
    while (l) {
        loaded *next = l->next;
        /* Under AddressSanitizer keep the code mapped so leak reports can
           still symbolise plugin frames. */
#if !defined(__SANITIZE_ADDRESS__)
        if (l->handle)
            dlclose(l->handle);
#endif
        free(l->name);
        free(l->error);
        free(l);
        l = next;
    }
}
