/*
 * The one plugin loader: every plugin kind (adapters, token providers) is
 * opened with dlopen(RTLD_NOW | RTLD_LOCAL) and checked the same way before
 * anything else of it is touched (readgate/plugin.h):
 *   entry symbol present -> descriptor returned -> abi_major equal to the
 *   host's -> struct_size at least the kind's <major>.0 layout -> name equal
 *   to the file's -> the kind's required callbacks set.
 * The gateway, readgate-conformance and the test programs all load through
 * it, so the rules can't drift apart. It depends on libc and libdl only (no
 * logging: the caller logs the reason it gets back).
 */
#ifndef RG_PLUGIN_LOADER_H
#define RG_PLUGIN_LOADER_H

#include <readgate/adapter.h>
#include <readgate/token_provider.h>
#include <stddef.h>
#include <stdlib.h>

typedef struct rg_plugin_kind {
    const char *what;        /* "adapter", "provider": for messages */
    const char *file_prefix; /* "readgate-adapter-" */
    const char *entry_symbol;
    uint16_t abi_major;
    uint16_t abi_minor;
    size_t min_size; /* the <abi_major>.0 layout */
    /* Calls the entry function with its own type (sym is its address). */
    const void *(*call_entry)(void *sym, const rg_host_api *host);
    /* The kind's required callbacks; 0, or -1 with the reason. */
    int (*validate)(const void *desc, char *err, size_t errlen);
} rg_plugin_kind;

/* A host services table speaking ABI major.minor with the C allocator and
   `log`, for a static initializer: every host (the gateway, the
   conformance tool, the test programs) builds its tables with it. */
#define RG_HOST_TABLE(major, minor, logfn)                                                   \
    {                                                                                       \
        .struct_size = sizeof(rg_host_api), .abi_major = (major), .abi_minor = (minor),     \
        .log = (logfn), .malloc = malloc, .calloc = calloc, .realloc = realloc, .free = free \
    }

extern const rg_plugin_kind rg_plugin_adapter;
extern const rg_plugin_kind rg_plugin_provider;

/* [a-z0-9_-]{1,64}, not starting with '-'. */
int rg_plugin_name_ok(const char *name);

/*
 * Open the plugin at `path` and check it. `expect_name` is the name the
 * descriptor must carry; NULL takes it from a file named
 * <file_prefix><name>.so (any other file name skips the name check).
 * `host` must be a table whose abi_major/abi_minor are the kind's.
 * Returns the descriptor with *dl set, or NULL with the reason in err (and
 * nothing left open).
 */
const void *rg_plugin_open(const rg_plugin_kind *kind, const char *path, const char *expect_name,
                           const rg_host_api *host, void **dl, char *err, size_t errlen);

/* <dir>/<file_prefix><name>.so, after checking the name. */
const void *rg_plugin_open_dir(const rg_plugin_kind *kind, const char *dir, const char *name,
                               const rg_host_api *host, void **dl, char *err, size_t errlen);

#endif
