/* gust/pool.h: a lock-free work-stealing thread pool.
 *
 * A pool owns a fixed set of worker threads. Each worker has its own deque of
 * tasks; idle workers steal from the others and, when there is nothing to
 * steal, park without using CPU. Threads that are not workers submit through
 * an injection queue whose enqueue is wait-free.
 *
 * A task is a function and one pointer. Spawning copies those two words (and a
 * group pointer) into the worker's deque: it never allocates. Anything larger
 * lives where the caller puts it, usually in the spawning frame, which a task
 * group keeps alive until its tasks are done.
 *
 * The pool has no global state: several pools may live in one process and a
 * task of one pool may submit to another. */
#ifndef GUST_POOL_H
#define GUST_POOL_H

#include "gust/compat.h"
#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_pool_s gust_pool_t;

/* A task body. */
typedef void (*gust_task_fn)(void *arg);

/* Hooks through which a layer above parks idle workers in its own wait
 * (runtime/ parks them in epoll_wait, so "no work" and "waiting for I/O" are
 * one sleep). All three are called with `arg` and the worker's index. */
typedef struct gust_pool_idle_hooks_s {
    /* Handles outside events for worker `index` without blocking; returns
     * true if it did anything (and so may have spawned tasks). Called on the
     * worker, now and then while busy and every time it runs out of tasks.
     * May be NULL. */
    bool (*poll)(void *arg, unsigned index);
    /* Blocks worker `index` until unpark(index) is called or an outside event
     * arrives; may return early. An unpark that comes before park must make
     * the next park return at once: no wakeup may be lost. Called on the
     * worker. */
    void (*park)(void *arg, unsigned index);
    /* Wakes worker `index` from park. Called from any thread. */
    void (*unpark)(void *arg, unsigned index);
    void *arg;
} gust_pool_idle_hooks_t;

/* Options for gust_pool_new. Start from gust_pool_opts_default() and change
 * fields, so that fields added later keep their defaults. */
typedef struct gust_pool_opts_s {
    /* Worker threads; 0 means one per online CPU. */
    unsigned num_threads;
    /* Threads are named "<prefix>-<index>" (truncated to 15 bytes). */
    const char *thread_name_prefix;
    /* Called on each worker thread once, before it runs any task, and once
     * after its last (RCU registration, affinity, naming). May be NULL. */
    void (*on_thread_start)(void *arg, unsigned index);
    void (*on_thread_stop)(void *arg, unsigned index);
    void *hook_arg;
    /* Rounds of stealing an idle worker makes before it parks. */
    unsigned spin_rounds;
    /* Park and unpark through these instead of the built-in futex; all of
     * park and unpark must be set, or neither. */
    gust_pool_idle_hooks_t idle;
    /* Pin worker i to one CPU: the i-th of those the thread calling
     * gust_pool_new may run on (its affinity mask), round robin when there
     * are more workers than CPUs. Off by default: the kernel places threads.
     * Pinning fails quietly where it is not allowed (the worker then runs
     * unpinned); on_thread_start runs after it. */
    bool pin_workers;
} gust_pool_opts_t;

/* gust_pool_opts_default returns the default options: one thread per online
 * CPU, prefix "gust", no hooks, a short spin before parking. */
GUST_EXTERN gust_pool_opts_t gust_pool_opts_default(void);

/* gust_pool_new starts a pool. Returns NULL and sets errno on failure (EINVAL
 * for bad options, ENOMEM, or what pthread_create said); then no thread was
 * left running and no hook was called. `opts` may be NULL for the defaults.
 * Any thread may call it. */
GUST_EXTERN gust_pool_t *gust_pool_new(const gust_pool_opts_t *opts);

/* gust_pool_free runs every task already submitted or spawned (including the
 * ones those tasks spawn) to completion, then joins the workers and frees the
 * pool. NULL does nothing. Must not be called while another thread may still
 * submit to it, nor from a worker of this pool (which aborts with a
 * message). */
GUST_EXTERN void gust_pool_free(gust_pool_t *pool);

/* gust_pool_free_within is gust_pool_free with a deadline: tasks that have not
 * started `timeout_ns` nanoseconds after the call are dropped, not run.
 * Running tasks are never interrupted. Returns the number of dropped tasks.
 * A group whose tasks were dropped never completes, so nobody may still wait
 * on one. Same threading rules as gust_pool_free. */
GUST_EXTERN size_t gust_pool_free_within(gust_pool_t *pool, uint64_t timeout_ns);

/* gust_pool_submit queues fn(arg) on `pool` from any thread. From a worker
 * of this pool it is gust_spawn; from elsewhere it goes through the injection
 * queue (wait-free enqueue, one small allocation) and wakes a parked worker.
 * Returns false, with errno ENOMEM, if that allocation failed; then fn will
 * not run. */
GUST_EXTERN bool gust_pool_submit(gust_pool_t *pool, gust_task_fn fn, void *arg);

/* gust_spawn pushes fn(arg) onto the calling worker's own deque: no
 * allocation, no lock, no atomic read-modify-write. Only a worker may call it
 * (it aborts otherwise: use gust_pool_submit where unsure). */
GUST_EXTERN void gust_spawn(gust_task_fn fn, void *arg);

/* gust_pool_help runs one queued task (or one round of the idle hook's
 * poll) on the calling worker, for code that waits for something other than a
 * task group and must not block its worker. Returns false when there was
 * nothing to do, or when the caller is not a worker. */
GUST_EXTERN bool gust_pool_help(void);

/* The worker running the calling thread: its pool and index (0 to
 * num_threads - 1), or NULL and -1 on any other thread. */
GUST_EXTERN inline gust_pool_t *gust_pool_current(void);
GUST_EXTERN int gust_worker_index(void);

/* gust_pool_num_threads returns the number of workers. */
GUST_EXTERN unsigned gust_pool_num_threads(const gust_pool_t *pool);

/* A task group: fork-join on the caller's stack.
 *
 *     gust_group_t g;
 *     gust_group_init(&g, pool);
 *     gust_group_spawn(&g, left, &l);
 *     right(&r);
 *     gust_group_wait(&g);
 *
 * Spawned from the worker that owns the group and run by it, a task costs no
 * atomic read-modify-write; only tasks that cross threads (stolen, or spawned
 * or run by another thread) update the shared counter. On a worker,
 * gust_group_wait runs tasks from its own deque, then other tasks of the pool,
 * and sleeps in the worker's park when there are none, until the group is
 * done. The tasks it runs sit on its stack, so it returns only after each of
 * them does; other workers' tasks it runs only while 256 KiB (or a quarter)
 * of the stack is left, its own deque's at any depth. Waited on from a
 * thread outside the pool, it sleeps on a futex.
 *
 * The fields are private; they are here only so a group fits on a stack.
 * A group holds at most 2^31 - 1 unfinished tasks. */
typedef struct gust_group_s {
    uintptr_t owner; /* the owning worker; owned outside the pool: the pool's address + 1 */
    /* Two counts whose sum, modulo 2^32, is twice the unfinished tasks. A
     * task the owner spawned and a thief ran adds 2 to one and takes 2 from
     * the other, so each alone drifts with the steals (wrapping is harmless). */
    unsigned local; /* the owner's spawns minus the tasks settled from its deque; owner-only */
    GUST__ATOMIC(unsigned)
    remote; /* every other thread's spawns minus the tasks finished
               elsewhere; bit 0: a thread outside the pool sleeps on it */
} gust_group_t;

/* gust_group_init prepares `group` for tasks on `pool`. The calling thread
 * owns it: only the owner may wait on it. */
GUST_EXTERN inline void gust_group_init(gust_group_t *group, gust_pool_t *pool);

/* gust_group_spawn runs fn(arg) on the group's pool as part of the group.
 * Any thread may call it, including tasks of the group (which then must be
 * spawned before the spawning task returns). Returns false, with errno ENOMEM,
 * only when called outside the pool and the injection queue could not
 * allocate; then fn will not run and the group is unchanged. */
GUST_EXTERN inline bool gust_group_spawn(gust_group_t *group, gust_task_fn fn, void *arg);

/* gust_group_wait returns once every task spawned into the group has
 * finished (their effects are visible to the caller). Only the owner calls it.
 * The group may be reused afterwards. */
GUST_EXTERN inline void gust_group_wait(gust_group_t *group);

/* A loop body for gust_parallel_for: handles indexes [lo, hi). */
typedef void (*gust_range_fn)(void *arg, int64_t lo, int64_t hi);

/* gust_parallel_for calls fn over [lo, hi) in pieces of at most `grain`
 * indexes (0 picks a grain from the range and the thread count), split
 * recursively across the pool. Returns when all pieces are done. Callable
 * from a worker (it helps) or from any other thread (it sleeps). Returns
 * false, with errno ENOMEM, only if called outside the pool and the
 * submission could not allocate; then fn was not called. */
GUST_EXTERN bool gust_parallel_for(gust_pool_t *pool, int64_t lo, int64_t hi, int64_t grain,
                                   gust_range_fn fn, void *arg);

/* A reduction for gust_parallel_reduce: body(arg, lo, hi, acc) folds indexes
 * [lo, hi) into the accumulator `acc` (acc_size bytes, at most
 * GUST_REDUCE_MAX_ACC, aligned for any type), which starts as a copy of
 * `identity`; combine(arg, into, from) folds the accumulator of the indexes
 * just after into's into `into`. */
typedef void (*gust_reduce_fn)(void *arg, int64_t lo, int64_t hi, void *acc);
typedef void (*gust_combine_fn)(void *arg, void *into, const void *from);

enum { GUST_REDUCE_MAX_ACC = 256 };

typedef struct gust_reduction_s {
    gust_reduce_fn body;
    gust_combine_fn combine;
    const void *identity;
    size_t acc_size;
    void *arg;
} gust_reduction_t;

/* gust_parallel_reduce reduces [lo, hi) into `out_acc` (acc_size bytes): it
 * splits the range as gust_parallel_for does, folds each piece of at most
 * `grain` indexes with body into an accumulator of its own, and combines
 * neighbours left into right, in the order of the indexes, so `combine`
 * needs to be associative but not commutative. With a grain given (not 0)
 * the pieces and the order of combining depend only on lo, hi and grain:
 * the result is the same on every run and any number of threads, even for
 * floating-point sums (oneTBB's parallel_deterministic_reduce); grain 0
 * picks one from the range and the pool's size. An empty range gives the
 * identity. Callable from a worker (it helps) or any other thread (it
 * sleeps). Returns false with errno EINVAL if acc_size is 0 or over
 * GUST_REDUCE_MAX_ACC, or ENOMEM as gust_parallel_for does; then body was
 * not called. */
GUST_EXTERN bool gust_parallel_reduce(gust_pool_t *pool, int64_t lo, int64_t hi, int64_t grain,
                                      const gust_reduction_t *reduction, void *out_acc);

/* Counters of one worker, for gust_pool_stats. */
typedef struct gust_worker_stats_s {
    uint64_t tasks_run;    /* tasks this worker ran */
    uint64_t spawned;      /* tasks pushed onto its own deque */
    uint64_t stolen;       /* tasks it took from other workers' deques */
    uint64_t steal_failed; /* steal attempts that found nothing or lost a race */
    uint64_t injected;     /* tasks it took from the injection queue */
    uint64_t parks;        /* times it went to sleep */
    uint64_t wakeups;      /* times another thread woke it */
} gust_worker_stats_t;

/* gust_pool_stats copies the counters of the first `num_out` workers into
 * `out` and returns the number of workers. Counters are read without stopping
 * the workers: each is exact, the set is not a snapshot. All are zero when
 * gust, and the code that includes gust/pool.h, are built with
 * GUST_POOL_NO_STATS. Any thread may call it. */
GUST_EXTERN unsigned gust_pool_stats(const gust_pool_t *pool, gust_worker_stats_t *out,
                                     unsigned num_out);

/* The fast paths of the group functions above, inline (private). */
#include "gust/pool_inline.h"

#ifdef __cplusplus
}
#endif

#endif
