/* Token providers readgate must refuse (tests/unit/test_adapter_loader.c,
   tests/http/test_faults.py). Built four times: -DFIXTURE_WRONG_MAJOR claims
   the next ABI major; -DFIXTURE_OLD_MAJOR claims major 1, as a provider built
   against the 1.x headers does; -DFIXTURE_TOO_SMALL claims a struct_size
   below the 2.0 layout; -DFIXTURE_BAD_HEADERS loads, but its request's
   headers claim a struct_size below the 2.0 rg_provider_header, so every
   mint must fail without readgate reading past them. */
#include <readgate/token_provider.h>

/* A header without a struct_size, as a 1.x provider would send. */
static const rg_provider_header bad_headers[] = {
    {.struct_size = 0, .name = "Authorization", .value = "Bearer x"},
};

static rg_status begin(const rg_mint_input *in, void **state, rg_provider_request *req,
                       rg_error *err)
{
    (void)in;
    (void)err;
    *state = 0;
#if defined(FIXTURE_BAD_HEADERS)
    req->method = "GET";
    req->url = "http://127.0.0.1:9/v1/token";
    req->headers = bad_headers;
    req->nheaders = 1;
#else
    (void)req;
    (void)bad_headers;
#endif
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
#elif defined(FIXTURE_BAD_HEADERS)
    .struct_size = sizeof(rg_token_provider),
    .abi_major = RG_PROVIDER_ABI_MAJOR,
    .name = "badheaders",
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
