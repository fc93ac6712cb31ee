/* The sliding window arithmetic behind every rate limit: exact boundaries,
   honest waits, undo, and the in-memory table built on it (exact under
   concurrent callers, bounded in size). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit/ratelimit_check.h"
#include "ratelimit/ratelimit_memory.h"
#include "ratelimit/sliding_window.h"

static rg_swin *minute(void)
{
    rg_swin *w = malloc(rg_swin_size(60));
    assert_non_null(w);
    rg_swin_init(w, 60, 1000);
    return w;
}

static void test_boundary(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    int64_t t = 1000000;
    for (uint32_t i = 0; i < 5; i++) {
        assert_true(rg_swin_try(w, 5, t + i * 10, &v));
        assert_int_equal(v.remaining, 4 - i);
    }
    assert_false(rg_swin_try(w, 5, t + 50, &v));
    assert_int_equal(v.remaining, 0);
    assert_int_equal(rg_swin_count(w, t + 60), 5); /* refusals are not counted */
    free(w);
}

static void test_wait_is_honest(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    /* 2 requests at 10.2 s, 3 at 30.5 s; limit 5. */
    assert_true(rg_swin_try(w, 5, 10200, &v));
    assert_true(rg_swin_try(w, 5, 10200, &v));
    for (int i = 0; i < 3; i++)
        assert_true(rg_swin_try(w, 5, 30500, &v));
    assert_false(rg_swin_try(w, 5, 31000, &v));
    /* The bucket of second 10 leaves when second 70 begins: 39 s later. */
    assert_int_equal(v.wait_ms, 70000 - 31000);
    assert_int_equal(rg_swin_seconds(v.wait_ms), 39);
    assert_false(rg_swin_try(w, 5, 69999, &v));
    assert_int_equal(v.wait_ms, 1);
    assert_true(rg_swin_try(w, 5, 70000, &v));
    /* two left at 70 s, one spent: one remains */
    assert_int_equal(v.remaining, 1);
    free(w);
}

static void test_reset_of_allowed(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    assert_true(rg_swin_try(w, 10, 5500, &v));
    /* Remaining rises when this request leaves: at 65 s. */
    assert_int_equal(v.wait_ms, 65000 - 5500);
    assert_true(rg_swin_try(w, 10, 20000, &v));
    assert_int_equal(v.wait_ms, 65000 - 20000);
    free(w);
}

static void test_full_window_passes(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    for (int i = 0; i < 3; i++)
        assert_true(rg_swin_try(w, 3, 1000, &v));
    assert_false(rg_swin_try(w, 3, 60999, &v));
    assert_true(rg_swin_try(w, 3, 61000, &v));
    assert_int_equal(v.remaining, 2);
    /* Long idle: everything gone at once. */
    assert_int_equal(rg_swin_count(w, 10000000), 0);
    free(w);
}

static void test_undo_and_add(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    assert_true(rg_swin_try(w, 2, 1000, &v));
    assert_true(rg_swin_try(w, 2, 1000, &v));
    rg_swin_undo(w, v.tick);
    assert_int_equal(rg_swin_count(w, 1000), 1);
    assert_true(rg_swin_try(w, 2, 2000, &v));
    /* An undo for a bucket that left the window does nothing. */
    rg_swin_undo(w, 0);
    rg_swin_add(w, 3000);
    rg_swin_add(w, 3000);
    assert_int_equal(rg_swin_count(w, 3000), 4);
    assert_false(rg_swin_try(w, 2, 3000, &v));
    free(w);
}

static void test_burst_window(void **state)
{
    (void)state;
    rg_swin *w = malloc(rg_swin_size(10));
    assert_non_null(w);
    rg_swin_init(w, 10, 100);
    rg_swin_verdict v;
    for (int i = 0; i < 3; i++)
        assert_true(rg_swin_try(w, 3, 5000 + i * 50, &v));
    assert_false(rg_swin_try(w, 3, 5150, &v));
    assert_int_equal(v.wait_ms, 6000 - 5150);
    assert_int_equal(rg_swin_seconds(v.wait_ms), 1);
    assert_true(rg_swin_try(w, 3, 6000, &v));
    free(w);
}

static void test_clock_going_back(void **state)
{
    (void)state;
    rg_swin *w = minute();
    rg_swin_verdict v;
    assert_true(rg_swin_try(w, 2, 50000, &v));
    assert_true(rg_swin_try(w, 2, 40000, &v)); /* counted in the newest bucket */
    assert_false(rg_swin_try(w, 2, 40000, &v));
    assert_true(v.wait_ms >= 1);
    free(w);
}

static void test_seconds(void **state)
{
    (void)state;
    assert_int_equal(rg_swin_seconds(0), 1);
    assert_int_equal(rg_swin_seconds(1), 1);
    assert_int_equal(rg_swin_seconds(1000), 1);
    assert_int_equal(rg_swin_seconds(1001), 2);
    assert_int_equal(rg_swin_seconds(59999), 60);
}

/* ---- the summary of several windows --------------------------------------- */

static void test_summary(void **state)
{
    (void)state;
    rg_rl_check c;
    memset(&c, 0, sizeof c);
    rg_rl_add_window(&c, RG_RL_TOKEN, RG_RL_DIM_IP, 60, "ip", 2);
    rg_rl_add_window(&c, RG_RL_TOKEN, RG_RL_DIM_SITE, 0, "site", 4); /* off */
    rg_rl_add_window(&c, RG_RL_TOKEN, RG_RL_DIM_BURST, 20, "site", 4);
    assert_int_equal(c.nwin, 2);
    rg_swin_verdict v[2] = {{.allowed = true, .remaining = 10, .wait_ms = 30000},
                            {.allowed = true, .remaining = 3, .wait_ms = 200}};
    rg_rl_result r;
    rg_rl_summarize(&c, v, &r);
    assert_int_equal(r.outcome, RG_RL_ALLOWED);
    assert_int_equal(r.limit, 20);
    assert_int_equal(r.remaining, 3);
    assert_int_equal(r.reset_s, 1);
    v[0].allowed = false;
    v[0].remaining = 0;
    v[0].wait_ms = 12500;
    v[1].allowed = false;
    v[1].remaining = 0;
    v[1].wait_ms = 300;
    rg_rl_summarize(&c, v, &r);
    assert_int_equal(r.outcome, RG_RL_LIMITED);
    assert_int_equal(r.retry_after_s, 13); /* the longest wait */
    assert_int_equal(r.limit, 60);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_s, 13);
    rg_rl_check none;
    memset(&none, 0, sizeof none);
    rg_rl_summarize(&none, v, &r);
    assert_int_equal(r.outcome, RG_RL_ALLOWED);
    assert_false(r.has_headers);
}

/* ---- the in-memory table ----------------------------------------------------- */

static void check_of(rg_rl_check *c, const char *ip, const char *site, uint32_t ip_limit,
                     uint32_t site_limit)
{
    memset(c, 0, sizeof *c);
    rg_rl_add_window(c, RG_RL_QUERY, RG_RL_DIM_IP, ip_limit, ip, strlen(ip));
    rg_rl_add_window(c, RG_RL_QUERY, RG_RL_DIM_SITE, site_limit, site, strlen(site));
}

static void test_memory_all_or_nothing(void **state)
{
    (void)state;
    rg_rl_memory *m = rg_rl_memory_new(1000);
    assert_non_null(m);
    rg_rl_check c;
    rg_swin_verdict v[RG_RL_NDIMS];
    /* ip limit 3, site limit 5: a refusal by one window costs the other nothing */
    check_of(&c, "1.1.1.1", "siteaaaa", 3, 5);
    for (int i = 0; i < 3; i++) {
        rg_rl_memory_check(m, &c, 1000, v);
        assert_true(v[0].allowed && v[1].allowed);
    }
    rg_rl_memory_check(m, &c, 1000, v);
    assert_false(v[0].allowed);
    assert_true(v[1].allowed);
    /* the site window was not charged for the refused request */
    assert_int_equal(v[1].remaining, 2);
    check_of(&c, "2.2.2.2", "siteaaaa", 3, 5);
    rg_rl_memory_check(m, &c, 1000, v);
    assert_true(v[0].allowed && v[1].allowed);
    rg_rl_memory_check(m, &c, 1000, v);
    assert_true(v[0].allowed && v[1].allowed);
    rg_rl_memory_check(m, &c, 1000, v);
    assert_false(v[1].allowed); /* site full: 5 */
    rg_rl_memory_record(m, &c, 1000);
    rg_rl_memory_free(m);
}

typedef struct {
    rg_rl_memory *m;
    int allowed;
} race_arg;

static void *racer(void *p)
{
    race_arg *a = p;
    rg_rl_check c;
    char ip[32];
    snprintf(ip, sizeof ip, "ip-%p", p);
    check_of(&c, ip, "racesite", 1000000, 500);
    rg_swin_verdict v[RG_RL_NDIMS];
    for (int i = 0; i < 2000; i++) {
        rg_rl_memory_check(a->m, &c, 5000, v);
        if (v[0].allowed && v[1].allowed)
            a->allowed++;
    }
    return NULL;
}

static void test_memory_exact_under_threads(void **state)
{
    (void)state;
    rg_rl_memory *m = rg_rl_memory_new(1000);
    assert_non_null(m);
    enum { N = 8 };
    pthread_t t[N];
    race_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (race_arg){.m = m};
        assert_int_equal(pthread_create(&t[i], NULL, racer, &a[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        total += a[i].allowed;
    }
    /* 16000 attempts at one site limited to 500: never more than 500 admitted,
       and the transient hold of a rolled-back request refuses at most a few. */
    assert_true(total <= 500);
    assert_true(total >= 450);
    rg_rl_memory_free(m);
}

static void test_memory_bounded(void **state)
{
    (void)state;
    rg_rl_memory *m = rg_rl_memory_new(1000);
    assert_non_null(m);
    rg_rl_check c;
    rg_swin_verdict v[RG_RL_NDIMS];
    char ip[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        memset(&c, 0, sizeof c);
        rg_rl_add_window(&c, RG_RL_TOKEN, RG_RL_DIM_IP, 60, ip, strlen(ip));
        rg_rl_memory_check(m, &c, 1000 + i, v);
        assert_true(v[0].allowed);
    }
    /* 64 shards of at least 1000/64 entries each */
    assert_true(rg_rl_memory_entries(m) <= 1024);
    assert_true(rg_rl_memory_live_evictions(m) > 0);
    /* a window in steady use survives the churn around it */
    memset(&c, 0, sizeof c);
    rg_rl_add_window(&c, RG_RL_TOKEN, RG_RL_DIM_SITE, 3, "busy", 4);
    for (int i = 0; i < 3; i++) {
        rg_rl_memory_check(m, &c, 60000, v);
        assert_true(v[0].allowed);
    }
    rg_rl_memory_check(m, &c, 60000, v);
    assert_false(v[0].allowed);
    rg_rl_memory_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),         cmocka_unit_test(test_wait_is_honest),
        cmocka_unit_test(test_reset_of_allowed), cmocka_unit_test(test_full_window_passes),
        cmocka_unit_test(test_undo_and_add),     cmocka_unit_test(test_burst_window),
        cmocka_unit_test(test_clock_going_back), cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_summary),          cmocka_unit_test(test_memory_all_or_nothing),
        cmocka_unit_test(test_memory_exact_under_threads),
        cmocka_unit_test(test_memory_bounded),
    };
    return cmocka_run_group_tests_name("sliding window", tests, NULL, NULL);
}
