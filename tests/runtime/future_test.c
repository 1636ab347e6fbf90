/* Futures: exactly-once completion and callbacks under races, waiting inside
 * and outside the pool, all / any, cancellation, timeouts, ownership. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "gust/err.h"
#include "gust/future.h"
#include "tests/support/check.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
enum { RACE_ROUNDS = 100000 };
#else
enum { RACE_ROUNDS = 1000000 };
#endif

/* Futures raced in batches: one thread adds callbacks while another
 * completes, over RACE_ROUNDS futures in all. */
enum { BATCH = 1000, CALLBACKS_PER_FUTURE = 3 };

static gust_pool_t *pool;
static gust_future_t *batch[BATCH];
static atomic_int runs[BATCH];
static atomic_long total_runs;

static void count_run(gust_future_t *future, void *arg)
{
    int index = (int)(intptr_t)arg;
    ASSERT_PTR_EQ(future, batch[index]);
    ASSERT_EQ(gust_future_state(future), GUST_FUTURE_VALUE);
    atomic_fetch_add(&runs[index], 1);
    atomic_fetch_add(&total_runs, 1);
}

static void *complete_batch(void *arg)
{
    (void)arg;
    for (int i = 0; i < BATCH; i++)
        ASSERT_TRUE(gust_future_set_value(batch[i], NULL, NULL));
    return NULL;
}

static void callbacks_race_completion(void)
{
    for (int round = 0; round < RACE_ROUNDS / BATCH; round++) {
        atomic_store(&total_runs, 0);
        for (int i = 0; i < BATCH; i++) {
            batch[i] = gust_future_new(pool);
            ASSERT_NOT_NULL(batch[i]);
            atomic_store(&runs[i], 0);
        }
        pthread_t completer;
        ASSERT_EQ(pthread_create(&completer, NULL, complete_batch, NULL), 0);
        for (int k = 0; k < CALLBACKS_PER_FUTURE; k++) {
            for (int i = 0; i < BATCH; i++)
                ASSERT_EQ(gust_future_on_done(batch[i], count_run, (void *)(intptr_t)i), GUST_OK);
        }
        ASSERT_EQ(pthread_join(completer, NULL), 0);
        while (atomic_load(&total_runs) < BATCH * CALLBACKS_PER_FUTURE)
            sched_yield();
        for (int i = 0; i < BATCH; i++) {
            ASSERT_EQ(atomic_load(&runs[i]), CALLBACKS_PER_FUTURE);
            ASSERT_FALSE(gust_future_set_value(batch[i], NULL, NULL));
            gust_future_free(batch[i]);
        }
    }
    /* Nothing ran twice after the counts settled. */
    ASSERT_EQ(atomic_load(&total_runs), BATCH * CALLBACKS_PER_FUTURE);
}

/* Cancel against set_value from two threads: exactly one wins, and the
 * state says which. */
static gust_future_t *contested;
static atomic_int set_won;

static void *try_set(void *arg)
{
    (void)arg;
    if (gust_future_set_value(contested, (void *)1, NULL))
        atomic_store(&set_won, 1);
    return NULL;
}

static void cancel_races_completion(void)
{
    for (int round = 0; round < 2000; round++) {
        contested = gust_future_new(pool);
        atomic_store(&set_won, 0);
        pthread_t setter;
        ASSERT_EQ(pthread_create(&setter, NULL, try_set, NULL), 0);
        bool cancel_won = gust_future_cancel(contested);
        ASSERT_EQ(pthread_join(setter, NULL), 0);
        ASSERT_NE(cancel_won, atomic_load(&set_won));
        if (cancel_won) {
            ASSERT_EQ(gust_future_state(contested), GUST_FUTURE_CANCELLED);
            ASSERT_EQ(gust_future_error(contested), GUST_ERR_CANCELLED);
            ASSERT_NULL(gust_future_value(contested));
        } else {
            ASSERT_EQ(gust_future_state(contested), GUST_FUTURE_VALUE);
            ASSERT_PTR_EQ(gust_future_value(contested), (void *)1);
        }
        gust_future_free(contested);
    }
}

/* On a one-thread pool, a task waits for a future that only another task
 * of the same pool completes: waiting must run that task. */
typedef struct helper_case_s {
    gust_future_t *inner;
    gust_future_t *outer;
} helper_case_t;

static void complete_inner(void *arg)
{
    gust_future_set_value(arg, (void *)42, NULL);
}

static void wait_inside(void *arg)
{
    helper_case_t *c = arg;
    ASSERT_TRUE(gust_pool_submit(gust_pool_current(), complete_inner, c->inner));
    ASSERT_EQ(gust_future_wait(c->inner), GUST_FUTURE_VALUE);
    gust_future_set_value(c->outer, gust_future_value(c->inner), NULL);
}

static void wait_helps_on_one_thread(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 1;
    gust_pool_t *single = gust_pool_new(&opts);
    ASSERT_NOT_NULL(single);
    helper_case_t c = {gust_future_new(single), gust_future_new(single)};
    ASSERT_TRUE(gust_pool_submit(single, wait_inside, &c));
    ASSERT_EQ(gust_future_wait_for(c.outer, 10ull * 1000000000u), GUST_FUTURE_VALUE);
    ASSERT_PTR_EQ(gust_future_value(c.outer), (void *)42);
    gust_future_free(c.inner);
    gust_future_free(c.outer);
    gust_pool_free(single);
}

static void wait_for_times_out(void)
{
    gust_future_t *never = gust_future_new(pool);
    ASSERT_EQ(gust_future_wait_for(never, 20 * 1000000), GUST_FUTURE_PENDING);
    ASSERT_EQ(gust_future_error(never), 0);
    ASSERT_NULL(gust_future_message(never));
    gust_future_free(never);
}

static void errors_carry_code_and_message(void)
{
    gust_future_t *f = gust_future_new(pool);
    ASSERT_TRUE(gust_future_set_error(f, -ECONNREFUSED, "connect %s:%d: %s", "127.0.0.1", 8080,
                                      "connection refused"));
    ASSERT_EQ(gust_future_wait(f), GUST_FUTURE_ERROR);
    ASSERT_EQ(gust_future_error(f), -ECONNREFUSED);
    ASSERT_STR_EQ(gust_future_message(f), "connect 127.0.0.1:8080: connection refused");
    ASSERT_FALSE(gust_future_cancel(f));
    gust_future_free(f);

    gust_future_t *plain = gust_future_new(pool);
    ASSERT_TRUE(gust_future_set_error(plain, GUST_ERR_TIMEOUT, NULL));
    ASSERT_STR_EQ(gust_future_message(plain), gust_strerror(GUST_ERR_TIMEOUT));
    gust_future_free(plain);
}

static atomic_int destroyed;

static void count_destroy(void *value)
{
    ASSERT_PTR_EQ(value, (void *)7);
    atomic_fetch_add(&destroyed, 1);
}

static void value_destroyed_once_with_last_reference(void)
{
    gust_future_t *f = gust_future_new(pool);
    gust_future_up_ref(f);
    ASSERT_TRUE(gust_future_set_value(f, (void *)7, count_destroy));
    ASSERT_FALSE(gust_future_set_value(f, (void *)8, count_destroy));
    gust_future_free(f);
    ASSERT_EQ(atomic_load(&destroyed), 0);
    gust_future_free(f);
    ASSERT_EQ(atomic_load(&destroyed), 1);
    gust_future_free(NULL);
}

static atomic_int late_runs;

static void count_late(gust_future_t *future, void *arg)
{
    (void)future;
    ASSERT_PTR_EQ(arg, &late_runs);
    /* Callbacks run on a worker, never in the caller of on_done. */
    ASSERT_PTR_EQ(gust_pool_current(), pool);
    atomic_fetch_add(&late_runs, 1);
}

static void callback_after_completion_is_scheduled(void)
{
    gust_future_t *f = gust_future_new(pool);
    ASSERT_TRUE(gust_future_set_value(f, NULL, NULL));
    ASSERT_EQ(gust_future_on_done(f, count_late, &late_runs), GUST_OK);
    gust_future_free(f); /* the callback holds its own reference */
    while (atomic_load(&late_runs) == 0)
        sched_yield();
    ASSERT_EQ(atomic_load(&late_runs), 1);
}

static void all_and_any(void)
{
    enum { N = 8 };
    gust_future_t *inputs[N];
    for (int i = 0; i < N; i++)
        inputs[i] = gust_future_new(pool);
    gust_future_t *all = gust_future_all(pool, inputs, N);
    gust_future_t *any = gust_future_any(pool, inputs, N);
    ASSERT_NOT_NULL(all);
    ASSERT_NOT_NULL(any);
    ASSERT_TRUE(gust_future_set_value(inputs[5], NULL, NULL));
    ASSERT_EQ(gust_future_wait(any), GUST_FUTURE_VALUE);
    ASSERT_UEQ((uintptr_t)gust_future_value(any), 5);
    ASSERT_EQ(gust_future_wait_for(all, 10 * 1000000), GUST_FUTURE_PENDING);
    for (int i = 0; i < N; i++) {
        if (i == 3)
            gust_future_set_error(inputs[i], -EHOSTUNREACH, "connect 192.0.2.1: no route to host");
        else if (i != 5)
            gust_future_set_value(inputs[i], NULL, NULL);
    }
    ASSERT_EQ(gust_future_wait(all), GUST_FUTURE_ERROR);
    ASSERT_EQ(gust_future_error(all), -EHOSTUNREACH);
    ASSERT_STR_EQ(gust_future_message(all), "connect 192.0.2.1: no route to host");
    for (int i = 0; i < N; i++)
        gust_future_free(inputs[i]);
    gust_future_free(all);
    gust_future_free(any);

    gust_future_t *empty_all = gust_future_all(pool, NULL, 0);
    ASSERT_EQ(gust_future_state(empty_all), GUST_FUTURE_VALUE);
    gust_future_free(empty_all);

    gust_future_t *ok[2] = {gust_future_new(pool), gust_future_new(pool)};
    gust_future_t *both = gust_future_all(pool, ok, 2);
    gust_future_set_value(ok[1], NULL, NULL);
    gust_future_set_value(ok[0], NULL, NULL);
    ASSERT_EQ(gust_future_wait(both), GUST_FUTURE_VALUE);
    gust_future_free(ok[0]);
    gust_future_free(ok[1]);
    gust_future_free(both);
}

int main(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    errors_carry_code_and_message();
    value_destroyed_once_with_last_reference();
    callback_after_completion_is_scheduled();
    wait_for_times_out();
    all_and_any();
    cancel_races_completion();
    wait_helps_on_one_thread();
    callbacks_race_completion();
    gust_pool_free(pool);
    return 0;
}
