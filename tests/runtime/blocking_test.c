/* Blocking calls: gust_runtime_block runs a function on the runtime's
 * blocking threads and completes a future with its result.
 *
 *   - result: the future's value is the function's result; the function runs
 *     on no worker; the future's callbacks run on the pool; callable from a
 *     worker, which may wait for it there;
 *   - saturation: 8 calls that sleep 300 ms on 2 blocking threads; never more
 *     than 2 run at once, all complete (after at least 4 x 300 ms), and
 *     meanwhile the workers run 10k tiny tasks long before the first call
 *     returns, and a gust_runtime_block from a worker returns at once;
 *   - independence: a short call completes while an earlier long one still
 *     runs; 64 calls of random length all complete, each callback once;
 *   - ownership: `destroy` runs once for the value, when the last reference
 *     goes (also for a future dropped before completion, and for a value that
 *     arrives after the future was cancelled);
 *   - shutdown: gust_runtime_free with one call running and more queued. What
 *     is asserted: free returns after the running call finished (its future
 *     has its value); no future is left pending: a queued call either ran
 *     (its future has its value, the function ran once) or did not run at
 *     all (its future holds an error); every completion callback registered
 *     before the free has run when it returns; values of futures dropped
 *     before the free are destroyed exactly once per call that ran
 *     (LeakSanitizer checks the rest under --config=asan);
 *   - options: no blocking threads, or idle hooks set, is EINVAL. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gust/err.h"
#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/runtime.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
enum { TINY_TASKS = 2000, MANY_CALLS = 32 };
#else
#define SANITIZED 0
enum { TINY_TASKS = 10000, MANY_CALLS = 64 };
#endif

#define MS 1000000ull

enum { WAIT_S = 10 };

/* ---- Helpers ------------------------------------------------------------ */

static int load_int(atomic_int *p)
{
    return atomic_load(p);
}

/* Waits until *p == want, for at most `seconds`. */
static void wait_int(atomic_int *p, int want, int seconds, const char *what)
{
    uint64_t end = gust_now_ns() + (uint64_t)seconds * 1000 * MS;
    while (load_int(p) != want) {
        if (gust_now_ns() > end) {
            fprintf(stderr, "%s: %d, not %d, after %d s\n", what, load_int(p), want, seconds);
            ASSERT_EQ(load_int(p), want);
        }
        sleep_ms(1);
    }
}

/* Waits (bounded) for `future` and checks it completed with `value`. */
static void expect_value(gust_future_t *future, void *value, const char *what)
{
    gust_future_state_t state = gust_future_wait_for(future, WAIT_S * 1000 * MS);
    if (state == GUST_FUTURE_PENDING)
        fprintf(stderr, "%s: still pending after %d s\n", what, WAIT_S);
    ASSERT_EQ(state, GUST_FUTURE_VALUE);
    ASSERT_PTR_EQ(gust_future_value(future), value);
    ASSERT_EQ(gust_future_error(future), GUST_OK);
}

/* A blocking function runs on no worker of any pool. */
static void check_off_worker(void)
{
    ASSERT_NULL(gust_pool_current());
    ASSERT_EQ(gust_worker_index(), -1);
    ASSERT_NULL(gust_runtime_current());
}

/* ---- Result ------------------------------------------------------------- */

static gust_runtime_t *rt;

static void *double_it(void *arg)
{
    check_off_worker();
    return (void *)(2 * (uintptr_t)arg);
}

static void on_done_in_pool(gust_future_t *future, void *arg)
{
    ASSERT_PTR_EQ(gust_pool_current(), gust_runtime_pool(rt));
    ASSERT_PTR_EQ(gust_runtime_current(), rt);
    ASSERT_EQ(gust_future_state(future), GUST_FUTURE_VALUE);
    ASSERT_EQ(sem_post(arg), 0);
}

static void block_from_worker(void *arg)
{
    ASSERT_PTR_EQ(gust_runtime_current(), rt);
    gust_future_t *f = gust_runtime_block(rt, double_it, (void *)5, NULL);
    ASSERT_NOT_NULL(f);
    /* Waiting on a worker helps meanwhile; the call runs elsewhere. */
    expect_value(f, (void *)10, "a blocking call waited for on a worker");
    gust_future_free(f);
    ASSERT_EQ(sem_post(arg), 0);
}

static void result_is_value(void)
{
    rt = new_runtime(2, 2);
    gust_future_t *f = gust_runtime_block(rt, double_it, (void *)21, NULL);
    ASSERT_NOT_NULL(f);
    expect_value(f, (void *)42, "double_it(21)");

    sem_t done;
    ASSERT_EQ(sem_init(&done, 0, 0), 0);
    ASSERT_EQ(gust_future_on_done(f, on_done_in_pool, &done), GUST_OK);
    wait_sem(&done, WAIT_S, "a callback on a completed blocking future");
    gust_future_free(f);

    /* A callback registered before completion. */
    f = gust_runtime_block(rt, double_it, (void *)50, NULL);
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(gust_future_on_done(f, on_done_in_pool, &done), GUST_OK);
    wait_sem(&done, WAIT_S, "a callback on a blocking future");
    expect_value(f, (void *)100, "double_it(50)");
    gust_future_free(f);

    ASSERT_TRUE(gust_pool_submit(gust_runtime_pool(rt), block_from_worker, &done));
    wait_sem(&done, WAIT_S, "a blocking call from a worker");
    ASSERT_EQ(sem_destroy(&done), 0);
    gust_runtime_free(rt);
    rt = NULL;
    printf("result: value delivered, callbacks on the pool, callable from a worker\n");
}

/* ---- Saturation --------------------------------------------------------- */

enum { SAT_THREADS = 2, SAT_CALLS = 8, SAT_SLEEP_MS = 300 };

static atomic_int sat_running, sat_max_running, sat_started;

static void *sleep_300ms(void *arg)
{
    check_off_worker();
    int running = atomic_fetch_add(&sat_running, 1) + 1;
    int max = atomic_load(&sat_max_running);
    while (running > max && !atomic_compare_exchange_weak(&sat_max_running, &max, running)) {
    }
    atomic_fetch_add(&sat_started, 1);
    sleep_ms(SAT_SLEEP_MS);
    atomic_fetch_sub(&sat_running, 1);
    return arg;
}

static void *identity(void *arg)
{
    return arg;
}

static atomic_int tiny_count;

static void tiny_task(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&tiny_count, 1, memory_order_relaxed);
}

typedef struct enqueue_s {
    gust_future_t *future;
    uint64_t call_ns;
    sem_t done;
} enqueue_t;

static void block_while_saturated(void *arg)
{
    enqueue_t *e = arg;
    uint64_t t0 = gust_now_ns();
    e->future = gust_runtime_block(rt, identity, (void *)99, NULL);
    e->call_ns = gust_now_ns() - t0;
    ASSERT_EQ(sem_post(&e->done), 0);
}

static void saturation(void)
{
    rt = new_runtime(2, SAT_THREADS);
    gust_pool_t *pool = gust_runtime_pool(rt);
    atomic_store(&sat_running, 0);
    atomic_store(&sat_max_running, 0);
    atomic_store(&sat_started, 0);
    atomic_store(&tiny_count, 0);

    uint64_t t0 = gust_now_ns();
    gust_future_t *calls[SAT_CALLS];
    for (uintptr_t i = 0; i < SAT_CALLS; i++) {
        calls[i] = gust_runtime_block(rt, sleep_300ms, (void *)(i + 1), NULL);
        ASSERT_NOT_NULL(calls[i]);
    }
    wait_int(&sat_started, SAT_THREADS, 5, "blocking calls started");

    /* A worker queues one more call; it must not wait for a thread. */
    enqueue_t e;
    ASSERT_EQ(sem_init(&e.done, 0, 0), 0);
    ASSERT_TRUE(gust_runtime_post(rt, 0, block_while_saturated, &e));
    wait_sem(&e.done, 5, "gust_runtime_block on a worker while saturated");
    ASSERT_NOT_NULL(e.future);
    ASSERT_ULT(e.call_ns, 50 * MS);

    uint64_t t1 = gust_now_ns();
    gust_group_t group;
    gust_group_init(&group, pool);
    for (int i = 0; i < TINY_TASKS; i++)
        ASSERT_TRUE(gust_group_spawn(&group, tiny_task, NULL));
    gust_group_wait(&group);
    uint64_t t2 = gust_now_ns();
    ASSERT_EQ(load_int(&tiny_count), TINY_TASKS);
    printf("saturation: %d tiny tasks took %.2f ms with both blocking threads asleep "
           "(%.1f ms into their %d ms); enqueueing from a worker took %.1f us\n",
           TINY_TASKS, (t2 - t1) / 1e6, (t2 - t0) / 1e6, SAT_SLEEP_MS, e.call_ns / 1e3);
    /* Well before the first call returns: the workers never waited for it. */
    ASSERT_ULT(t2 - t1, SAT_SLEEP_MS * MS * 2 / 3);
    for (int i = 0; i < SAT_CALLS; i++)
        ASSERT_EQ(gust_future_state(calls[i]), GUST_FUTURE_PENDING);
    ASSERT_EQ(load_int(&sat_started), SAT_THREADS);

    for (uintptr_t i = 0; i < SAT_CALLS; i++) {
        expect_value(calls[i], (void *)(i + 1), "a 300 ms blocking call");
        gust_future_free(calls[i]);
    }
    uint64_t t3 = gust_now_ns();
    expect_value(e.future, (void *)99, "the call queued from a worker");
    gust_future_free(e.future);
    ASSERT_EQ(sem_destroy(&e.done), 0);
    ASSERT_EQ(load_int(&sat_max_running), SAT_THREADS);
    ASSERT_EQ(load_int(&sat_started), SAT_CALLS);
    /* Two at a time: four rounds of sleeping. */
    ASSERT_UGE(t3 - t0, (uint64_t)SAT_CALLS / SAT_THREADS * SAT_SLEEP_MS * MS);
    printf("saturation: %d calls of %d ms on %d threads done in %.0f ms, at most %d at once\n",
           SAT_CALLS, SAT_SLEEP_MS, SAT_THREADS, (t3 - t0) / 1e6, load_int(&sat_max_running));
    gust_runtime_free(rt);
    rt = NULL;
}

/* ---- Independence ------------------------------------------------------- */

static sem_t gate;

static void *gated(void *arg)
{
    wait_sem(&gate, WAIT_S, "the gate of a blocking call");
    return arg;
}

typedef struct many_s {
    gust_future_t *futures[MANY_CALLS];
    atomic_int callbacks[MANY_CALLS];
    atomic_int finished; /* completion callbacks that took a position */
    atomic_int recorded; /* ... and wrote it: the last one posts all_done */
    int finish_order[MANY_CALLS];
    sem_t all_done;
} many_t;

static many_t many;

static void *random_sleep(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    struct timespec ts = {0, (long)((i * 7919u) % 4u) * 1000000L + (long)(i % 3) * 300000L};
    nanosleep(&ts, NULL);
    return (void *)(i + 1);
}

static void many_cb(gust_future_t *future, void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    ASSERT_PTR_EQ(future, many.futures[i]);
    ASSERT_PTR_EQ(gust_future_value(future), (void *)(i + 1));
    atomic_fetch_add(&many.callbacks[i], 1);
    int position = atomic_fetch_add(&many.finished, 1);
    many.finish_order[position] = (int)i;
    /* Seq_cst read-modify-writes: every callback's write above happens
     * before the last increment, which posts. */
    if (atomic_fetch_add(&many.recorded, 1) + 1 == MANY_CALLS)
        ASSERT_EQ(sem_post(&many.all_done), 0);
}

static void independence(void)
{
    rt = new_runtime(2, 2);
    ASSERT_EQ(sem_init(&gate, 0, 0), 0);
    gust_future_t *slow = gust_runtime_block(rt, gated, (void *)1, NULL);
    gust_future_t *fast = gust_runtime_block(rt, identity, (void *)2, NULL);
    ASSERT_NOT_NULL(slow);
    ASSERT_NOT_NULL(fast);
    expect_value(fast, (void *)2, "a quick call behind a blocked one");
    ASSERT_EQ(gust_future_state(slow), GUST_FUTURE_PENDING);
    ASSERT_EQ(sem_post(&gate), 0);
    expect_value(slow, (void *)1, "the blocked call, released");
    gust_future_free(slow);
    gust_future_free(fast);
    ASSERT_EQ(sem_destroy(&gate), 0);
    gust_runtime_free(rt);

    rt = new_runtime(2, 4);
    memset(&many, 0, sizeof(many));
    ASSERT_EQ(sem_init(&many.all_done, 0, 0), 0);
    for (uintptr_t i = 0; i < MANY_CALLS; i++) {
        many.futures[i] = gust_runtime_block(rt, random_sleep, (void *)i, NULL);
        ASSERT_NOT_NULL(many.futures[i]);
        ASSERT_EQ(gust_future_on_done(many.futures[i], many_cb, (void *)i), GUST_OK);
    }
    gust_future_t *all = gust_future_all(gust_runtime_pool(rt), many.futures, MANY_CALLS);
    ASSERT_NOT_NULL(all);
    ASSERT_EQ(gust_future_wait_for(all, WAIT_S * 1000 * MS), GUST_FUTURE_VALUE);
    wait_sem(&many.all_done, WAIT_S, "callbacks of the blocking calls");
    int out_of_order = 0;
    for (int i = 0; i < MANY_CALLS; i++) {
        expect_value(many.futures[i], (void *)(uintptr_t)(i + 1), "one of many calls");
        ASSERT_EQ(load_int(&many.callbacks[i]), 1);
        out_of_order += many.finish_order[i] != i;
    }
    gust_future_free(all);
    for (int i = 0; i < MANY_CALLS; i++)
        gust_future_free(many.futures[i]);
    ASSERT_EQ(sem_destroy(&many.all_done), 0);
    gust_runtime_free(rt);
    rt = NULL;
    printf("independence: a quick call finished past a blocked one; %d calls all completed, "
           "%d callbacks out of submission order\n",
           MANY_CALLS, out_of_order);
}

/* ---- Ownership of the value --------------------------------------------- */

enum { VALUE_MAGIC = 0x5ca1ab1e, FREED_MAGIC = 0xdeadbeef };

typedef struct value_s {
    uint32_t magic;
    uintptr_t id;
} value_t;

static atomic_int destroyed;

static void destroy_value(void *p)
{
    value_t *v = p;
    ASSERT_NOT_NULL(v);
    ASSERT_UEQ(v->magic, VALUE_MAGIC);
    v->magic = FREED_MAGIC;
    free(v);
    atomic_fetch_add(&destroyed, 1);
}

static void *make_value(void *arg)
{
    value_t *v = malloc(sizeof(*v));
    ASSERT_NOT_NULL(v);
    v->magic = VALUE_MAGIC;
    v->id = (uintptr_t)arg;
    return v;
}

static void *make_value_slowly(void *arg)
{
    sleep_ms(20);
    return make_value(arg);
}

static void *make_value_gated(void *arg)
{
    wait_sem(&gate, WAIT_S, "the gate of a blocking call");
    return make_value(arg);
}

static void destroy_on_free(void)
{
    rt = new_runtime(2, 2);
    atomic_store(&destroyed, 0);

    /* Two references: destroyed with the last. */
    gust_future_t *f = gust_runtime_block(rt, make_value, (void *)7, destroy_value);
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(gust_future_wait_for(f, WAIT_S * 1000 * MS), GUST_FUTURE_VALUE);
    value_t *v = gust_future_value(f);
    ASSERT_UEQ(v->magic, VALUE_MAGIC);
    ASSERT_UEQ(v->id, 7);
    ASSERT_EQ(load_int(&destroyed), 0);
    gust_future_up_ref(f);
    gust_future_free(f);
    sleep_ms(10);
    ASSERT_EQ(load_int(&destroyed), 0);
    ASSERT_UEQ(v->magic, VALUE_MAGIC);
    gust_future_free(f);
    /* The blocking thread may drop its own reference a moment later. */
    wait_int(&destroyed, 1, 5, "values destroyed after the last free");

    /* Dropped before the call returns: destroyed once it arrives. */
    f = gust_runtime_block(rt, make_value_slowly, (void *)8, destroy_value);
    ASSERT_NOT_NULL(f);
    gust_future_free(f);
    wait_int(&destroyed, 2, 5, "the value of a future dropped early");

    /* Cancelled before the call returns: the value has no owner but is still
     * destroyed, once. */
    ASSERT_EQ(sem_init(&gate, 0, 0), 0);
    f = gust_runtime_block(rt, make_value_gated, (void *)9, destroy_value);
    ASSERT_NOT_NULL(f);
    ASSERT_TRUE(gust_future_cancel(f));
    ASSERT_EQ(sem_post(&gate), 0);
    wait_int(&destroyed, 3, 5, "the value of a cancelled call");
    ASSERT_EQ(gust_future_state(f), GUST_FUTURE_CANCELLED);
    ASSERT_EQ(gust_future_error(f), GUST_ERR_CANCELLED);
    ASSERT_NULL(gust_future_value(f));
    gust_future_free(f);
    ASSERT_EQ(sem_destroy(&gate), 0);

    gust_runtime_free(rt);
    rt = NULL;
    sleep_ms(10);
    ASSERT_EQ(load_int(&destroyed), 3);
    printf("ownership: destroy ran once per value: last reference, dropped early, cancelled\n");
}

/* ---- Shutdown with calls queued ----------------------------------------- */

enum { QUEUED = 5, DROPPED = 3 };

static sem_t first_started;
static atomic_int runs[1 + QUEUED];
static atomic_int shutdown_callbacks;
static gust_pool_t *shutdown_pool;

static void *first_call(void *arg)
{
    atomic_fetch_add(&runs[0], 1);
    ASSERT_EQ(sem_post(&first_started), 0);
    sleep_ms(100);
    return arg;
}

static void *queued_call(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    atomic_fetch_add(&runs[i], 1);
    sleep_ms(20);
    return (void *)(i * 10);
}

static atomic_int dropped_runs;

static void *dropped_call(void *arg)
{
    atomic_fetch_add(&dropped_runs, 1);
    sleep_ms(5);
    return make_value(arg);
}

static void count_shutdown_callback(gust_future_t *future, void *arg)
{
    (void)arg;
    ASSERT_PTR_EQ(gust_pool_current(), shutdown_pool);
    ASSERT_NE(gust_future_state(future), GUST_FUTURE_PENDING);
    atomic_fetch_add(&shutdown_callbacks, 1);
}

static void free_with_calls_queued(void)
{
    rt = new_runtime(2, 1);
    shutdown_pool = gust_runtime_pool(rt);
    ASSERT_EQ(sem_init(&first_started, 0, 0), 0);
    atomic_store(&shutdown_callbacks, 0);
    atomic_store(&dropped_runs, 0);
    atomic_store(&destroyed, 0);
    for (int i = 0; i <= QUEUED; i++)
        atomic_store(&runs[i], 0);

    gust_future_t *futures[1 + QUEUED];
    futures[0] = gust_runtime_block(rt, first_call, (void *)1234, NULL);
    ASSERT_NOT_NULL(futures[0]);
    for (uintptr_t i = 1; i <= QUEUED; i++) {
        futures[i] = gust_runtime_block(rt, queued_call, (void *)i, NULL);
        ASSERT_NOT_NULL(futures[i]);
    }
    for (int i = 0; i <= QUEUED; i++)
        ASSERT_EQ(gust_future_on_done(futures[i], count_shutdown_callback, NULL), GUST_OK);
    /* Fire and forget: nobody holds these futures. */
    for (uintptr_t i = 0; i < DROPPED; i++) {
        gust_future_t *f = gust_runtime_block(rt, dropped_call, (void *)i, destroy_value);
        ASSERT_NOT_NULL(f);
        gust_future_free(f);
    }
    wait_sem(&first_started, WAIT_S, "the first blocking call");

    uint64_t t0 = gust_now_ns();
    gust_runtime_free(rt);
    uint64_t took = gust_now_ns() - t0;
    rt = NULL;

    ASSERT_EQ(gust_future_state(futures[0]), GUST_FUTURE_VALUE);
    ASSERT_PTR_EQ(gust_future_value(futures[0]), (void *)1234);
    ASSERT_EQ(load_int(&runs[0]), 1);
    int ran = 0;
    for (uintptr_t i = 1; i <= QUEUED; i++) {
        gust_future_state_t state = gust_future_state(futures[i]);
        if (state == GUST_FUTURE_PENDING)
            fprintf(stderr, "queued call %zu: its future is still pending after the free\n",
                    (size_t)i);
        ASSERT_NE(state, GUST_FUTURE_PENDING);
        if (state == GUST_FUTURE_VALUE) {
            ASSERT_PTR_EQ(gust_future_value(futures[i]), (void *)(i * 10));
            ASSERT_EQ(load_int(&runs[i]), 1);
            ran++;
        } else {
            ASSERT_EQ(load_int(&runs[i]), 0);
            ASSERT_NE(gust_future_error(futures[i]), GUST_OK);
        }
    }
    ASSERT_EQ(load_int(&shutdown_callbacks), 1 + QUEUED);
    ASSERT_EQ(load_int(&destroyed), load_int(&dropped_runs));
    for (int i = 0; i <= QUEUED; i++)
        gust_future_free(futures[i]);
    ASSERT_EQ(sem_destroy(&first_started), 0);
    printf("shutdown: gust_runtime_free took %.1f ms with 1 call running and %d queued; "
           "%d of the queued ran, %d fire-and-forget calls ran and their values were destroyed\n",
           took / 1e6, QUEUED + DROPPED, ran, load_int(&dropped_runs));
}

/* ---- Options ------------------------------------------------------------ */

static void never_park(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
    ASSERT_TRUE(!"a hook of refused options ran");
}

static void bad_options(void)
{
    gust_runtime_opts_t opts = gust_runtime_opts_default();
    ASSERT_UGE(opts.blocking_threads, 1);
    opts.pool.num_threads = 1;
    opts.blocking_threads = 0;
    errno = 0;
    ASSERT_NULL(gust_runtime_new(&opts));
    ASSERT_EQ(errno, EINVAL);

    opts = gust_runtime_opts_default();
    opts.pool.num_threads = 1;
    opts.pool.idle.park = never_park;
    opts.pool.idle.unpark = never_park;
    errno = 0;
    ASSERT_NULL(gust_runtime_new(&opts));
    ASSERT_EQ(errno, EINVAL);

    gust_runtime_free(NULL);
}

int main(void)
{
    /* Progress lines reach the log even if a check aborts later. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    bad_options();
    result_is_value();
    saturation();
    independence();
    destroy_on_free();
    free_with_calls_queued();
    return 0;
}
