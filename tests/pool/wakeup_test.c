/* No wakeup is lost: an outside thread submits one task to an idle pool and
 * waits (5 s at most) for the task to post a semaphore, 100k times (10k under
 * a sanitizer). The gap between rounds varies so that submissions land while
 * workers spin, while they are on their way to park, and once they sleep. A
 * lost wakeup leaves the task queued with no worker looking for it, and the
 * round times out.
 *
 * Variants: default options; no spinning at all; two outside threads at once;
 * one worker kept busy (the wake must reach the other); and idle hooks of the
 * test's own (an eventfd per worker), which must be used and lose nothing. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gust/pool.h"
#include "tests/support/check.h"
#include "tests/support/rng.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define ROUNDS 10000u
#else
#define ROUNDS 100000u
#endif

#define ROUND_TIMEOUT_S 5

static uint64_t now_ns(void)
{
    struct timespec ts;
    ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits for `sem` until ROUND_TIMEOUT_S from now; false on timeout. */
static bool sem_wait_bounded(sem_t *sem)
{
    struct timespec deadline;
    ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &deadline), 0);
    deadline.tv_sec += ROUND_TIMEOUT_S;
    for (;;) {
        if (sem_clockwait(sem, CLOCK_MONOTONIC, &deadline) == 0)
            return true;
        if (errno == ETIMEDOUT)
            return false;
        ASSERT_EQ(errno, EINTR);
    }
}

static void post_task(void *arg)
{
    ASSERT_EQ(sem_post(arg), 0);
}

/* Leaves a gap before the next submission: none, a yield, a short spin, or
 * (1 in 16) a sleep long enough for the workers to park. */
static void random_gap(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    switch (r % 16) {
    case 0: {
        struct timespec ts = {0, 50000 + (long)((r >> 8) % 100000)};
        nanosleep(&ts, NULL);
        break;
    }
    case 1:
    case 2:
    case 3:
        sched_yield();
        break;
    case 4:
    case 5:
    case 6:
    case 7: {
        uint64_t end = now_ns() + (r >> 8) % 20000;
        while (now_ns() < end) {
        }
        break;
    }
    default:
        break;
    }
}

typedef struct {
    gust_pool_t *pool;
    const char *what;
    unsigned rounds;
    uint64_t seed;
    pthread_t thread;
} trips_t;

static void *round_trips(void *arg)
{
    trips_t *t = arg;
    sem_t done;
    ASSERT_EQ(sem_init(&done, 0, 0), 0);
    uint64_t rng = t->seed;
    for (unsigned i = 0; i < t->rounds; i++) {
        random_gap(&rng);
        ASSERT_TRUE(gust_pool_submit(t->pool, post_task, &done));
        if (!sem_wait_bounded(&done)) {
            fprintf(stderr,
                    "%s: round %u of %u: the task did not run within %d s: a wakeup was lost\n",
                    t->what, i + 1, t->rounds, ROUND_TIMEOUT_S);
            ASSERT_TRUE(!"wakeup lost");
        }
    }
    ASSERT_EQ(sem_destroy(&done), 0);
    return NULL;
}

static void run_round_trips(gust_pool_t *pool, const char *what, unsigned rounds,
                            unsigned num_threads)
{
    uint64_t start = now_ns();
    trips_t trips[4];
    ASSERT_ULE(num_threads, 4);
    for (unsigned i = 0; i < num_threads; i++) {
        trips[i] = (trips_t){
            .pool = pool, .what = what, .rounds = rounds / num_threads, .seed = 0x1234567ull + i};
        ASSERT_EQ(pthread_create(&trips[i].thread, NULL, round_trips, &trips[i]), 0);
    }
    for (unsigned i = 0; i < num_threads; i++)
        ASSERT_EQ(pthread_join(trips[i].thread, NULL), 0);
    printf("%s: %u round trips in %.2f s\n", what, rounds, (now_ns() - start) / 1e9);
}

static gust_pool_t *new_pool(const gust_pool_opts_t *opts)
{
    gust_pool_t *pool = gust_pool_new(opts);
    ASSERT_NOT_NULL(pool);
    return pool;
}

static void default_options(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    gust_pool_t *pool = new_pool(&opts);
    run_round_trips(pool, "default options", ROUNDS, 1);
    gust_pool_free(pool);
}

/* No spinning: every idle moment goes straight to parking. */
static void no_spinning(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    opts.spin_rounds = 0;
    gust_pool_t *pool = new_pool(&opts);
    run_round_trips(pool, "spin_rounds 0", ROUNDS / 4, 1);
    gust_pool_free(pool);
}

static void two_outside_threads(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    opts.spin_rounds = 0;
    gust_pool_t *pool = new_pool(&opts);
    run_round_trips(pool, "two outside threads", ROUNDS / 2, 2);
    gust_pool_free(pool);
}

/* One worker runs a task that blocks until the end; the wake for each
 * submission must reach the other, parked, worker. */
static void blocker_task(void *arg)
{
    ASSERT_EQ(sem_post(&((sem_t *)arg)[0]), 0);
    while (sem_wait(&((sem_t *)arg)[1]) != 0)
        ASSERT_EQ(errno, EINTR);
}

static void one_worker_busy(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    gust_pool_t *pool = new_pool(&opts);
    sem_t blocker[2]; /* [0]: it started; [1]: it may return */
    ASSERT_EQ(sem_init(&blocker[0], 0, 0), 0);
    ASSERT_EQ(sem_init(&blocker[1], 0, 0), 0);
    /* Both workers park first, so that the blocker is taken by a worker
     * that a submission woke. */
    struct timespec settle = {0, 50000000};
    nanosleep(&settle, NULL);
    ASSERT_TRUE(gust_pool_submit(pool, blocker_task, blocker));
    ASSERT_TRUE(sem_wait_bounded(&blocker[0]));
    run_round_trips(pool, "one worker busy", ROUNDS / 20, 1);
    ASSERT_EQ(sem_post(&blocker[1]), 0);
    gust_pool_free(pool);
    sem_destroy(&blocker[0]);
    sem_destroy(&blocker[1]);
}

/* Idle hooks of the test's own: an eventfd per worker. Its counter keeps an
 * unpark that comes before park, so the next park returns at once. */
enum { HOOK_THREADS = 2 };

typedef struct {
    int fds[HOOK_THREADS];
    atomic_long polls, parks, unparks;
} hooks_t;

static bool hook_poll(void *arg, unsigned index)
{
    hooks_t *h = arg;
    ASSERT_ULT(index, HOOK_THREADS);
    ASSERT_EQ(gust_worker_index(), (int)index);
    atomic_fetch_add_explicit(&h->polls, 1, memory_order_relaxed);
    return false;
}

static void hook_park(void *arg, unsigned index)
{
    hooks_t *h = arg;
    ASSERT_ULT(index, HOOK_THREADS);
    ASSERT_EQ(gust_worker_index(), (int)index);
    atomic_fetch_add_explicit(&h->parks, 1, memory_order_relaxed);
    uint64_t value;
    while (read(h->fds[index], &value, sizeof(value)) != (ssize_t)sizeof(value))
        ASSERT_EQ(errno, EINTR);
}

static void hook_unpark(void *arg, unsigned index)
{
    hooks_t *h = arg;
    ASSERT_ULT(index, HOOK_THREADS);
    atomic_fetch_add_explicit(&h->unparks, 1, memory_order_relaxed);
    uint64_t one = 1;
    ASSERT_EQ(write(h->fds[index], &one, sizeof(one)), (ssize_t)sizeof(one));
}

static void custom_idle_hooks(void)
{
    static hooks_t h;
    for (int i = 0; i < HOOK_THREADS; i++) {
        h.fds[i] = eventfd(0, EFD_CLOEXEC);
        ASSERT_GE(h.fds[i], 0);
    }
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = HOOK_THREADS;
    opts.idle.poll = hook_poll;
    opts.idle.park = hook_park;
    opts.idle.unpark = hook_unpark;
    opts.idle.arg = &h;
    gust_pool_t *pool = new_pool(&opts);
    run_round_trips(pool, "custom idle hooks", ROUNDS / 4, 1);
    gust_pool_free(pool);
    long polls = atomic_load(&h.polls), parks = atomic_load(&h.parks),
         unparks = atomic_load(&h.unparks);
    printf("custom idle hooks: %ld polls, %ld parks, %ld unparks\n", polls, parks, unparks);
    /* Workers ran out of tasks and slept through the hooks, and were woken
     * through them. */
    ASSERT_GT(polls, 0);
    ASSERT_GT(parks, 0);
    ASSERT_GT(unparks, 0);
    for (int i = 0; i < HOOK_THREADS; i++)
        ASSERT_EQ(close(h.fds[i]), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    default_options();
    no_spinning();
    two_outside_threads();
    one_worker_busy();
    custom_idle_hooks();
    return 0;
}
