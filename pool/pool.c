/* The pool's life: options, start, submission from outside, statistics and
 * shutdown. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool/internal.h"

/* More workers than this is a mistake in the options, not a real machine. */
enum { MAX_THREADS = 4096 };

/* Every deque starts with room for 2^9 tasks and doubles when full: 512
 * slots are the smallest ring that fills whole pages, which pool/deque.c
 * maps twice to spare the owner a slow path where the ring wraps. */
enum { DEQUE_LOG2_CAPACITY = 9 };

unsigned gust__resolve_num_threads(unsigned requested)
{
    if (requested != 0)
        return requested;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 && cpus <= MAX_THREADS ? (unsigned)cpus : 1;
}

gust_pool_opts_t gust_pool_opts_default(void)
{
    gust_pool_opts_t opts;
    memset(&opts, 0, sizeof(opts));
    opts.thread_name_prefix = "gust";
    /* A few rounds catch work that appears within a microsecond or so;
     * longer spinning burns CPU that a parked worker would not. */
    opts.spin_rounds = 4;
    return opts;
}

static bool valid_opts(const gust_pool_opts_t *opts)
{
    bool has_park = opts->idle.park != NULL;
    bool has_unpark = opts->idle.unpark != NULL;
    return has_park == has_unpark && opts->num_threads <= MAX_THREADS &&
           opts->thread_name_prefix != NULL;
}

/* Workers wait at this gate until every thread exists, so that a failed
 * start joins them before any hook has run. */
enum { GATE_HOLD, GATE_RUN, GATE_ABORT };

static void free_pool(gust_pool_t *pool)
{
    for (unsigned i = 0; i < pool->num_workers; i++)
        gust__deque_destroy(&pool->workers[i].front.deque);
    pthread_mutex_destroy(&pool->sleepers_lock);
    free(pool->sleepers);
    free(pool->workers);
    free(pool);
}

static void *worker_entry(void *arg)
{
    gust__worker_t *self = arg;
    gust_pool_t *pool = self->front.pool;
    unsigned gate;
    /* Acquire: pairs with the release store that opens the gate. */
    while ((gate = atomic_load_explicit(&pool->gate, memory_order_acquire)) == GATE_HOLD)
        gust__futex_wait(&pool->gate, GATE_HOLD, NULL);
    if (gate == GATE_ABORT)
        return NULL;
    return gust__worker_main(self);
}

static void open_gate(gust_pool_t *pool, unsigned gate)
{
    atomic_store_explicit(&pool->gate, gate, memory_order_release);
    gust__futex_wake(&pool->gate, INT_MAX);
}

gust_pool_t *gust_pool_new(const gust_pool_opts_t *opts_in)
{
    gust_pool_opts_t opts = opts_in != NULL ? *opts_in : gust_pool_opts_default();
    if (!valid_opts(&opts)) {
        errno = EINVAL;
        return NULL;
    }
    opts.num_threads = gust__resolve_num_threads(opts.num_threads);

    gust_pool_t *pool = aligned_alloc(GUST__CACHE_LINE, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    memset(pool, 0, sizeof(*pool));
    pool->opts = opts;
    gust__inject_init(&pool->inject);
    pthread_mutex_init(&pool->sleepers_lock, NULL);
    size_t workers_size = sizeof(gust__worker_t) * opts.num_threads;
    pool->workers = aligned_alloc(GUST__CACHE_LINE, workers_size);
    pool->sleepers = calloc(opts.num_threads, sizeof(unsigned));
    if (pool->workers == NULL || pool->sleepers == NULL)
        goto fail;
    memset(pool->workers, 0, workers_size);
    for (unsigned i = 0; i < opts.num_threads; i++) {
        gust__worker_t *worker = &pool->workers[i];
        if (!gust__deque_init(&worker->front.deque, DEQUE_LOG2_CAPACITY))
            goto fail;
        pool->num_workers++;
        worker->front.pool = pool;
        worker->index = i;
        /* Any nonzero, distinct seed will do for xorshift. */
        worker->rng = 0x9e3779b97f4a7c15ull * (i + 1);
        gust__park_init_worker(worker);
    }

    unsigned started = 0;
    for (; started < pool->num_workers; started++) {
        gust__worker_t *worker = &pool->workers[started];
        int rc = pthread_create(&worker->thread, NULL, worker_entry, worker);
        if (rc != 0) {
            open_gate(pool, GATE_ABORT);
            for (unsigned i = 0; i < started; i++)
                pthread_join(pool->workers[i].thread, NULL);
            errno = rc;
            goto fail;
        }
    }
    open_gate(pool, GATE_RUN);
    return pool;

fail:
    free_pool(pool);
    return NULL;
}

/* Joins every worker; once `deadline` (CLOCK_REALTIME, as
 * pthread_timedjoin_np wants) passes, tells the rest to drop their work. */
static void join_workers(gust_pool_t *pool, const struct timespec *deadline)
{
    bool abandoned = false;
    for (unsigned i = 0; i < pool->num_workers; i++) {
        pthread_t thread = pool->workers[i].thread;
        if (deadline != NULL && !abandoned) {
            if (pthread_timedjoin_np(thread, NULL, deadline) == 0)
                continue;
            abandoned = true;
            atomic_store_explicit(&pool->abandon, true, memory_order_relaxed);
            gust__wake_all(pool);
        }
        pthread_join(thread, NULL);
    }
}

void gust__refuse_own_worker(const gust_pool_t *pool, const char *caller)
{
    if (gust__current->front.pool != pool)
        return;
    fprintf(stderr,
            "%s: called from a task of the pool it would free (the pool cannot be freed "
            "under its own worker): free it from a thread outside the pool\n",
            caller);
    abort();
}

size_t gust_pool_free_within(gust_pool_t *pool, uint64_t timeout_ns)
{
    if (pool == NULL)
        return 0;
    gust__refuse_own_worker(pool, "gust_pool_free");
    /* seq_cst: pairs with the load in gust__park after registering. */
    atomic_store_explicit(&pool->stopping, true, memory_order_seq_cst);
    gust__wake_all(pool);

    if (timeout_ns == UINT64_MAX) {
        join_workers(pool, NULL);
    } else {
        struct timespec deadline;
        gust__deadline_after(CLOCK_REALTIME, timeout_ns, &deadline);
        join_workers(pool, &deadline);
    }

    /* The threads are joined: whatever is still queued was never started. */
    size_t dropped = gust__inject_drain(&pool->inject);
    for (unsigned i = 0; i < pool->num_workers; i++)
        dropped += gust__deque_size(&pool->workers[i].front.deque);
    free_pool(pool);
    return dropped;
}

void gust_pool_free(gust_pool_t *pool)
{
    gust_pool_free_within(pool, UINT64_MAX);
}

bool gust_pool_submit(gust_pool_t *pool, gust_task_fn fn, void *arg)
{
    gust__worker_t *self = gust__current;
    if (self->front.pool == pool) {
        gust__push_local(self, fn, arg, GUST__NO_GROUP);
        return true;
    }
    return gust__inject(pool, &(gust__task_t){fn, arg, GUST__NO_GROUP});
}

extern inline gust_pool_t *gust_pool_current(void);

int gust_worker_index(void)
{
    gust__worker_t *self = gust__current;
    return self->front.pool != NULL ? (int)self->index : -1;
}

unsigned gust_pool_num_threads(const gust_pool_t *pool)
{
    return pool->num_workers;
}

unsigned gust_pool_stats(const gust_pool_t *pool, gust_worker_stats_t *out, unsigned num_out)
{
    for (unsigned i = 0; i < num_out && i < pool->num_workers; i++) {
        const gust__worker_front_t *front = &pool->workers[i].front;
        const gust__stats_t *stats = &pool->workers[i].stats;
#define READ(counter) atomic_load_explicit((_Atomic uint64_t *)&(counter), memory_order_relaxed)
        out[i] = (gust_worker_stats_t){
            .tasks_run = READ(front->tasks_run),
            .spawned = READ(front->spawned),
            .stolen = READ(stats->stolen),
            .steal_failed = READ(stats->steal_failed),
            .injected = READ(stats->injected),
            .parks = READ(stats->parks),
            .wakeups = READ(stats->wakeups),
        };
#undef READ
    }
    return pool->num_workers;
}
