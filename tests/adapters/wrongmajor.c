/* An adapter built for another ABI major: readgate must refuse to load it,
   log why, and keep serving every other site. Built twice: as
   readgate-adapter-wrongmajor for the next major, and with
   -DFIXTURE_MAJOR=1 -DFIXTURE_NAME="oldmajor" as an adapter built against
   the 1.x headers, whose descriptor looks the same but whose rows and plans
   do not. */
#include <readgate/adapter.h>

#ifndef FIXTURE_MAJOR
#define FIXTURE_MAJOR (RG_ADAPTER_ABI_MAJOR + 1)
#endif
#ifndef FIXTURE_NAME
#define FIXTURE_NAME "wrongmajor"
#endif

static const rg_adapter wrong = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = FIXTURE_MAJOR,
    .abi_minor = 0,
    .name = FIXTURE_NAME,
    .version = "0",
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *host)
{
    (void)host;
    return &wrong;
}
