/* gust/reactor.h: a pool whose workers also wait for I/O and timers.
 *
 * A runtime owns a gust pool and gives every worker an epoll instance, an
 * eventfd and a timer heap. Workers park inside epoll_wait through the pool's
 * idle hooks, so "no task" and "waiting for I/O" are one sleep, and the next
 * timer sets its timeout. An fd or timer belongs to the worker that started
 * it: its callbacks always run on that worker, never concurrently with each
 * other, so connection state needs no locks.
 *
 * Edge-triggered: a registration is made once for the events it may ever
 * want and is not re-armed, which saves an epoll_ctl per state change (a
 * connection moves from writing to reading without one). The price is that a
 * callback must read or write until EAGAIN before it returns, or it will not
 * hear about that fd again. */
#ifndef GUST_REACTOR_H
#define GUST_REACTOR_H

#include "gust/export.h"

#include <stdbool.h>
#include <stdint.h>

#include "gust/future.h"
#include "gust/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_runtime_s gust_runtime_t;

/* Options for gust_runtime_new; start from gust_runtime_opts_default(). */
typedef struct gust_runtime_opts_s {
    /* The pool's options; its idle hooks are the runtime's own and must be
     * left unset. */
    gust_pool_opts_t pool;
    /* Threads for blocking calls (gust_runtime_block); at least 1. */
    unsigned blocking_threads;
    /* File descriptors the program expects to hold at once. gust_runtime_new
     * grows the process's descriptor table to this many (at most the soft
     * RLIMIT_NOFILE) before its threads start: Linux grows the table by
     * doubling, and in a process of several threads each growth makes the
     * thread that opened the descriptor wait for an RCU grace period
     * (milliseconds), which a worker opening its 65th, 129th ... socket would
     * otherwise pay. The table never shrinks. 0 leaves it alone. */
    unsigned fd_table_hint;
} gust_runtime_opts_t;

/* gust_runtime_opts_default: the pool's defaults, 4 blocking threads and a
 * descriptor table of 1024. */
GUST_EXTERN gust_runtime_opts_t gust_runtime_opts_default(void);

/* gust_runtime_new starts a pool with a reactor per worker and the blocking
 * threads. Returns NULL with errno set on failure (EINVAL if the options set
 * idle hooks, ENOMEM, or what starting a thread or an epoll failed with);
 * nothing is left running then. Any thread. */
GUST_EXTERN gust_runtime_t *gust_runtime_new(const gust_runtime_opts_t *opts);

/* gust_runtime_free stops the blocking threads (after every call already
 * queued has run and completed its future), runs the pool's queued tasks to completion and joins
 * everything. Every fd and timer must have been stopped. NULL does nothing. Not from a thread of
 * the runtime: from one of its workers it aborts with a message. */
GUST_EXTERN void gust_runtime_free(gust_runtime_t *runtime);

/* gust_runtime_pool returns the runtime's pool (borrowed). */
GUST_EXTERN gust_pool_t *gust_runtime_pool(const gust_runtime_t *runtime);

/* gust_runtime_current returns the runtime of the calling worker, or NULL. */
GUST_EXTERN gust_runtime_t *gust_runtime_current(void);

/* gust_runtime_post runs fn(arg) on worker `index` (not stolen by another):
 * how work that touches a worker's fds or timers gets to it. Returns false
 * with errno ENOMEM if it could not queue. Any thread. */
GUST_EXTERN bool gust_runtime_post(gust_runtime_t *runtime, unsigned index, gust_task_fn fn,
                                   void *arg);

/* Monotonic clock in nanoseconds, the timers' time base. */
GUST_EXTERN uint64_t gust_now_ns(void);

/* An fd watched by the calling worker's reactor. The caller owns the memory,
 * which must stay valid until gust_io_stop. Fields are private. */
typedef struct gust_io_s gust_io_t;
typedef void (*gust_io_cb)(gust_io_t *io, uint32_t events);
struct gust_io_s {
    int fd;
    uint32_t events;
    gust_io_cb cb;
    void *data; /* free for the caller */
    void *reactor;
};

/* gust_io_start watches `fd` for `events` (EPOLLIN, EPOLLOUT, ...;
 * EPOLLET is added) on the calling worker: cb(io, ready events) runs on this
 * worker whenever some become ready. Returns 0, or an error code: epoll_ctl's
 * errno, negated (-EPERM for a regular file), or GUST_ERR_INVAL off a
 * runtime worker. */
GUST_EXTERN int gust_io_start(gust_io_t *io, int fd, uint32_t events, gust_io_cb cb, void *data);

/* gust_io_stop stops watching; afterwards cb is not called again. On the
 * worker that started it. Does not close the fd. */
GUST_EXTERN void gust_io_stop(gust_io_t *io);

/* A one-shot timer on the calling worker's heap; caller-owned memory as for
 * gust_io_t. Fields are private. */
typedef struct gust_timer_s gust_timer_t;
typedef void (*gust_timer_cb)(gust_timer_t *timer);
struct gust_timer_s {
    uint64_t deadline_ns;
    gust_timer_cb cb;
    void *data; /* free for the caller */
    void *reactor;
    uint32_t heap_index; /* UINT32_MAX when not started */
};

/* gust_timer_init marks `timer` as not started; call once before first use. */
GUST_EXTERN void gust_timer_init(gust_timer_t *timer);

/* gust_timer_start arms `timer` to call cb(timer) on this worker once, about
 * `timeout_ns` from now (never early; late by up to a millisecond plus
 * whatever the worker is busy with). Restarting a started timer moves it.
 * O(log n). Returns 0, GUST_ERR_NOMEM, or GUST_ERR_INVAL off a runtime
 * worker. */
GUST_EXTERN int gust_timer_start(gust_timer_t *timer, uint64_t timeout_ns, gust_timer_cb cb,
                                 void *data);

/* gust_timer_start_at is gust_timer_start with an absolute deadline on
 * gust_now_ns's clock (one already past fires the next time the worker looks
 * at its timers, never inside this call). For a deadline counted from a time the caller already
 * has, it saves reading the clock. Same returns. */
GUST_EXTERN int gust_timer_start_at(gust_timer_t *timer, uint64_t deadline_ns, gust_timer_cb cb,
                                    void *data);

/* The deadline `timeout_ns` after `from_ns`, saturating: a huge timeout
 * means "never", not a wrapped past deadline. */
static inline uint64_t gust_deadline_after(uint64_t from_ns, uint64_t timeout_ns)
{
    return timeout_ns > UINT64_MAX - from_ns ? UINT64_MAX : from_ns + timeout_ns;
}

/* gust_timer_stop disarms `timer` if started (its cb will not run). O(log n).
 * On the worker that started it. */
GUST_EXTERN void gust_timer_stop(gust_timer_t *timer);

/* gust_timer_active tells whether `timer` is armed. */
GUST_EXTERN bool gust_timer_active(const gust_timer_t *timer);

/* A call that blocks (getaddrinfo, file I/O): returns its result, stored as
 * the future's value. */
typedef void *(*gust_blocking_fn)(void *arg);

/* gust_runtime_block runs fn(arg) on one of the runtime's blocking threads and
 * returns a future (one reference for the caller) that completes with fn's
 * result as value, destroyed with `destroy` if not NULL. Callbacks on the
 * future run on the pool as usual. Calls beyond the number of blocking
 * threads wait their turn; the workers never do. Returns NULL with errno
 * ENOMEM. Any thread. */
GUST_EXTERN gust_future_t *gust_runtime_block(gust_runtime_t *runtime, gust_blocking_fn fn,
                                              void *arg, void (*destroy)(void *value));

#ifdef __cplusplus
}
#endif

#endif
