/* Private to runtime/: the runtime and its per-worker reactors. */
#ifndef GUST_RUNTIME_INTERNAL_H
#define GUST_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gust/reactor.h"
#include "pool/inject.h"

typedef struct gust__reactor_s {
    gust_runtime_t *runtime;
    unsigned index;
    int epoll_fd;
    int wake_fd; /* eventfd: unpark and posts write it */
    /* Tasks posted to this worker; run only here (pool/inject.h's queue). */
    gust__inject_t mailbox;
    /* Min-heap of armed timers by deadline. */
    gust_timer_t **heap;
    uint32_t heap_len;
    uint32_t heap_cap;
    /* Batches being dispatched, innermost first (a callback that helps the
     * pool may dispatch again), so gust_io_stop can forget their events. */
    struct gust__batch_s *batch;
} gust__reactor_t;

typedef struct gust__batch_s {
    struct epoll_event *events;
    int len;
    struct gust__batch_s *outer;
} gust__batch_t;

/* The blocking-call threads (blocking.c). */
typedef struct gust__blocking_s gust__blocking_t;

struct gust_runtime_s {
    gust_pool_t *pool;
    gust_runtime_opts_t opts; /* the caller's, hooks included */
    gust__reactor_t *reactors;
    unsigned num_reactors;
    gust__blocking_t *blocking;
};

/* The reactor of the worker running this thread, or NULL. */
extern _Thread_local gust__reactor_t *gust__current_reactor
    __attribute__((tls_model("initial-exec")));

/* reactor.c */
bool gust__reactor_init(gust__reactor_t *reactor, gust_runtime_t *runtime, unsigned index);
void gust__reactor_destroy(gust__reactor_t *reactor);
/* The pool's idle hooks; `arg` is the runtime. */
bool gust__reactor_poll(void *arg, unsigned index);
void gust__reactor_park(void *arg, unsigned index);
void gust__reactor_unpark(void *arg, unsigned index);
/* Runs what was posted to this worker; true if anything ran. */
bool gust__reactor_run_mailbox(gust__reactor_t *reactor);

/* timer.c: the deadline of the earliest timer, or UINT64_MAX; and firing
 * every timer due by `now`. */
uint64_t gust__timers_next(const gust__reactor_t *reactor);
bool gust__timers_fire(gust__reactor_t *reactor, uint64_t now);

/* blocking.c */
gust__blocking_t *gust__blocking_new(unsigned num_threads);
void gust__blocking_free(gust__blocking_t *blocking);

#endif
