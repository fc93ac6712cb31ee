#include "workers/adapter_check.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rg_adapter_check_source(const rg_adapter *a, const rg_site *site, const rg_source *src,
                            char *why, size_t whylen)
{
    if (!a->check_options)
        return 0;
    rg_option *opts = calloc(src->noptions ? src->noptions : 1, sizeof *opts);
    char *file_copy = strdup(site->file);
    if (!opts || !file_copy) {
        free(opts);
        free(file_copy);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < src->noptions; k++) {
        opts[k].struct_size = sizeof opts[k];
        opts[k].key = src->options[k].key;
        opts[k].value = src->options[k].value;
    }
    rg_source_info info = {.struct_size = sizeof info,
                           .site_id = site->site_id,
                           .source_name = src->name,
                           .options = opts,
                           .noptions = src->noptions,
                           .connect_timeout_ms = src->connect_timeout_ms,
                           .base_dir = dirname(file_copy)};
    rg_error err = {.struct_size = sizeof err};
    int rc = 0;
    if (a->check_options(&info, &err) != RG_OK) {
        /* An adapter that forgot its message still gets a readable line. */
        snprintf(why, whylen, "%s", err.message[0] ? err.message : "options refused");
        rc = -1;
    }
    free(file_copy);
    free(opts);
    return rc;
}
