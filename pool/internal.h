/* Private to pool/: the pool and worker structures shared by its files. */
#ifndef GUST_POOL_INTERNAL_H
#define GUST_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pool/deque.h"
#include "pool/inject.h"
#include "pool/pool.h"

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
    atomic_bool stopping; /* gust_pool_free: exit once no work is left */
    atomic_bool abandon;  /* the deadline passed: exit before the next task */
};

/* worker.c */
void *gust__worker_main(void *worker);
/* One step of helping while a waiter's condition is not met: runs a task or
 * handles I/O. Returns false if there was nothing to do. */
bool gust__worker_help(gust__worker_t *self);

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
 * stopping and no work is left: the worker exits. */
bool gust__park(gust__worker_t *self);

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
