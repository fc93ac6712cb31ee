/*
 * What the adapter tests play of the gateway: the host table handed to an
 * adapter (the C allocator, a log on stderr: warnings and errors, everything
 * with RG_TEST_VERBOSE set) and loading an adapter the way the gateway does.
 */
#ifndef RG_TEST_HOST_H
#define RG_TEST_HOST_H

#include <readgate/adapter.h>

extern const rg_host_api rg_test_host;

/* dlopen DIR/readgate-adapter-NAME.so and call its entry point with
   rg_test_host. NULL (with the reason on stderr) when it can't be loaded or
   was built for another ABI major or an older rg_adapter. */
const rg_adapter *rg_test_load_adapter(const char *dir, const char *name, void **dl);

#endif
