/*
 * Ask a source's adapter whether it accepts the source's options, without
 * connecting: `readgate check` for every source, and the server when it
 * builds a source's pool (at start and at each reload), so a mistyped option
 * is reported at load instead of at the first query.
 */
#ifndef RG_ADAPTER_CHECK_H
#define RG_ADAPTER_CHECK_H

#include <readgate/adapter.h>
#include <stddef.h>

#include "config/config.h"

/*
 * 0 when the adapter has no check_options or accepts the options; -1 with
 * the adapter's message in why. Encrypted values are passed as written
 * ("enc:v1:..."): a check never opens a secret. Relative paths resolve
 * against the site file's directory, as they do at connect.
 */
int rg_adapter_check_source(const rg_adapter *a, const rg_site *site, const rg_source *src,
                            char *why, size_t whylen);

#endif
