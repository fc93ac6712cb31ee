/* Token providers the loader must refuse (tests/unit/test_adapter_loader.c).
   Built three times: -DFIXTURE_WRONG_MAJOR claims the next ABI major;
   -DFIXTURE_OLD_MAJOR claims major 1, as a provider built against the 1.x
   headers does; -DFIXTURE_TOO_SMALL claims a struct_size below the 2.0
   layout. */
#include <readgate/token_provider.h>

static rg_status begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                       rg_error *err)
{
    (void)in;
    (void)req;
    (void)err;
    *state = 0;
    return RG_OK;
}

static rg_status finish(void *state, const rg_provider_response *resp, rg_mint_result *out,
                        rg_error *err)
{
    (void)state;
    (void)resp;
    (void)out;
    (void)err;
    return RG_ERR_INTERNAL;
}

static void end(void *state) { (void)state; }

static const rg_token_provider fixture = {
#if defined(FIXTURE_WRONG_MAJOR)
    .struct_size = sizeof(rg_token_provider),
    .abi_major = RG_PROVIDER_ABI_MAJOR + 1,
    .name = "wrongmajor",
#elif defined(FIXTURE_OLD_MAJOR)
    .struct_size = sizeof(rg_token_provider),
    .abi_major = 1,
    .name = "oldmajor",
#else
    .struct_size = RG_PROVIDER_SIZE_2_0 - sizeof(void *),
    .abi_major = RG_PROVIDER_ABI_MAJOR,
    .name = "toosmall",
#endif
    .abi_minor = 0,
    .version = "0",
    .begin = begin,
    .finish = finish,
    .end = end,
};

RG_DEFINE_PROVIDER(fixture)
