/*
 * readgate plugin ABI: what every plugin kind shares.
 *
 * readgate loads two kinds of plugin with dlopen, through one loader and one
 * ABI check:
 *   - adapters (readgate/adapter.h, readgate-adapter-<name>.so): read rows
 *     from a backend;
 *   - token providers (readgate/token_provider.h,
 *     readgate-provider-<name>.so): mint an AI provider's short-lived
 *     credential for the browser widget.
 *
 * Every plugin kind exports one entry function that returns a static,
 * immutable descriptor. Each descriptor starts with the same five fields, in
 * this order (rg_plugin_header): struct_size, abi_major, abi_minor, name,
 * version. The loader reads them first, from any kind:
 *   - abi_major must equal the host's major for that kind: a different major
 *     is refused with a log line that names both;
 *   - struct_size must be at least the kind's x.0 layout, for the host's
 *     major x (never the host's own, larger sizeof): a plugin built against
 *     x.0 keeps loading under every x.y host, and the host reads a field
 *     added in a later minor only when struct_size says the plugin has it;
 *   - name must equal the <name> of the file.
 *
 * Versioning rule for every struct that crosses the boundary: it starts with
 * `uint32_t struct_size`, and a minor version only appends fields at its end.
 * Both plugin kinds are at ABI major 2, the first in which every such struct
 * (rg_error and rg_option here included) has it.
 *
 * Arrays of such structs (options, values, filters, sort keys, field
 * descriptions, request headers) follow one rule, because a later minor may
 * make an element bigger: the writer sets struct_size = sizeof(the element)
 * on every element, all elements of one array have the same struct_size, and
 * the reader steps with the kind's accessors (rg_option_at below,
 * rg_value_at and its kin in readgate/adapter.h, rg_header_at in
 * readgate/token_provider.h), never with its own sizeof. A reader checks
 * struct_size before reading a field added after 2.0, and refuses an element
 * smaller than the 2.0 layout (the *_SIZE_2_0 macros).
 */
#ifndef READGATE_PLUGIN_H
#define READGATE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the host services table (rg_host_api). */
#define RG_HOST_API_MAJOR 1
#define RG_HOST_API_MINOR 0

/* The first fields of every plugin descriptor (rg_adapter, rg_token_provider). */
typedef struct rg_plugin_header {
    uint32_t struct_size;
    uint16_t abi_major; /* the kind's ABI major the plugin was built with */
    uint16_t abi_minor;
    const char *name;    /* must equal <name> in readgate-<kind>-<name>.so */
    const char *version; /* the plugin's own version string */
} rg_plugin_header;

/* ---- errors ------------------------------------------------------------- */

typedef enum rg_status {
    RG_OK = 0,
    RG_ERR_UNAVAILABLE = 1, /* backend unreachable / connection lost */
    RG_ERR_TIMEOUT = 2,     /* the call exceeded its time budget */
    RG_ERR_UPSTREAM = 3,    /* the backend answered with an error */
    RG_ERR_AUTH = 4,        /* the backend refused the credentials */
    RG_ERR_CONFIG = 5,      /* options invalid for this plugin */
    RG_ERR_INTERNAL = 6,    /* bug or out of memory */
    RG_ERR_ABORTED = 7      /* the host asked to stop (not an error to report) */
} rg_status;

/*
 * Filled by the plugin for the host. The host sets struct_size (and clears
 * the rest) before each call; a plugin writes status and message, and a
 * field added in a later minor only when struct_size covers it.
 */
typedef struct rg_error {
    uint32_t struct_size;
    rg_status status;
    char message[256]; /* for logs: never include secrets, values or a backend's body */
} rg_error;

#define RG_ERROR_SIZE_2_0 (offsetof(rg_error, message) + sizeof(((const rg_error *)0)->message))

/* ---- host services ------------------------------------------------------- */

typedef enum rg_log_level {
    RG_LOG_DEBUG = 0,
    RG_LOG_INFO = 1,
    RG_LOG_WARN = 2,
    RG_LOG_ERROR = 3
} rg_log_level;

/*
 * Passed to every plugin's entry function. abi_major/abi_minor are the
 * version of the plugin kind's ABI the host speaks (RG_ADAPTER_ABI_* for an
 * adapter, RG_PROVIDER_ABI_* for a token provider).
 */
typedef struct rg_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Thread-safe. Never log values or secrets. */
    void (*log)(rg_log_level level, const char *plugin, const char *fmt, va_list ap);
    /* Allocation the gateway accounts for; pair malloc/free of the same API. */
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
} rg_host_api;

/* Configured key/value pairs, secrets already decrypted where the kind says
   so. An array of them is read with rg_option_at. */
typedef struct rg_option {
    uint32_t struct_size;
    const char *key;
    const char *value; /* numbers and booleans arrive as their YAML text */
} rg_option;

#define RG_OPTION_SIZE_2_0 (offsetof(rg_option, value) + sizeof(const char *))

/* Element i of an option array: the elements lie base->struct_size bytes
   apart (the array rule above). base must not be NULL. */
static inline const rg_option *rg_option_at(const rg_option *base, size_t i)
{
    return (const rg_option *)(const void *)((const char *)base + i * base->struct_size);
}

/*
 * Plugins export their entry function with default visibility and build
 * everything else hidden (-fvisibility=hidden), so two plugins never clash.
 */
#if defined(__GNUC__)
#define RG_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RG_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif /* READGATE_PLUGIN_H */
