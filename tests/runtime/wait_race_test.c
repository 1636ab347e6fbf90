/* Waits on workers against the pool's parking: waits and helping that run
 * inside a worker's park, wakeups that reach a waiter as it leaves its
 * wait, and stress of waits against completions from every side: groups
 * whose tasks are stolen, or spawned from outside, while the owner sleeps;
 * futures completed from outside threads and from other workers at random
 * moments, waited for with and without deadlines, nested. Each case is
 * bounded in rounds and in time. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "gust/future.h"
#include "gust/pool.h"
#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/rng.h"
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

/* ---- stress ---- */

/* A plain pool (parked on the futex) or a runtime (parked in epoll_wait). */
typedef struct stress_pool_s {
    gust_runtime_t *runtime;
    gust_pool_t *pool;
} stress_pool_t;

static stress_pool_t new_stress_pool(bool runtime, unsigned num_workers)
{
    stress_pool_t p = {0};
    if (runtime) {
        p.runtime = new_runtime(num_workers, 1);
        p.pool = gust_runtime_pool(p.runtime);
    } else {
        gust_pool_opts_t opts = gust_pool_opts_default();
        opts.num_threads = num_workers;
        p.pool = gust_pool_new(&opts);
        ASSERT_NOT_NULL(p.pool);
    }
    return p;
}

static void free_stress_pool(stress_pool_t *p)
{
    if (p->runtime != NULL)
        gust_runtime_free(p->runtime);
    else
        gust_pool_free(p->pool);
}

static void spin_us(unsigned us)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000 <
             (long)us);
}

/* Groups: each owner task reuses one group for many rounds. In even rounds
 * it spawns the children itself and they are stolen or run back; in odd
 * rounds a thread outside the pool spawns them (injected, so taken by any
 * worker, the owner's wait included) while the owner blocks, so the wait
 * mostly finds nothing to run and sleeps. Some children spawn a grandchild
 * into the group from whichever worker runs them, so both counts drift. */
enum {
    GROUP_OWNERS = 3,
    GROUP_ROUNDS = SANITIZED ? 150 : 300,
    GROUP_CHILDREN = 6,
    GROUP_TASKS_MAX = 2 * GROUP_CHILDREN,
};

typedef struct group_owner_s group_owner_t;

typedef struct group_child_s {
    group_owner_t *owner;
    unsigned spin_us;
    bool spawn_grandchild;
} group_child_t;

struct group_owner_s {
    gust_group_t group;
    group_child_t children[GROUP_TASKS_MAX];
    atomic_int finished; /* tasks of this round done */
    atomic_int spawned;  /* tasks of this round spawned */
    uint64_t rng;
    sem_t spawn_request; /* to the outside spawner: spawn this round's children */
    sem_t spawn_done;
    atomic_bool exit;
    pthread_t spawner;
    sem_t done;
};

static void group_child_task(void *arg)
{
    group_child_t *child = arg;
    group_owner_t *owner = child->owner;
    spin_us(child->spin_us);
    if (child->spawn_grandchild) {
        int index = atomic_fetch_add(&owner->spawned, 1);
        ASSERT_LT(index, GROUP_TASKS_MAX);
        owner->children[index] = (group_child_t){.owner = owner, .spin_us = child->spin_us / 2};
        ASSERT_TRUE(gust_group_spawn(&owner->group, group_child_task, &owner->children[index]));
    }
    atomic_fetch_add(&owner->finished, 1);
}

/* Fills this round's children (spin times, grandchildren) from the rng. */
static void plan_children(group_owner_t *owner)
{
    for (int i = 0; i < GROUP_CHILDREN; i++) {
        uint64_t r = rng_next(&owner->rng);
        owner->children[i] = (group_child_t){
            .owner = owner,
            .spin_us = (unsigned)(r % 200),
            .spawn_grandchild = (r >> 32) % 2 == 0,
        };
    }
    atomic_store(&owner->spawned, GROUP_CHILDREN);
    atomic_store(&owner->finished, 0);
}

static void spawn_children(group_owner_t *owner)
{
    for (int i = 0; i < GROUP_CHILDREN; i++)
        ASSERT_TRUE(gust_group_spawn(&owner->group, group_child_task, &owner->children[i]));
}

static void *group_spawner_thread(void *arg)
{
    group_owner_t *owner = arg;
    for (;;) {
        wait_sem(&owner->spawn_request, 60, "spawn request");
        if (atomic_load(&owner->exit))
            return NULL;
        spawn_children(owner);
        ASSERT_EQ(sem_post(&owner->spawn_done), 0);
    }
}

static void group_owner_task(void *arg)
{
    group_owner_t *owner = arg;
    for (int round = 0; round < GROUP_ROUNDS; round++) {
        /* Reused as it was left, or initialised again: both are allowed. */
        if (round % 4 < 2)
            gust_group_init(&owner->group, gust_pool_current());
        plan_children(owner);
        if (round % 2 == 0) {
            spawn_children(owner);
        } else {
            ASSERT_EQ(sem_post(&owner->spawn_request), 0);
            wait_sem(&owner->spawn_done, 30, "outside spawns");
        }
        gust_group_wait(&owner->group);
        /* Every task counted in the group has finished: the last one's
         * count is the finishing step, so nothing may still be running. */
        ASSERT_EQ(atomic_load(&owner->finished), atomic_load(&owner->spawned));
    }
    ASSERT_EQ(sem_post(&owner->done), 0);
}

static void group_stress(bool runtime)
{
    stress_pool_t p = new_stress_pool(runtime, 3);
    static group_owner_t owners[GROUP_OWNERS];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < GROUP_OWNERS; i++) {
        group_owner_t *owner = &owners[i];
        *owner = (group_owner_t){.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        ASSERT_EQ(sem_init(&owner->spawn_request, 0, 0), 0);
        ASSERT_EQ(sem_init(&owner->spawn_done, 0, 0), 0);
        ASSERT_EQ(sem_init(&owner->done, 0, 0), 0);
        ASSERT_EQ(pthread_create(&owner->spawner, NULL, group_spawner_thread, owner), 0);
        ASSERT_TRUE(gust_pool_submit(p.pool, group_owner_task, owner));
    }
    for (int i = 0; i < GROUP_OWNERS; i++) {
        group_owner_t *owner = &owners[i];
        wait_sem(&owner->done, 20, "group owner");
        atomic_store(&owner->exit, true);
        ASSERT_EQ(sem_post(&owner->spawn_request), 0);
        ASSERT_EQ(pthread_join(owner->spawner, NULL), 0);
    }
    free_stress_pool(&p);
    printf("%s: %d owners x %d group rounds in %ld ms\n", runtime ? "runtime" : "pool",
           GROUP_OWNERS, GROUP_ROUNDS, elapsed_ms(&start));
}

/* Futures: each waiter is a chain of tasks, one per round, each making a
 * future and waiting for it: plainly, with a deadline (then, if it passed,
 * plainly after all), or completed by a task it spawned that another
 * worker may steal. Outside threads complete the others after a random
 * pause. More waiters than workers, so waits run other waiters' rounds
 * and nest. */
enum {
    FUTURE_WAITERS = 6,
    FUTURE_ROUNDS = SANITIZED ? 200 : 400,
    FUTURE_COMPLETERS = 2,
};

typedef struct future_stress_s future_stress_t;

typedef struct future_waiter_s {
    future_stress_t *stress;
    int round;
    uint64_t rng;
    gust_future_t *future;
    unsigned completer_spin_us;
} future_waiter_t;

struct future_stress_s {
    gust_pool_t *pool;
    future_waiter_t waiters[FUTURE_WAITERS];
    /* Futures handed to the outside completers, one slot per waiter. */
    _Atomic(gust_future_t *) to_complete[FUTURE_WAITERS];
    atomic_bool exit;
    atomic_int timed_out;
    sem_t done;
};

static void complete_after_spin_task(void *arg)
{
    future_waiter_t *w = arg;
    spin_us(w->completer_spin_us);
    ASSERT_TRUE(gust_future_set_value(w->future, NULL, NULL));
}

static void future_waiter_task(void *arg)
{
    future_waiter_t *w = arg;
    future_stress_t *stress = w->stress;
    uint64_t r = rng_next(&w->rng);
    w->future = gust_future_new(stress->pool);
    ASSERT_NOT_NULL(w->future);
    w->completer_spin_us = (unsigned)(r % 300);
    int mode = (int)((r >> 16) % 3);
    if (mode == 2) {
        ASSERT_TRUE(gust_pool_submit(stress->pool, complete_after_spin_task, w));
    } else {
        /* The completer drops this reference. */
        gust_future_up_ref(w->future);
        size_t index = (size_t)(w - stress->waiters);
        atomic_store(&stress->to_complete[index], w->future);
    }
    if (mode == 1) {
        uint64_t timeout_ns = (r >> 32) % 400000;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        if (gust_future_wait_for(w->future, timeout_ns) == GUST_FUTURE_PENDING) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t waited_ns = (uint64_t)(now.tv_sec - start.tv_sec) * 1000000000u +
                                 (uint64_t)now.tv_nsec - (uint64_t)start.tv_nsec;
            ASSERT_UGE(waited_ns, timeout_ns);
            atomic_fetch_add(&stress->timed_out, 1);
        }
    }
    ASSERT_EQ(gust_future_wait(w->future), GUST_FUTURE_VALUE);
    gust_future_free(w->future);
    if (++w->round < FUTURE_ROUNDS)
        ASSERT_TRUE(gust_pool_submit(stress->pool, future_waiter_task, w));
    else
        ASSERT_EQ(sem_post(&stress->done), 0);
}

static void *future_completer_thread(void *arg)
{
    future_stress_t *stress = arg;
    uint64_t rng = (uint64_t)(uintptr_t)&rng | 1;
    while (!atomic_load(&stress->exit)) {
        bool any = false;
        for (int i = 0; i < FUTURE_WAITERS; i++) {
            gust_future_t *future = atomic_exchange(&stress->to_complete[i], NULL);
            if (future == NULL)
                continue;
            any = true;
            spin_us((unsigned)(rng_next(&rng) % 200));
            ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
            gust_future_free(future);
        }
        if (!any)
            sleep_ms(0);
    }
    return NULL;
}

static void future_stress(bool runtime)
{
    stress_pool_t p = new_stress_pool(runtime, 2);
    static future_stress_t stress;
    stress = (future_stress_t){.pool = p.pool};
    ASSERT_EQ(sem_init(&stress.done, 0, 0), 0);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_t completers[FUTURE_COMPLETERS];
    for (int i = 0; i < FUTURE_COMPLETERS; i++)
        ASSERT_EQ(pthread_create(&completers[i], NULL, future_completer_thread, &stress), 0);
    for (int i = 0; i < FUTURE_WAITERS; i++) {
        stress.waiters[i] = (future_waiter_t){
            .stress = &stress,
            .rng = 0x2545f4914f6cdd1dull * (uint64_t)(i + 1),
        };
        ASSERT_TRUE(gust_pool_submit(p.pool, future_waiter_task, &stress.waiters[i]));
    }
    for (int i = 0; i < FUTURE_WAITERS; i++)
        wait_sem(&stress.done, 20, "future waiters");
    atomic_store(&stress.exit, true);
    for (int i = 0; i < FUTURE_COMPLETERS; i++)
        ASSERT_EQ(pthread_join(completers[i], NULL), 0);
    free_stress_pool(&p);
    printf("%s: %d waiters x %d future rounds (%d deadlines passed) in %ld ms\n",
           runtime ? "runtime" : "pool", FUTURE_WAITERS, FUTURE_ROUNDS,
           atomic_load(&stress.timed_out), elapsed_ms(&start));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    wait_inside_park(1);
    wait_inside_park(2);
    help_inside_park();
    wakeup_reaches_other_worker_when_wait_ends(false);
    wakeup_reaches_other_worker_when_wait_ends(true);
    for (int runtime = 0; runtime < 2; runtime++) {
        group_stress(runtime);
        future_stress(runtime);
    }
    return 0;
}
