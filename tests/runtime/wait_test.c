/* Waiting on a worker: a future or a group waited for on a worker costs no
 * CPU once there is nothing to help with (on a plain pool, parked on its
 * futex; on a runtime, in epoll_wait, also inside a task that the worker's
 * park runs), wakes when the wait is over, and
 * nests only as deep as the stack allows; a done wait buried under a newer
 * one is reported on stderr. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gust/future.h"
#include "gust/pool.h"
#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/wait.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* How long each wait lasts, and the most CPU its waiter may spend in it:
 * waiting by spinning or yielding would spend all of it. */
enum { WAIT_MS = 400, MAX_WAIT_CPU_MS = SANITIZED ? 100 : 40 };

static long thread_cpu_ms(void)
{
    struct timespec now;
    ASSERT_EQ(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now), 0);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A plain pool parks its workers on a futex, a runtime's in epoll_wait. */
typedef struct pools_s {
    gust_runtime_t *runtime; /* NULL for a plain pool */
    gust_pool_t *pool;
} pools_t;

static pools_t new_pools(bool runtime, unsigned num_threads)
{
    pools_t p = {0};
    if (runtime) {
        gust_runtime_opts_t opts = gust_runtime_opts_default();
        opts.pool.num_threads = num_threads;
        opts.blocking_threads = 1;
        p.runtime = gust_runtime_new(&opts);
        ASSERT_NOT_NULL(p.runtime);
        p.pool = gust_runtime_pool(p.runtime);
    } else {
        gust_pool_opts_t opts = gust_pool_opts_default();
        opts.num_threads = num_threads;
        p.pool = gust_pool_new(&opts);
        ASSERT_NOT_NULL(p.pool);
    }
    return p;
}

static void free_pools(pools_t *p)
{
    if (p->runtime != NULL)
        gust_runtime_free(p->runtime);
    else
        gust_pool_free(p->pool);
}

static const char *pool_kind(const pools_t *p)
{
    return p->runtime != NULL ? "runtime" : "pool";
}

/* ---- futures ---- */

typedef struct future_wait_s {
    gust_future_t *future;
    uint64_t timeout_ns; /* 0: gust_future_wait */
    gust_future_state_t state;
    long cpu_ms;
    long wall_ms;
    sem_t started;
    sem_t done;
} future_wait_t;

static void wait_for_future_task(void *arg)
{
    future_wait_t *w = arg;
    ASSERT_EQ(sem_post(&w->started), 0);
    long cpu = thread_cpu_ms();
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    w->state = w->timeout_ns == 0 ? gust_future_wait(w->future)
                                  : gust_future_wait_for(w->future, w->timeout_ns);
    w->wall_ms = elapsed_ms(&start);
    w->cpu_ms = thread_cpu_ms() - cpu;
    ASSERT_EQ(sem_post(&w->done), 0);
}

/* A task on `waiter_pool` waits for a future of `future_pool`, which the
 * main thread completes after WAIT_MS (or never, with a timeout). */
static void check_future_wait(gust_pool_t *waiter_pool, gust_pool_t *future_pool,
                              uint64_t timeout_ns, const char *what)
{
    future_wait_t w = {.future = gust_future_new(future_pool), .timeout_ns = timeout_ns};
    ASSERT_NOT_NULL(w.future);
    ASSERT_EQ(sem_init(&w.started, 0, 0), 0);
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    ASSERT_TRUE(gust_pool_submit(waiter_pool, wait_for_future_task, &w));
    wait_sem(&w.started, 10, what);
    if (timeout_ns == 0) {
        sleep_ms(WAIT_MS);
        ASSERT_TRUE(gust_future_set_value(w.future, (void *)7, NULL));
    }
    wait_sem(&w.done, 10, what);
    printf("%s: waited %ld ms, %ld ms of CPU\n", what, w.wall_ms, w.cpu_ms);
    if (timeout_ns == 0) {
        ASSERT_EQ(w.state, GUST_FUTURE_VALUE);
    } else {
        ASSERT_EQ(w.state, GUST_FUTURE_PENDING);
        ASSERT_GE(w.wall_ms, (long)(timeout_ns / 1000000));
        ASSERT_LT(w.wall_ms, (long)(timeout_ns / 1000000) + 2000);
    }
    ASSERT_LT(w.cpu_ms, MAX_WAIT_CPU_MS);
    gust_future_free(w.future);
}

static void future_waits_sleep(bool runtime)
{
    pools_t p = new_pools(runtime, 2);
    char what[64];
    snprintf(what, sizeof(what), "%s: wait", pool_kind(&p));
    check_future_wait(p.pool, p.pool, 0, what);
    snprintf(what, sizeof(what), "%s: wait_for", pool_kind(&p));
    check_future_wait(p.pool, p.pool, (uint64_t)WAIT_MS * 1000000u, what);

    /* A future of another pool cannot unpark this one's workers: the wait
     * looks again every millisecond, which still costs little. */
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 1;
    gust_pool_t *other = gust_pool_new(&opts);
    ASSERT_NOT_NULL(other);
    snprintf(what, sizeof(what), "%s: wait for another pool's future", pool_kind(&p));
    check_future_wait(p.pool, other, 0, what);
    gust_pool_free(other);
    free_pools(&p);
}

/* ---- groups ---- */

typedef struct group_wait_s {
    gust_group_t group;
    _Atomic(gust_group_t *) ready; /* the owner's group, once initialised */
    atomic_bool spawned;           /* the main thread spawned into it */
    atomic_bool child_running;
    atomic_bool child_done;
    long cpu_ms;
    long wall_ms;
    sem_t done;
} group_wait_t;

static void sleeping_child_task(void *arg)
{
    group_wait_t *w = arg;
    atomic_store(&w->child_running, true);
    sleep_ms(WAIT_MS);
    atomic_store(&w->child_done, true);
}

/* The owner: its group's only task runs on another thread, so the wait has
 * nothing of its own to run. */
static void group_owner_task(void *arg)
{
    group_wait_t *w = arg;
    gust_group_init(&w->group, gust_pool_current());
    atomic_store(&w->ready, &w->group);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(&w->child_running)) {
        ASSERT_LT(elapsed_ms(&start), 10000);
        sleep_ms(1);
    }
    long cpu = thread_cpu_ms();
    clock_gettime(CLOCK_MONOTONIC, &start);
    gust_group_wait(&w->group);
    w->wall_ms = elapsed_ms(&start);
    w->cpu_ms = thread_cpu_ms() - cpu;
    ASSERT_TRUE(atomic_load(&w->child_done));
    ASSERT_EQ(sem_post(&w->done), 0);
}

static void group_waits_sleep(bool runtime)
{
    pools_t p = new_pools(runtime, 2);
    group_wait_t w = {0};
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    ASSERT_TRUE(gust_pool_submit(p.pool, group_owner_task, &w));
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    gust_group_t *group;
    while ((group = atomic_load(&w.ready)) == NULL) {
        ASSERT_LT(elapsed_ms(&start), 10000);
        sleep_ms(1);
    }
    /* From outside the pool: the other worker takes it, since the owner is
     * not looking for work until the child runs. */
    ASSERT_TRUE(gust_group_spawn(group, sleeping_child_task, &w));
    wait_sem(&w.done, 10, "group wait");
    printf("%s: group wait %ld ms, %ld ms of CPU\n", pool_kind(&p), w.wall_ms, w.cpu_ms);
    ASSERT_GE(w.wall_ms, WAIT_MS / 2);
    ASSERT_LT(w.cpu_ms, MAX_WAIT_CPU_MS);
    free_pools(&p);
}

/* A task posted to a parked worker of a runtime runs inside the worker's
 * park (with its I/O); a wait there parks again, inside the first park. */
static void wait_in_a_posted_task(void)
{
    pools_t p = new_pools(true, 1);
    future_wait_t w = {.future = gust_future_new(p.pool)};
    ASSERT_NOT_NULL(w.future);
    ASSERT_EQ(sem_init(&w.started, 0, 0), 0);
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    sleep_ms(50); /* the worker parks */
    ASSERT_TRUE(gust_runtime_post(p.runtime, 0, wait_for_future_task, &w));
    wait_sem(&w.started, 10, "posted task");
    sleep_ms(WAIT_MS);
    ASSERT_TRUE(gust_future_set_value(w.future, (void *)7, NULL));
    wait_sem(&w.done, 10, "wait in a posted task");
    printf("runtime: wait in a posted task: %ld ms, %ld ms of CPU\n", w.wall_ms, w.cpu_ms);
    ASSERT_EQ(w.state, GUST_FUTURE_VALUE);
    ASSERT_LT(w.cpu_ms, MAX_WAIT_CPU_MS);
    gust_future_free(w.future);
    free_pools(&p);
}

/* ---- nesting ---- */

/* A chain of tasks, each submitting the next and then waiting for one
 * future that the main thread completes only once the chain stops growing.
 * Each wait runs the next task on its own stack; far more of them than a
 * stack holds must end in waiting, not in overflowing the stack. */
enum { CHAIN_LENGTH = SANITIZED ? 20000 : 200000 };

typedef struct chain_s {
    gust_future_t *release;
    atomic_int started;
    atomic_int finished;
    atomic_int depth;
    atomic_int max_depth;
} chain_t;

static chain_t chain;

static void chain_task(void *arg)
{
    intptr_t index = (intptr_t)arg;
    atomic_fetch_add(&chain.started, 1);
    int depth = atomic_fetch_add(&chain.depth, 1) + 1;
    int max = atomic_load(&chain.max_depth);
    while (depth > max && !atomic_compare_exchange_weak(&chain.max_depth, &max, depth)) {
    }
    if (index + 1 < CHAIN_LENGTH)
        ASSERT_TRUE(gust_pool_submit(gust_pool_current(), chain_task, (void *)(index + 1)));
    ASSERT_EQ(gust_future_wait(chain.release), GUST_FUTURE_VALUE);
    atomic_fetch_sub(&chain.depth, 1);
    atomic_fetch_add(&chain.finished, 1);
}

static void waits_nest_only_as_deep_as_the_stack_allows(void)
{
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer's own record of the call stack holds 65,536 frames,
     * far fewer than a worker's stack. */
    printf("chain: not under ThreadSanitizer\n");
    return;
#endif
    pools_t p = new_pools(false, 1);
    chain.release = gust_future_new(p.pool);
    ASSERT_NOT_NULL(chain.release);
    ASSERT_TRUE(gust_pool_submit(p.pool, chain_task, (void *)0));
    /* The chain grows until its waits stop running tasks. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int seen = -1;
    while (atomic_load(&chain.started) != seen) {
        seen = atomic_load(&chain.started);
        ASSERT_LT(elapsed_ms(&start), 30000);
        sleep_ms(200);
    }
    int nested = atomic_load(&chain.max_depth);
    printf("chain: %d of %d tasks nested before the waits stopped running tasks\n", nested,
           CHAIN_LENGTH);
    ASSERT_GT(nested, 100);
    ASSERT_LT(nested, CHAIN_LENGTH);
    ASSERT_TRUE(gust_future_set_value(chain.release, NULL, NULL));
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&chain.finished) != CHAIN_LENGTH) {
        ASSERT_LT(elapsed_ms(&start), 30000);
        sleep_ms(1);
    }
    gust_future_free(chain.release);
    free_pools(&p);
}

/* ---- a done wait that cannot return ---- */

/* On one worker: A submits B and waits for its own future, which B
 * completes; B then waits for a future that the main thread completes late.
 * A's wait ran B, so A is done but cannot return before B does: reported. */
typedef struct buried_s {
    gust_future_t *a_future;
    gust_future_t *b_future;
    sem_t a_done;
} buried_t;

static void buried_b_task(void *arg)
{
    buried_t *b = arg;
    ASSERT_TRUE(gust_future_set_value(b->a_future, NULL, NULL));
    ASSERT_EQ(gust_future_wait(b->b_future), GUST_FUTURE_VALUE);
}

static void buried_a_task(void *arg)
{
    buried_t *b = arg;
    ASSERT_TRUE(gust_pool_submit(gust_pool_current(), buried_b_task, b));
    ASSERT_EQ(gust_future_wait(b->a_future), GUST_FUTURE_VALUE);
    ASSERT_EQ(sem_post(&b->a_done), 0);
}

static void buried_wait_is_reported(bool runtime)
{
    pools_t p = new_pools(runtime, 1);
    buried_t b = {.a_future = gust_future_new(p.pool), .b_future = gust_future_new(p.pool)};
    ASSERT_EQ(sem_init(&b.a_done, 0, 0), 0);

    /* stderr into a file for the length of the case. */
    FILE *capture = tmpfile();
    ASSERT_NOT_NULL(capture);
    fflush(stderr);
    int saved_stderr = dup(2);
    ASSERT_GE(saved_stderr, 0);
    ASSERT_EQ(dup2(fileno(capture), 2), 2);

    ASSERT_TRUE(gust_pool_submit(p.pool, buried_a_task, &b));
    sleep_ms(2500);
    ASSERT_TRUE(gust_future_set_value(b.b_future, NULL, NULL));
    wait_sem(&b.a_done, 10, "buried wait");

    fflush(stderr);
    ASSERT_EQ(dup2(saved_stderr, 2), 2);
    close(saved_stderr);
    char report[512] = "";
    rewind(capture);
    size_t len = fread(report, 1, sizeof(report) - 1, capture);
    report[len] = '\0';
    fclose(capture);
    printf("%s: stderr: %s", pool_kind(&p), report);
    ASSERT_NOT_NULL(strstr(report, "gust: worker 0: a wait that is done has not returned for"));

    gust_future_free(b.a_future);
    gust_future_free(b.b_future);
    free_pools(&p);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    future_waits_sleep(false);
    future_waits_sleep(true);
    group_waits_sleep(false);
    group_waits_sleep(true);
    wait_in_a_posted_task();
    waits_nest_only_as_deep_as_the_stack_allows();
    buried_wait_is_reported(false);
    buried_wait_is_reported(true);
    return 0;
}
