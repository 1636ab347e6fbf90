/* Waits on workers against the pool's parking: waits and helping that run
 * inside a worker's park, and wakeups that reach a waiter as it leaves its
 * wait. Each case is bounded in rounds and in time. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "gust/future.h"
#include "gust/pool.h"
#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/runtime.h"
#include "tests/support/wait.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- a wait inside the park ---- */

/* A task posted to a parked runtime worker runs inside its park (the
 * reactor dispatches its mailbox from epoll_wait), as do I/O callbacks and
 * timers. A wait there parks again: the worker must not be listed as a
 * sleeper twice. */
enum { PARK_NESTING_ROUNDS = 20 };

typedef struct posted_wait_s {
    gust_future_t *future;
    sem_t waiting; /* the posted task is about to wait */
    sem_t done;
} posted_wait_t;

static void posted_wait_task(void *arg)
{
    posted_wait_t *w = arg;
    ASSERT_EQ(sem_post(&w->waiting), 0);
    ASSERT_EQ(gust_future_wait(w->future), GUST_FUTURE_VALUE);
    ASSERT_EQ(sem_post(&w->done), 0);
}

static void post_sem_task(void *arg)
{
    ASSERT_EQ(sem_post(arg), 0);
}

static void wait_inside_park(unsigned num_workers)
{
    gust_runtime_t *runtime = new_runtime(num_workers, 1);
    gust_pool_t *pool = gust_runtime_pool(runtime);
    posted_wait_t w;
    ASSERT_EQ(sem_init(&w.waiting, 0, 0), 0);
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    sem_t ran;
    ASSERT_EQ(sem_init(&ran, 0, 0), 0);
    for (int round = 0; round < PARK_NESTING_ROUNDS; round++) {
        /* Every worker parks, then the post wakes one inside its park. */
        sleep_ms(5);
        w.future = gust_future_new(pool);
        ASSERT_NOT_NULL(w.future);
        unsigned index = (unsigned)round % num_workers;
        ASSERT_TRUE(gust_runtime_post(runtime, index, posted_wait_task, &w));
        wait_sem(&w.waiting, 10, "posted wait started");
        sleep_ms(5); /* its wait parks too */
        ASSERT_TRUE(gust_future_set_value(w.future, NULL, NULL));
        wait_sem(&w.done, 10, "posted wait returned");
        gust_future_free(w.future);
        /* New work still wakes a worker. */
        ASSERT_TRUE(gust_pool_submit(pool, post_sem_task, &ran));
        wait_sem(&ran, 10, "task submitted after the posted wait");
    }
    gust_runtime_free(runtime);
    printf("wait inside the park, %u workers: %d rounds\n", num_workers, PARK_NESTING_ROUNDS);
}

/* gust_pool_help from inside the park, while submissions from outside wake
 * workers: the helping worker is no sleeper then, so no waker writes its
 * search state meanwhile (ThreadSanitizer sees the race otherwise). */
enum { HELP_IN_PARK_TASKS = 2000 };

typedef struct help_in_park_s {
    atomic_bool stop;
    atomic_int ran;
    sem_t helping;
    sem_t done;
} help_in_park_t;

static void count_task(void *arg)
{
    help_in_park_t *h = arg;
    atomic_fetch_add(&h->ran, 1);
}

static void posted_help_task(void *arg)
{
    help_in_park_t *h = arg;
    ASSERT_EQ(sem_post(&h->helping), 0);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!atomic_load(&h->stop)) {
        ASSERT_LT(elapsed_ms(&start), 10000);
        if (!gust_pool_help())
            sleep_ms(0);
    }
    ASSERT_EQ(sem_post(&h->done), 0);
}

static void help_inside_park(void)
{
    gust_runtime_t *runtime = new_runtime(2, 1);
    gust_pool_t *pool = gust_runtime_pool(runtime);
    help_in_park_t h = {0};
    ASSERT_EQ(sem_init(&h.helping, 0, 0), 0);
    ASSERT_EQ(sem_init(&h.done, 0, 0), 0);
    sleep_ms(5);
    ASSERT_TRUE(gust_runtime_post(runtime, 0, posted_help_task, &h));
    wait_sem(&h.helping, 10, "posted help started");
    for (int i = 0; i < HELP_IN_PARK_TASKS; i++) {
        ASSERT_TRUE(gust_pool_submit(pool, count_task, &h));
        if (i % 64 == 0)
            sleep_ms(1); /* let the workers park again */
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&h.ran) != HELP_IN_PARK_TASKS) {
        ASSERT_LT(elapsed_ms(&start), 10000);
        sleep_ms(1);
    }
    atomic_store(&h.stop, true);
    wait_sem(&h.done, 10, "posted help returned");
    gust_runtime_free(runtime);
    printf("help inside the park: %d tasks submitted meanwhile ran\n", HELP_IN_PARK_TASKS);
}

/* ---- a wakeup that reaches a waiter as its wait ends ---- */

/* Two workers, both parked: one in a wait. A submission wakes the waiter to
 * look for it, and at once the waiter's future completes; the waiter leaves
 * its wait and runs on without searching. The submitted task must still run
 * soon, on the other worker, while the waiter's task goes on. */
enum { HANDOFF_ROUNDS = 10, HANDOFF_LIMIT_MS = 300 };

typedef struct handoff_s {
    gust_future_t *future;
    atomic_bool submitted_ran;
    long ran_after_ms; /* after the wait returned; -1: not within the limit */
    sem_t waiting;
    sem_t done;
} handoff_t;

static void handoff_submitted_task(void *arg)
{
    handoff_t *h = arg;
    atomic_store(&h->submitted_ran, true);
}

static void handoff_waiter_task(void *arg)
{
    handoff_t *h = arg;
    /* Let the other worker park first, so that this one is the most recent
     * sleeper, the one a submission wakes. */
    sleep_ms(20);
    ASSERT_EQ(sem_post(&h->waiting), 0);
    ASSERT_EQ(gust_future_wait(h->future), GUST_FUTURE_VALUE);
    /* Busy, not helping: only another worker can run the submitted task. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    h->ran_after_ms = -1;
    while (elapsed_ms(&start) < HANDOFF_LIMIT_MS) {
        if (atomic_load(&h->submitted_ran)) {
            h->ran_after_ms = elapsed_ms(&start);
            break;
        }
        sleep_ms(1);
    }
    ASSERT_EQ(sem_post(&h->done), 0);
}

static void wakeup_reaches_other_worker_when_wait_ends(bool runtime)
{
    gust_runtime_t *rt = NULL;
    gust_pool_t *pool;
    if (runtime) {
        rt = new_runtime(2, 1);
        pool = gust_runtime_pool(rt);
    } else {
        gust_pool_opts_t opts = gust_pool_opts_default();
        opts.num_threads = 2;
        pool = gust_pool_new(&opts);
        ASSERT_NOT_NULL(pool);
    }
    handoff_t h;
    ASSERT_EQ(sem_init(&h.waiting, 0, 0), 0);
    ASSERT_EQ(sem_init(&h.done, 0, 0), 0);
    int late = 0;
    for (int round = 0; round < HANDOFF_ROUNDS; round++) {
        sleep_ms(5);
        h.future = gust_future_new(pool);
        ASSERT_NOT_NULL(h.future);
        atomic_store(&h.submitted_ran, false);
        ASSERT_TRUE(gust_pool_submit(pool, handoff_waiter_task, &h));
        wait_sem(&h.waiting, 10, "handoff waiter started");
        sleep_ms(10); /* the wait parks */
        ASSERT_TRUE(gust_pool_submit(pool, handoff_submitted_task, &h));
        ASSERT_TRUE(gust_future_set_value(h.future, NULL, NULL));
        wait_sem(&h.done, 10, "handoff waiter done");
        if (h.ran_after_ms < 0)
            late++;
        gust_future_free(h.future);
    }
    printf("%s: a submission waking a waiter as its wait ends: %d of %d rounds ran it late\n",
           runtime ? "runtime" : "pool", late, HANDOFF_ROUNDS);
    ASSERT_EQ(late, 0);
    if (runtime)
        gust_runtime_free(rt);
    else
        gust_pool_free(pool);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    wait_inside_park(1);
    wait_inside_park(2);
    help_inside_park();
    wakeup_reaches_other_worker_when_wait_ends(false);
    wakeup_reaches_other_worker_when_wait_ends(true);
    return 0;
}
