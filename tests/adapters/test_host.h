/*
 * What the adapter tests play of the gateway: the host table handed to an
 * adapter (the C allocator, a log on stderr: warnings and errors, everything
 * with RG_TEST_VERBOSE set) and loading an adapter the way the gateway does.
 */
#ifndef RG_TEST_HOST_H
#define RG_TEST_HOST_H

#include <readgate/adapter.h>

extern const rg_host_api rg_test_host;

/* Elements of the arrays a test hands an adapter, struct_size set as the
   ABI's array rule wants (readgate/adapter.h). */
#define OPT(key, value) {sizeof(rg_option), (key), (value)}
#define FIELD(name, column, type) {sizeof(rg_field_desc), (name), (column), (type)}
#define SORT(field, desc) {sizeof(rg_sort_key), (field), (desc)}

/* dlopen DIR/readgate-adapter-NAME.so and call its entry point with
   rg_test_host. NULL (with the reason on stderr) when it can't be loaded or
   was built for another ABI major or an older rg_adapter. */
const rg_adapter *rg_test_load_adapter(const char *dir, const char *name, void **dl);

/* A row an adapter sent, read the way readgate reads it: every value with
   the same struct_size, at least the 2.0 rg_value, stepped through with
   rg_value_at. Copies the 2.0 fields of the n values to out (n <= max) and
   returns 0; -1 (the reason on stderr) when the layout is wrong. */
int rg_test_row(const rg_value *values, size_t n, rg_value *out, size_t max);

#endif
