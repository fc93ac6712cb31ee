/*
 * Widget event bodies (core/server/events.c, rg_event_parse): what a page
 * may report must be structure only. Besides "no crash, no leak", an accepted
 * event names an event of the fixed list, a collection of the site, distinct
 * fields of that collection that the outside world may know, and a count and
 * latency bucket in range; nothing of the input's own text is kept but names
 * that come from the configuration.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "query_fixture.h"
#include "server/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rg_event_in ev;
    rg_api_error e;
    if (rg_event_parse(&fx_site, (const char *)data, size, &ev, &e) != 0) {
        RG_FUZZ_CHECK(e.http_status == 400);
        RG_FUZZ_CHECK(e.code && *e.code);
        return 0;
    }
    RG_FUZZ_CHECK(ev.event && *ev.event);
    const rg_collection *c = NULL;
    if (ev.collection) {
        c = rg_site_find_collection(&fx_site, ev.collection);
        /* The very string of the configuration, not a copy of the input. */
        RG_FUZZ_CHECK(c && c->name == ev.collection);
    }
    RG_FUZZ_CHECK(ev.nfields <= RG_EVENT_MAX_FIELDS);
    RG_FUZZ_CHECK(ev.nfields == 0 || c);
    for (size_t i = 0; i < ev.nfields; i++) {
        int k = rg_collection_find_field(c, ev.fields[i]);
        RG_FUZZ_CHECK(k >= 0 && c->fields[k].name == ev.fields[i]);
        const rg_field *f = &c->fields[k];
        RG_FUZZ_CHECK(f->display || f->searchable || f->sortable || f->ops);
        for (size_t j = 0; j < i; j++)
            RG_FUZZ_CHECK(ev.fields[j] != ev.fields[i]);
    }
    RG_FUZZ_CHECK(ev.count >= 0 && ev.count <= 1000000);
    RG_FUZZ_CHECK(!ev.latency || strncmp(ev.latency, "lt_", 3) == 0 ||
                  strcmp(ev.latency, "ge_10s") == 0);
    return 0;
}
