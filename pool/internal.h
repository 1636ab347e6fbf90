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

/* Statistics: each counter is written only by its worker (a relaxed load and
 * store, a plain increment on x86) and read by anyone. */
typedef struct gust__stats_s {
    _Atomic uint64_t tasks_run;
    _Atomic uint64_t spawned;
    _Atomic uint64_t stolen;
    _Atomic uint64_t steal_failed;
    _Atomic uint64_t injected;
    _Atomic uint64_t parks;
    _Atomic uint64_t wakeups;
} gust__stats_t;

#ifdef GUST_POOL_NO_STATS
#define GUST__STAT_ADD(worker, field, n) ((void)(worker))
#else
#define GUST__STAT_ADD(worker, field, n)                                                           \
    atomic_store_explicit(&(worker)->stats.field,                                                  \
                          atomic_load_explicit(&(worker)->stats.field, memory_order_relaxed) +     \
                              (n),                                                                 \
                          memory_order_relaxed)
#endif

typedef struct gust__worker_s {
    /* Thief-visible state and owner-private state, each on its own lines. */
    gust__deque_t deque;

    /* Owner-private. */
    _Alignas(GUST__CACHE_LINE) gust_pool_t *pool;
    unsigned index;
    unsigned tick;  /* turns of the loop, to look outside now and then */
    uint64_t rng;   /* xorshift state for picking victims */
    bool searching; /* counted in pool->num_searching */
    pthread_t thread;

    /* Written by wakers. */
    _Alignas(GUST__CACHE_LINE) atomic_uint park_token; /* built-in park: 1 = wake pending */
    int sleeper_slot; /* index in pool->sleepers, or -1; under sleepers_lock */

    gust__stats_t stats;
} gust__worker_t;

_Static_assert(offsetof(gust__worker_t, pool) % GUST__CACHE_LINE == 0,
               "owner-private worker state must start its own cache line");
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

/* The worker running on this thread, or NULL. Initial-exec TLS: gust is
 * linked into the program or loaded with it, never dlopen'ed late. */
extern _Thread_local gust__worker_t *gust__current __attribute__((tls_model("initial-exec")));

/* worker.c */
void *gust__worker_main(void *worker);
/* One step of helping while a waiter's condition is not met: runs a task or
 * handles I/O. Returns false if there was nothing to do. */
bool gust__worker_help(gust__worker_t *self);

/* park.c: after publishing work, fences (seq_cst, the store half of the
 * parking handshake) and wakes a parked worker unless one is already
 * searching. */
void gust__wake_one(gust_pool_t *pool);

/* group.c: a group task finished on a thread other than the group's owner
 * (`self` is NULL outside the pool). */
void gust__group_task_done_remote(gust_group_t *group);

/* Runs one task, settling its group. */
static inline void gust__run_task(gust__worker_t *self, const gust__task_t *task)
{
    GUST__STAT_ADD(self, tasks_run, 1);
    task->fn(task->arg);
    gust_group_t *group = task->group;
    if (group == NULL)
        return;
    if (group->owner == self)
        group->local--;
    else
        gust__group_task_done_remote(group);
}

/* Pushes onto the caller's own deque. */
static inline void gust__push_local(gust__worker_t *self, const gust__task_t *task)
{
    bool shared;
    if (__builtin_expect(!gust__deque_push(&self->deque, task, &shared), 0)) {
        /* The deque could not grow: running the task now is a correct
         * schedule, only a less parallel one. */
        gust__run_task(self, task);
        return;
    }
    GUST__STAT_ADD(self, spawned, 1);
    if (__builtin_expect(shared, 0))
        gust__wake_one(self->pool); /* let a parked worker steal them */
}

/* Pops the newest task of the caller's own deque. */
static inline bool gust__pop_local(gust__worker_t *self, gust__task_t *out)
{
    bool shared;
    if (!gust__deque_pop(&self->deque, out, &shared))
        return false;
    if (__builtin_expect(shared, 0))
        gust__wake_one(self->pool); /* let a parked worker steal them */
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
