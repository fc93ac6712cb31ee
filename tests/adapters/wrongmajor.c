/* An adapter that claims ABI major 2: readgate 1.x must refuse to load it,
   log why, and keep serving every other site. */
#include <readgate/adapter.h>

static const rg_adapter wrong = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR + 1,
    .abi_minor = 0,
    .name = "wrongmajor",
    .version = "0",
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *host)
{
    (void)host;
    return &wrong;
}
