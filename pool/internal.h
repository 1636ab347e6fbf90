/* Private to pool/: the pool and worker structures shared by its files. */
#ifndef GUST_POOL_INTERNAL_H
#define GUST_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "gust/pool.h"
#include "pool/deque.h"
#include "pool/inject.h"

/* Statistics: each counter is written only by its worker and read by
 * anyone. tasks_run and spawned, which the inline fast paths count, are in
 * the worker's front. */
typedef struct gust__stats_s {
    _Atomic uint64_t stolen;
    _Atomic uint64_t steal_failed;
    _Atomic uint64_t injected;
    _Atomic uint64_t parks;
    _Atomic uint64_t wakeups;
} gust__stats_t;

#define GUST__STAT_ADD(worker, field, n) GUST__COUNT((worker)->stats.field, n)

struct gust__worker_s {
    /* The deque (thief-visible and owner-private lines), the pool and the
     * counters the inline fast paths use; first, so that a pointer to the
     * worker is one to its front (gust/pool_inline.h). */
    gust__worker_front_t front;

    /* Owner-private, on a line of its own after the front (whose aligned
     * members pad it to three lines). */
    unsigned index;
    unsigned tick;  /* turns of the loop, to look outside now and then */
    uint64_t rng;   /* xorshift state for picking victims */
    bool searching; /* counted in pool->num_searching */
    pthread_t thread;
    /* The waits on this thread's stack, innermost first (pool/wait.c). */
    struct gust__wait_s *waits;
    /* A wait whose frame is below this address runs no other task: there
     * may not be stack enough for it. */
    uintptr_t stack_floor;
    /* While parked for a wait with a time limit: when the park must end. */
    const struct timespec *park_deadline;
    /* Listed as a sleeper by its own park, which has not ended yet: code the
     * idle hook runs inside the park (I/O callbacks, timers, posted tasks)
     * finds it set. */
    bool listed;

    /* Written by wakers. */
    _Alignas(GUST__CACHE_LINE) atomic_uint park_token; /* built-in park: 1 = wake pending */
    int sleeper_slot; /* index in pool->sleepers, or -1; under sleepers_lock */

    gust__stats_t stats;
};
typedef struct gust__worker_s gust__worker_t;

_Static_assert(offsetof(gust__worker_t, front) == 0, "a worker begins with its front");
_Static_assert(offsetof(gust__worker_t, park_token) % GUST__CACHE_LINE == 0,
               "wake state must not share a line with owner-private state");

struct gust_pool_s {
    gust__worker_t *workers;
    unsigned num_workers;
    gust_pool_opts_t opts;

    gust__inject_t inject;

    /* Parking: see park.c. */
    _Alignas(GUST__CACHE_LINE) atomic_uint num_searching;
    atomic_uint num_sleeping;
    pthread_mutex_t sleepers_lock;
    unsigned *sleepers; /* indexes of parked (or parking) workers */
    unsigned num_sleepers;

    atomic_uint gate;     /* start gate, see pool.c */
    atomic_bool stopping; /* gust_pool_free: exit once the pool is drained */
    /* Workers parked in their loop (not in a wait): holding no task. */
    atomic_uint num_idle;
    atomic_bool drained; /* stopping, and every worker idle with no work left */
    atomic_bool abandon; /* the deadline passed: exit before the next task */
};

/* worker.c */
void *gust__worker_main(void *worker);
/* One step of helping while a waiter's condition is not met: runs a task or
 * handles I/O. Returns false if there was nothing to do. */
bool gust__worker_help(gust__worker_t *self);

/* A wait on a worker's stack (runtime/future.c, pool/group.c), in the
 * worker's list of nested waits (pool/wait.c). */
typedef struct gust__wait_s {
    struct gust__wait_s *outer;
    /* Whether what this wait waits for has happened. */
    bool (*done)(const void *what);
    const void *what;
    /* When the wait was first seen done but unable to return (0: not so),
     * and whether that has been reported. */
    uint64_t buried_since_ns;
    bool reported;
} gust__wait_t;

/* Sets the stack floor of worker `self`, from the calling thread's stack. */
void gust__wait_init_thread(gust__worker_t *self);

/* Enters and leaves a wait on worker `self`, innermost first. Enter returns
 * whether the wait may run other tasks: whether enough of the stack is left
 * for them. */
bool gust__wait_enter(gust__worker_t *self, gust__wait_t *wait, bool (*done)(const void *what),
                      const void *what);
void gust__wait_leave(gust__worker_t *self, gust__wait_t *wait);

/* One step of the innermost wait on worker `self`, between checks of its
 * condition: runs a task if `may_help` and there is one, else spins a
 * little. Returns true when the wait has found nothing to do for a while:
 * the caller then arranges to be woken (gust__unpark_worker) when its
 * condition is met and calls gust__wait_sleep. `idle_rounds` is the
 * caller's count of fruitless steps, zero at first. */
bool gust__wait_step(gust__worker_t *self, bool may_help, unsigned *idle_rounds);
/* Sleeps until gust__unpark_worker, new work if `may_help`, I/O, or
 * `deadline` (CLOCK_MONOTONIC, NULL: none); may return early. */
void gust__wait_sleep(gust__worker_t *self, bool may_help, const struct timespec *deadline);

/* Ends a park of `worker` (or makes its next one return at once). Any
 * thread, while the pool lives. */
void gust__unpark_worker(gust__worker_t *worker);

/* The deadline of the park the calling worker is in, or NULL: for the idle
 * hook's park, which must return by then. */
const struct timespec *gust__park_deadline(void);

/* park.c: after publishing work, fences (seq_cst, the store half of the
 * parking handshake) and wakes a parked worker unless one is already
 * searching. */
void gust__wake_one(gust_pool_t *pool);

/* worker.c: the general push and pop of the own deque, for when the fast
 * paths below decline. */
void gust__push_local_slow(gust__worker_t *self, gust_task_fn fn, void *arg,
                           gust__group_ref_t group);
bool gust__pop_local_slow(gust__worker_t *self, gust__task_t *out);

/* Pushes onto the caller's own deque. */
static inline void gust__push_local(gust__worker_t *self, gust_task_fn fn, void *arg,
                                    gust__group_ref_t group)
{
    if (__builtin_expect(!gust__deque_try_push(&self->front.deque, fn, arg, group), 0)) {
        gust__push_local_slow(self, fn, arg, group);
        return;
    }
    GUST__COUNT(self->front.spawned, 1);
}

/* Pops the newest task of the caller's own deque. */
static inline bool gust__pop_local(gust__worker_t *self, gust__task_t *out)
{
    if (__builtin_expect(!gust__deque_try_pop(&self->front.deque, out), 0))
        return gust__pop_local_slow(self, out);
    return true;
}

/* park.c: the parking handshake. */
void gust__park_init_worker(gust__worker_t *worker);
void gust__wake_all(gust_pool_t *pool);
/* Tries to become a searching worker (at most half the workers search).
 * A worker woken by gust__wake_one is searching already. */
bool gust__begin_search(gust__worker_t *self);
/* Stops searching; a worker that found work and was the last searcher wakes
 * another so that parallelism ramps up. */
void gust__end_search(gust__worker_t *self, bool found_work);
/* Parks the worker unless work is visible. Returns false when the pool is
 * stopping and drained (no task queued, none running): the worker exits. */
bool gust__park(gust__worker_t *self);
/* Ends the listed park that the calling code runs inside, if any: a wait or
 * a help there makes the worker no sleeper. Called on the worker. */
void gust__leave_park(gust__worker_t *self);
/* Parks a waiting worker until unparked or `deadline` (NULL: none), even
 * while the pool stops. `listed`: as a sleeper that new work may wake (for
 * a wait that helps). */
void gust__park_for_wait(gust__worker_t *self, bool listed, const struct timespec *deadline);
/* Whether CLOCK_MONOTONIC has reached `deadline`. */
bool gust__deadline_passed(const struct timespec *deadline);

/* Publishing work from outside, with the fence the handshake needs. */
bool gust__inject(gust_pool_t *pool, const gust__task_t *task);

/* Futex helpers (park.c). */
/* Sleeps while the 32-bit word at `word` holds `expected` (or spuriously),
 * at most until `deadline` (CLOCK_MONOTONIC; NULL: no limit). */
void gust__futex_wait(void *word, unsigned expected, const struct timespec *deadline);
/* Wakes up to `count` sleepers on `word`; `word` may already be freed. */
void gust__futex_wake(void *word, int count);

/* The time `timeout_ns` from now on `clock`, saturating far in the future. */
void gust__deadline_after(clockid_t clock, uint64_t timeout_ns, struct timespec *out);

/* pool.c: aborts with a message naming `caller` when the calling thread is a
 * worker of `pool`, which it is about to free. */
void gust__refuse_own_worker(const gust_pool_t *pool, const char *caller);

/* parallel_for.c: the grain for a range of `len` indexes (`grain` if > 0),
 * and fn(arg) run on `pool` and waited for: inline on a worker of it, else
 * as a group's task (false, with errno ENOMEM, if it could not be queued). */
uint64_t gust__range_grain(const gust_pool_t *pool, uint64_t len, int64_t grain);
bool gust__run_and_wait(gust_pool_t *pool, gust_task_fn fn, void *arg);

/* pool.c: the number of workers `requested` stands for (0: one per online
 * CPU, or 1 if that cannot be told). */
unsigned gust__resolve_num_threads(unsigned requested);

static inline void gust__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
