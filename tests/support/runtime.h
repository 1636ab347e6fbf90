/* Helpers for tests that drive a gust runtime: making one, and running a
 * function on one of its workers (how tests reach a worker's reactor and
 * timers from the main thread). */
#ifndef GUST_TESTS_SUPPORT_RUNTIME_H
#define GUST_TESTS_SUPPORT_RUNTIME_H

#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/wait.h"

/* A runtime with `num_workers` workers and `blocking_threads` blocking
 * threads; failing to make one fails the test. */
static inline gust_runtime_t *new_runtime(unsigned num_workers, unsigned blocking_threads)
{
    gust_runtime_opts_t opts = gust_runtime_opts_default();
    opts.pool.num_threads = num_workers;
    opts.blocking_threads = blocking_threads;
    gust_runtime_t *runtime = gust_runtime_new(&opts);
    ASSERT_NOT_NULL(runtime);
    return runtime;
}

/* Seconds run_on waits before failing the test. */
enum { RUN_ON_WAIT_S = 10 };

typedef struct run_on_s {
    gust_runtime_t *runtime;
    gust_task_fn fn;
    void *arg;
    unsigned index;
    sem_t done;
} run_on_t;

static inline void run_on_task(void *arg)
{
    run_on_t *r = arg;
    ASSERT_PTR_EQ(gust_runtime_current(), r->runtime);
    ASSERT_EQ(gust_worker_index(), (int)r->index);
    r->fn(r->arg);
    ASSERT_EQ(sem_post(&r->done), 0);
}

/* Runs fn(arg) on worker `index` of `runtime`; returns once it has run. */
static inline void run_on(gust_runtime_t *runtime, unsigned index, gust_task_fn fn, void *arg,
                          const char *what)
{
    run_on_t r = {.runtime = runtime, .fn = fn, .arg = arg, .index = index};
    ASSERT_EQ(sem_init(&r.done, 0, 0), 0);
    ASSERT_TRUE(gust_runtime_post(runtime, index, run_on_task, &r));
    wait_sem(&r.done, RUN_ON_WAIT_S, what);
    ASSERT_EQ(sem_destroy(&r.done), 0);
}

#endif
