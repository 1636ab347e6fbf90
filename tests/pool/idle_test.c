/* An idle pool uses no CPU: after some work, a pool of two workers left
 * alone for one second spends under 5 ms of CPU on its threads (the spin
 * before parking included). Measured twice: after a burst of tasks, and after
 * a run of single submissions that wake the workers one task at a time.
 *
 * CPU time is read per worker thread through pthread_getcpuclockid on the
 * pthread_t each worker records in on_thread_start, and for the whole process
 * with getrusage. Under a sanitizer the limit is 25 ms, not 5 ms:
 * instrumentation makes the spin before parking several times slower, and
 * ThreadSanitizer runs a background thread of its own (so the process-wide
 * figure is not checked there). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "gust/pool.h"
#include "tests/support/check.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#define MAX_IDLE_CPU_NS 25000000u
#else
#define SANITIZED 0
#define MAX_IDLE_CPU_NS 5000000u
#endif

enum { NUM_THREADS = 2 };

typedef struct {
    pthread_t threads[NUM_THREADS];
    /* Release by each worker after it stored its pthread_t; acquire by the
     * main thread before reading them. */
    atomic_int started;
} workers_t;

/* Atomic loads for checks: a function, not the <stdatomic.h> macro, so that a
 * failed check prints a readable expression. */
static long load_long(atomic_long *p)
{
    return atomic_load(p);
}

static long long load_llong(atomic_llong *p)
{
    return atomic_load(p);
}

static int load_int(atomic_int *p)
{
    return atomic_load(p);
}

static void on_start(void *arg, unsigned index)
{
    workers_t *w = arg;
    ASSERT_ULT(index, NUM_THREADS);
    w->threads[index] = pthread_self();
    atomic_fetch_add_explicit(&w->started, 1, memory_order_release);
}

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* CPU time used so far by all the workers. */
static uint64_t workers_cpu_ns(const workers_t *w)
{
    uint64_t total = 0;
    for (int i = 0; i < NUM_THREADS; i++) {
        clockid_t clock;
        ASSERT_EQ(pthread_getcpuclockid(w->threads[i], &clock), 0);
        struct timespec ts;
        ASSERT_EQ(clock_gettime(clock, &ts), 0);
        total += ts_ns(&ts);
    }
    return total;
}

static uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void sleep_1s(void)
{
    struct timespec ts = {1, 0};
    while (nanosleep(&ts, &ts) != 0)
        ASSERT_EQ(errno, EINTR);
}

/* Sleeps one second and checks what the pool's threads spent meanwhile. */
static void check_idle_second(const workers_t *w, const char *after)
{
    uint64_t workers_before = workers_cpu_ns(w);
    uint64_t process_before = process_cpu_ns();
    sleep_1s();
    uint64_t workers_ns = workers_cpu_ns(w) - workers_before;
    uint64_t process_ns = process_cpu_ns() - process_before;
    printf("idle 1 s after %s: workers used %.3f ms of CPU, the process %.3f ms (limit %.1f ms)\n",
           after, workers_ns / 1e6, process_ns / 1e6, MAX_IDLE_CPU_NS / 1e6);
    ASSERT_ULT(workers_ns, MAX_IDLE_CPU_NS);
#if !SANITIZED
    /* No other thread of the pool's (a timer, a monitor) busy meanwhile; the
     * main thread's own wake-up is in the allowance. */
    ASSERT_ULT(process_ns, MAX_IDLE_CPU_NS + 1000000u);
#endif
}

static void count_task(void *arg)
{
    atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed);
}

static void sum_body(void *arg, int64_t lo, int64_t hi)
{
    int64_t sum = 0;
    for (int64_t i = lo; i < hi; i++)
        sum += i;
    atomic_fetch_add_explicit((atomic_llong *)arg, sum, memory_order_relaxed);
}

static void post_task(void *arg)
{
    ASSERT_EQ(sem_post(arg), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    static workers_t w;
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = NUM_THREADS;
    opts.on_thread_start = on_start;
    opts.hook_arg = &w;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);

    /* Warm-up: a burst of tasks and a parallel_for, so that both workers
     * have run and the pool is past any start-up work. */
    atomic_long ran = 0;
    gust_group_t group;
    gust_group_init(&group, pool);
    for (int i = 0; i < 10000; i++)
        ASSERT_TRUE(gust_group_spawn(&group, count_task, &ran));
    gust_group_wait(&group);
    ASSERT_EQ(load_long(&ran), 10000);
    atomic_llong sum = 0;
    ASSERT_TRUE(gust_parallel_for(pool, 0, 1000000, 1000, sum_body, &sum));
    ASSERT_EQ(load_llong(&sum), 1000000ll * 999999 / 2);
    /* A worker that ran no task may still be on its way through
     * on_thread_start: wait (10 s at most) until both have recorded their
     * thread. */
    for (int i = 0; i < 10000; i++) {
        if (atomic_load_explicit(&w.started, memory_order_acquire) == NUM_THREADS)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(load_int(&w.started), NUM_THREADS);
    check_idle_second(&w, "a burst of tasks");

    /* Single submissions, each waking a worker, then idle again. */
    sem_t done;
    ASSERT_EQ(sem_init(&done, 0, 0), 0);
    for (int i = 0; i < 1000; i++) {
        ASSERT_TRUE(gust_pool_submit(pool, post_task, &done));
        while (sem_wait(&done) != 0)
            ASSERT_EQ(errno, EINTR);
    }
    check_idle_second(&w, "single wake-ups");
    sem_destroy(&done);

    gust_pool_free(pool);
    return 0;
}
