#include "plugin_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int rg_plugin_name_ok(const char *name)
{
    if (!name || !*name || *name == '-' || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* ---- the kinds ------------------------------------------------------------ */

static const void *call_adapter_entry(void *sym, const rg_host_api *host)
{
    rg_adapter_entry_fn entry;
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
    memcpy(&entry, &sym, sizeof entry);
    return entry(host);
}

static int validate_adapter(const void *desc, char *err, size_t errlen)
{
    const rg_adapter *a = desc;
    if (!a->connect || !a->query || !a->ping || !a->disconnect) {
        snprintf(err, errlen, "lacks a required callback (connect, query, ping, disconnect)");
        return -1;
    }
    return 0;
}

const rg_plugin_kind rg_plugin_adapter = {
    .what = "adapter",
    .file_prefix = "readgate-adapter-",
    .entry_symbol = RG_ADAPTER_ENTRY_SYMBOL,
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .min_size = RG_ADAPTER_SIZE_2_0,
    .call_entry = call_adapter_entry,
    .validate = validate_adapter,
};

static const void *call_provider_entry(void *sym, const rg_host_api *host)
{
    rg_provider_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    return entry(host);
}

static int validate_provider(const void *desc, char *err, size_t errlen)
{
    const rg_token_provider *p = desc;
    if (!p->begin || !p->finish || !p->end) {
        snprintf(err, errlen, "lacks a required callback (begin, finish, end)");
        return -1;
    }
    if (p->tools & ~(RG_PROVIDER_TOOLS_FUNCTIONS | RG_PROVIDER_TOOLS_MCP)) {
        snprintf(err, errlen, "declares unknown tools flags 0x%x", (unsigned)p->tools);
        return -1;
    }
    return 0;
}

const rg_plugin_kind rg_plugin_provider = {
    .what = "provider",
    .file_prefix = "readgate-provider-",
    .entry_symbol = RG_PROVIDER_ENTRY_SYMBOL,
    .abi_major = RG_PROVIDER_ABI_MAJOR,
    .abi_minor = RG_PROVIDER_ABI_MINOR,
    .min_size = RG_PROVIDER_SIZE_2_0,
    .call_entry = call_provider_entry,
    .validate = validate_provider,
};

/* ---- the check ---------------------------------------------------------- */

/* The <name> of "<dir>/<prefix><name>.so", or NULL when the file is named otherwise. */
static const char *name_from_path(const rg_plugin_kind *kind, const char *path, char *buf,
                                  size_t buflen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t pl = strlen(kind->file_prefix), bl = strlen(base);
    if (bl <= pl + 3 || strncmp(base, kind->file_prefix, pl) != 0 ||
        strcmp(base + bl - 3, ".so") != 0 || bl - pl - 3 >= buflen)
        return NULL;
    memcpy(buf, base + pl, bl - pl - 3);
    buf[bl - pl - 3] = '\0';
    return buf;
}

static const void *refuse(void *h, char *err, size_t errlen, const char *path, const char *why)
{
    /* Two steps: `why` may have been written into err itself. */
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", why);
    snprintf(err, errlen, "%.300s: %s", path, tmp);
    if (h)
        dlclose(h);
    return NULL;
}

const void *rg_plugin_open(const rg_plugin_kind *kind, const char *path, const char *expect_name,
                           const rg_host_api *host, void **dl, char *err, size_t errlen)
{
    char why[400];
    char namebuf[80];
    *dl = NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot load %s: %.300s", kind->what, e ? e : "?");
        return refuse(NULL, err, errlen, path, why);
    }
    dlerror();
    void *sym = dlsym(h, kind->entry_symbol);
    if (!sym) {
        snprintf(why, sizeof why, "does not export %s() (is it a readgate %s?)",
                 kind->entry_symbol, kind->what);
        return refuse(h, err, errlen, path, why);
    }
    const void *desc = kind->call_entry(sym, host);
    if (!desc) {
        snprintf(why, sizeof why, "%s() returned no descriptor", kind->entry_symbol);
        return refuse(h, err, errlen, path, why);
    }
    /* The header fields sit at the same place in every layout of every kind;
       struct_size first, so nothing past what the plugin has is read. */
    rg_plugin_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memcpy(&hdr.struct_size, desc, sizeof hdr.struct_size);
    if (hdr.struct_size < sizeof hdr) {
        snprintf(why, sizeof why, "struct_size %u is too small for any %s layout",
                 (unsigned)hdr.struct_size, kind->what);
        return refuse(h, err, errlen, path, why);
    }
    memcpy(&hdr, desc, sizeof hdr);
    if (hdr.abi_major != kind->abi_major) {
        snprintf(why, sizeof why,
                 "%s was built for ABI major %u; this readgate supports %s ABI major %u "
                 "(any minor, up to %u.%u); rebuild it against this readgate's headers",
                 kind->what, (unsigned)hdr.abi_major, kind->what, (unsigned)kind->abi_major,
                 (unsigned)kind->abi_major, (unsigned)kind->abi_minor);
        return refuse(h, err, errlen, path, why);
    }
    if (hdr.struct_size < kind->min_size) {
        snprintf(why, sizeof why, "struct_size %u is smaller than the %s ABI %u.0 layout (%zu)",
                 (unsigned)hdr.struct_size, kind->what, (unsigned)kind->abi_major,
                 kind->min_size);
        return refuse(h, err, errlen, path, why);
    }
    if (!hdr.name || !rg_plugin_name_ok(hdr.name)) {
        snprintf(why, sizeof why, "%s has no valid name (want [a-z0-9_-], at most 64)", kind->what);
        return refuse(h, err, errlen, path, why);
    }
    if (!expect_name)
        expect_name = name_from_path(kind, path, namebuf, sizeof namebuf);
    if (expect_name && strcmp(hdr.name, expect_name) != 0) {
        snprintf(why, sizeof why, "%s calls itself '%.64s', expected '%.64s'", kind->what,
                 hdr.name, expect_name);
        return refuse(h, err, errlen, path, why);
    }
    if (kind->validate(desc, why, sizeof why) != 0)
        return refuse(h, err, errlen, path, why);
    *dl = h;
    return desc;
}

const void *rg_plugin_open_dir(const rg_plugin_kind *kind, const char *dir, const char *name,
                               const rg_host_api *host, void **dl, char *err, size_t errlen)
{
    *dl = NULL;
    if (!rg_plugin_name_ok(name)) {
        snprintf(err, errlen, "invalid %s name '%.64s' (want [a-z0-9_-], at most 64)", kind->what,
                 name ? name : "");
        return NULL;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s%s.so", dir, kind->file_prefix, name) >=
        (int)sizeof path) {
        snprintf(err, errlen, "%s path for '%s' is too long", kind->what, name);
        return NULL;
    }
    return rg_plugin_open(kind, path, name, host, dl, err, errlen);
}
