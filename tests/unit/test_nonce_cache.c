/* Replay cache: new vs replayed keys, expiry, the capacity limit (fails
   closed), and concurrent use from several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/nonce_cache.h"

static void test_new_and_replay(void **state)
{
    (void)state;
    rg_nonce_cache *c = rg_nonce_cache_new(1000);
    assert_non_null(c);
    assert_false(rg_nonce_cache_contains(c, "abc", 3, 100));
    assert_true(rg_nonce_cache_insert(c, "abc", 3, 100, 400));
    assert_true(rg_nonce_cache_contains(c, "abc", 3, 100));
    assert_false(rg_nonce_cache_insert(c, "abc", 3, 100, 400));
    assert_false(rg_nonce_cache_insert(c, "abc", 3, 399, 700));
    /* Keys are bytes: a prefix, a longer key and embedded NULs are distinct. */
    assert_true(rg_nonce_cache_insert(c, "ab", 2, 100, 400));
    assert_true(rg_nonce_cache_insert(c, "abc\0", 4, 100, 400));
    assert_true(rg_nonce_cache_insert(c, "a\0c", 3, 100, 400));
    assert_false(rg_nonce_cache_insert(c, "a\0c", 3, 100, 400));
    assert_false(rg_nonce_cache_contains(c, "abd", 3, 100));
    rg_nonce_cache_free(c);
}

static void test_expiry(void **state)
{
    (void)state;
    rg_nonce_cache *c = rg_nonce_cache_new(1000);
    assert_non_null(c);
    assert_true(rg_nonce_cache_insert(c, "k", 1, 100, 200));
    assert_true(rg_nonce_cache_contains(c, "k", 1, 199));
    assert_false(rg_nonce_cache_insert(c, "k", 1, 199, 500));
    /* At expires_at the entry is gone: new again, with the new expiry. */
    assert_false(rg_nonce_cache_contains(c, "k", 1, 200));
    assert_true(rg_nonce_cache_insert(c, "k", 1, 200, 300));
    assert_false(rg_nonce_cache_insert(c, "k", 1, 250, 300));
    assert_true(rg_nonce_cache_contains(c, "k", 1, 299));
    assert_false(rg_nonce_cache_contains(c, "k", 1, 300));
    rg_nonce_cache_free(c);
}

static void test_full_fails_closed(void **state)
{
    (void)state;
    enum { CAP = 100 };
    rg_nonce_cache *c = rg_nonce_cache_new(CAP);
    assert_non_null(c);
    char key[32];
    for (int i = 0; i < CAP; i++) {
        int n = snprintf(key, sizeof key, "nonce-%d", i);
        assert_true(rg_nonce_cache_insert(c, key, (size_t)n, 1000, 1300));
    }
    /* Full of live entries: a new key is refused, and so is a replay. */
    assert_false(rg_nonce_cache_insert(c, "one-more", 8, 1000, 1300));
    assert_false(rg_nonce_cache_insert(c, "one-more", 8, 1200, 1500));
    assert_false(rg_nonce_cache_insert(c, "nonce-7", 7, 1200, 1500));
    assert_false(rg_nonce_cache_contains(c, "one-more", 8, 1200));
    /* Once the entries expire, the space is reclaimed. */
    for (int i = 0; i < CAP; i++) {
        int n = snprintf(key, sizeof key, "later-%d", i);
        assert_true(rg_nonce_cache_insert(c, key, (size_t)n, 1300, 1600));
    }
    assert_false(rg_nonce_cache_insert(c, "one-more", 8, 1300, 1600));
    assert_false(rg_nonce_cache_insert(c, "later-5", 7, 1300, 1600));
    rg_nonce_cache_free(c);
    assert_null(rg_nonce_cache_new(0));
}

enum { THREADS = 4, PER_THREAD = 5000 };

typedef struct worker {
    rg_nonce_cache *c;
    int id;
    int new_count;    /* distinct keys accepted */
    int shared_new;   /* of the shared keys, how many this thread won */
    bool replay_seen; /* every own key re-inserted was reported as replay */
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    char key[48];
    w->replay_seen = true;
    for (int i = 0; i < PER_THREAD; i++) {
        int n = snprintf(key, sizeof key, "t%d-nonce-%d", w->id, i);
        if (rg_nonce_cache_insert(w->c, key, (size_t)n, 10, 400))
            w->new_count++;
        if (rg_nonce_cache_insert(w->c, key, (size_t)n, 10, 400))
            w->replay_seen = false;
        /* Every thread races for the same shared keys; only one may win each. */
        n = snprintf(key, sizeof key, "shared-%d", i);
        if (rg_nonce_cache_insert(w->c, key, (size_t)n, 10, 400))
            w->shared_new++;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    rg_nonce_cache *c = rg_nonce_cache_new(THREADS * PER_THREAD + PER_THREAD);
    assert_non_null(c);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, run, &w[i]), 0);
    }
    int shared = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].new_count, PER_THREAD);
        assert_true(w[i].replay_seen);
        shared += w[i].shared_new;
    }
    assert_int_equal(shared, PER_THREAD);
    char key[48];
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i += 97) {
            int n = snprintf(key, sizeof key, "t%d-nonce-%d", t, i);
            assert_true(rg_nonce_cache_contains(c, key, (size_t)n, 10));
        }
    /* Exactly at capacity now. */
    assert_false(rg_nonce_cache_insert(c, "x", 1, 10, 400));
    rg_nonce_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_replay),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_full_fails_closed),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
