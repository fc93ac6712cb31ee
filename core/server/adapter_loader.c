#include "adapter_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The first layout an adapter may have: everything up to `disconnect`. */
#define RG_ADAPTER_MIN_SIZE (offsetof(rg_adapter, disconnect) + sizeof(void (*)(void *)))

typedef struct loaded {
    char *name;
    void *handle;            /* NULL when loading failed */
    const rg_adapter *adapter;
    char *error;             /* why it was refused */
    struct loaded *next;
} loaded;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static loaded *g_loaded;

static void host_log(rg_log_level level, const char *adapter, const char *fmt, va_list ap)
{
    rg_logv(level, adapter, fmt, ap);
}

static const rg_host_api g_host = {
    .struct_size = sizeof(rg_host_api),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .log = host_log,
    .malloc = malloc,
    .calloc = calloc,
    .realloc = realloc,
    .free = free,
};

const rg_host_api *rg_host_api_get(void) { return &g_host; }

static int name_ok(const char *name)
{
    if (!*name || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

/* Returns NULL (and fills err) if the adapter must be refused. */
static const rg_adapter *open_adapter(const char *dir, const char *name, void **handle_out,
                                      char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/readgate-adapter-%s.so", dir, name) >= (int)sizeof path) {
        snprintf(err, errlen, "adapter path for '%s' is too long", name);
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "cannot load adapter '%.64s' from %.200s: %.200s", name, path, e ? e : "?");
        return NULL;
    }
    dlerror();
    void *sym = dlsym(h, RG_ADAPTER_ENTRY_SYMBOL);
    if (!sym) {
        snprintf(err, errlen, "adapter %.300s does not export %s()", path, RG_ADAPTER_ENTRY_SYMBOL);
        dlclose(h);
        return NULL;
    }
    rg_adapter_entry_fn entry;
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
    memcpy(&entry, &sym, sizeof entry);
    const rg_adapter *a = entry(&g_host);
    if (!a) {
        snprintf(err, errlen, "adapter %.300s returned no descriptor", path);
        dlclose(h);
        return NULL;
    }
    /* Check the version fields first: they sit at the same place in every layout. */
    if (a->abi_major != RG_ADAPTER_ABI_MAJOR) {
        snprintf(err, errlen,
                 "adapter %.300s was built for ABI major %u; this readgate supports ABI major %d "
                 "(any minor); rebuild it against this readgate's adapter.h",
                 path, (unsigned)a->abi_major, RG_ADAPTER_ABI_MAJOR);
        dlclose(h);
        return NULL;
    }
    if (a->struct_size < RG_ADAPTER_MIN_SIZE) {
        snprintf(err, errlen, "adapter %.300s has struct_size %u, smaller than ABI 1.0 (%zu)", path,
                 (unsigned)a->struct_size, (size_t)RG_ADAPTER_MIN_SIZE);
        dlclose(h);
        return NULL;
    }
    if (!a->connect || !a->query || !a->disconnect || !a->ping || !a->name) {
        snprintf(err, errlen, "adapter %.300s lacks a required callback (connect, query, ping, disconnect)",
                 path);
        dlclose(h);
        return NULL;
    }
    if (strcmp(a->name, name) != 0) {
        snprintf(err, errlen, "adapter file %.300s calls itself '%.64s', expected '%.64s'", path, a->name, name);
        dlclose(h);
        return NULL;
    }
    *handle_out = h;
    return a;
}

const rg_adapter *rg_adapter_load(const char *adapters_dir, const char *name, char *err,
                                  size_t errlen)
{
    if (!name_ok(name)) {
        snprintf(err, errlen, "invalid adapter name '%s'", name);
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    for (loaded *l = g_loaded; l; l = l->next) {
        if (strcmp(l->name, name) == 0) {
            const rg_adapter *a = l->adapter;
            if (!a)
                snprintf(err, errlen, "%s", l->error);
            pthread_mutex_unlock(&g_lock);
            return a;
        }
    }
    loaded *l = calloc(1, sizeof *l);
    if (!l || !(l->name = strdup(name))) {
        free(l);
        pthread_mutex_unlock(&g_lock);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[512] = "";
    l->adapter = open_adapter(adapters_dir, name, &l->handle, why, sizeof why);
    if (!l->adapter) {
        l->error = strdup(why);
        rg_error_log("adapter '%s' refused: %s", name, why);
        snprintf(err, errlen, "%s", why);
    } else {
        rg_info("adapter '%s' loaded (version %s, ABI %u.%u)", name,
                l->adapter->version ? l->adapter->version : "?", (unsigned)l->adapter->abi_major,
                (unsigned)l->adapter->abi_minor);
    }
    l->next = g_loaded;
    g_loaded = l;
    const rg_adapter *a = l->adapter;
    pthread_mutex_unlock(&g_lock);
    return a;
}

void rg_adapter_unload_all(void)
{
    pthread_mutex_lock(&g_lock);
    loaded *l = g_loaded;
    g_loaded = NULL;
    pthread_mutex_unlock(&g_lock);
    while (l) {
        loaded *next = l->next;
        /* Under AddressSanitizer keep the code mapped so leak reports can
           still symbolise adapter frames. */
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
