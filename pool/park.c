/* Parking idle workers without losing a wakeup, and waking them sparingly.
 *
 * The handshake is Dekker's: a producer publishes work, issues a seq_cst
 * fence, then reads num_sleeping; a worker going to sleep registers in
 * num_sleeping with a seq_cst read-modify-write, then looks at every queue
 * once more. At least one of them sees the other, so either the worker finds
 * the work or the producer wakes it.
 *
 * Wakeups are rationed as in Go and Tokio: a producer wakes a sleeper only
 * when no worker is searching (a searching worker will find the work, and if
 * it gives up it re-checks everything before it parks); a worker woken this
 * way starts out searching, so a burst of submissions wakes one worker, not
 * all; and a searcher that finds work while being the last searcher wakes
 * another, so parallelism ramps up as fast as work appears. At most half the
 * workers search at once, so idle workers do not hammer busy ones. */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool/internal.h"

void gust__futex_wait(void *word, unsigned expected, const struct timespec *deadline)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, expected, deadline, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

void gust__futex_wake(void *word, int count)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

void gust__deadline_after(clockid_t clock, uint64_t timeout_ns, struct timespec *out)
{
    clock_gettime(clock, out);
    uint64_t ns = (uint64_t)out->tv_nsec + timeout_ns % 1000000000u;
    uint64_t seconds = timeout_ns / 1000000000u + ns / 1000000000u;
    /* time_t is signed 64-bit: a timeout of centuries means "never". */
    if (seconds > (uint64_t)INT64_MAX - (uint64_t)out->tv_sec) {
        out->tv_sec = INT64_MAX;
        out->tv_nsec = 999999999;
        return;
    }
    out->tv_sec += (time_t)seconds;
    out->tv_nsec = (long)(ns % 1000000000u);
}

void gust__park_init_worker(gust__worker_t *worker)
{
    atomic_init(&worker->park_token, 0);
    worker->sleeper_slot = -1;
}

/* The built-in park: a futex on a one-bit token, so an unpark that comes
 * first makes the next park return at once. */
static void futex_park(gust__worker_t *self)
{
    /* Acquire: pairs with the waker's release store of the token. */
    while (atomic_exchange_explicit(&self->park_token, 0, memory_order_acquire) == 0) {
        if (self->park_deadline != NULL && gust__deadline_passed(self->park_deadline))
            return;
        gust__futex_wait(&self->park_token, 0, self->park_deadline);
    }
}

void gust__unpark_worker(gust__worker_t *worker)
{
    const gust_pool_idle_hooks_t *idle = &worker->front.pool->opts.idle;
    if (idle->unpark != NULL) {
        idle->unpark(idle->arg, worker->index);
        return;
    }
    atomic_store_explicit(&worker->park_token, 1, memory_order_release);
    gust__futex_wake(&worker->park_token, 1);
}

/* Under sleepers_lock. */
static void list_sleeper(gust_pool_t *pool, gust__worker_t *worker)
{
    worker->sleeper_slot = (int)pool->num_sleepers;
    pool->sleepers[pool->num_sleepers++] = worker->index;
}

/* Under sleepers_lock. */
static void unlist_sleeper(gust_pool_t *pool, gust__worker_t *worker)
{
    unsigned slot = (unsigned)worker->sleeper_slot;
    unsigned last = pool->sleepers[--pool->num_sleepers];
    pool->sleepers[slot] = last;
    pool->workers[last].sleeper_slot = (int)slot;
    worker->sleeper_slot = -1;
}

/* Under sleepers_lock: takes the most recent sleeper off the list and out of
 * num_sleeping, or returns NULL when none is listed. */
static gust__worker_t *take_sleeper(gust_pool_t *pool)
{
    if (pool->num_sleepers == 0)
        return NULL;
    gust__worker_t *worker = &pool->workers[pool->sleepers[pool->num_sleepers - 1]];
    unlist_sleeper(pool, worker);
    atomic_fetch_sub_explicit(&pool->num_sleeping, 1, memory_order_seq_cst);
    return worker;
}

void gust__wake_one(gust_pool_t *pool)
{
    /* The store half of the handshake: the caller's published work is
     * ordered before the loads of num_searching and num_sleeping. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&pool->num_searching, memory_order_seq_cst) != 0)
        return;
    if (atomic_load_explicit(&pool->num_sleeping, memory_order_seq_cst) == 0)
        return;
    pthread_mutex_lock(&pool->sleepers_lock);
    gust__worker_t *woken = take_sleeper(pool);
    if (woken != NULL) {
        /* It wakes up searching: later producers need not wake anyone. */
        atomic_fetch_add_explicit(&pool->num_searching, 1, memory_order_seq_cst);
        woken->searching = true;
    }
    pthread_mutex_unlock(&pool->sleepers_lock);
    if (woken != NULL)
        gust__unpark_worker(woken);
}

void gust__wake_all(gust_pool_t *pool)
{
    pthread_mutex_lock(&pool->sleepers_lock);
    unsigned count = pool->num_sleepers;
    gust__worker_t *woken[count ? count : 1];
    for (unsigned i = 0; i < count; i++)
        woken[i] = take_sleeper(pool);
    pthread_mutex_unlock(&pool->sleepers_lock);
    for (unsigned i = 0; i < count; i++)
        gust__unpark_worker(woken[i]);
}

bool gust__begin_search(gust__worker_t *self)
{
    if (self->searching)
        return true;
    gust_pool_t *pool = self->front.pool;
    unsigned searching = atomic_load_explicit(&pool->num_searching, memory_order_relaxed);
    if (2 * searching >= pool->num_workers)
        return false;
    atomic_fetch_add_explicit(&pool->num_searching, 1, memory_order_seq_cst);
    self->searching = true;
    return true;
}

void gust__end_search(gust__worker_t *self, bool found_work)
{
    if (!self->searching)
        return;
    self->searching = false;
    gust_pool_t *pool = self->front.pool;
    unsigned before = atomic_fetch_sub_explicit(&pool->num_searching, 1, memory_order_seq_cst);
    if (found_work && before == 1)
        gust__wake_one(pool);
}

/* Whether any work is visible to this worker: the loads of the handshake. */
static bool work_visible(gust__worker_t *self)
{
    gust_pool_t *pool = self->front.pool;
    if (!gust__inject_looks_empty(&pool->inject))
        return true;
    for (unsigned i = 0; i < pool->num_workers; i++) {
        if (gust__deque_num_shared(&pool->workers[i].front.deque) != 0)
            return true;
    }
    return false;
}

const struct timespec *gust__park_deadline(void)
{
    return gust__current->park_deadline;
}

/* Sleeps in the idle hook (or on the token) until unparked, or until
 * `deadline`. A park that the idle hook's callbacks nest in this one
 * restores the outer one's deadline. */
static void sleep_until(gust__worker_t *self, const struct timespec *deadline)
{
    GUST__STAT_ADD(self, parks, 1);
    const struct timespec *outer_deadline = self->park_deadline;
    self->park_deadline = deadline;
    const gust_pool_idle_hooks_t *idle = &self->front.pool->opts.idle;
    if (idle->park != NULL)
        idle->park(idle->arg, self->index);
    else
        futex_park(self);
    self->park_deadline = outer_deadline;
}

void gust__leave_park(gust__worker_t *self)
{
    if (!self->listed)
        return;
    self->listed = false;
    gust_pool_t *pool = self->front.pool;
    pthread_mutex_lock(&pool->sleepers_lock);
    bool woken_by_other = self->sleeper_slot < 0;
    if (!woken_by_other) {
        unlist_sleeper(pool, self);
        atomic_fetch_sub_explicit(&pool->num_sleeping, 1, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&pool->sleepers_lock);
    if (woken_by_other)
        GUST__STAT_ADD(self, wakeups, 1);
}

/* Whether the stopping pool has run out of work: no task queued anywhere and
 * every worker idle, so that nothing can spawn more. The worker that finds
 * it so first wakes the others to leave. Called after counting the caller
 * idle and registering it as a sleeper, with no work visible. */
static bool pool_drained(gust_pool_t *pool)
{
    /* seq_cst: each worker counts itself idle before it looks for work for
     * the last time, so of the workers going idle together, the last to
     * count sees every count; the flag is set before the wakeups, and read
     * by the others after they registered, so each sees one or the other. */
    if (atomic_load_explicit(&pool->drained, memory_order_seq_cst))
        return true;
    if (atomic_load_explicit(&pool->num_idle, memory_order_seq_cst) != pool->num_workers)
        return false;
    atomic_store_explicit(&pool->drained, true, memory_order_seq_cst);
    gust__wake_all(pool);
    return true;
}

/* Parks as a listed sleeper, so that producers may wake it, unless work is
 * visible. With `may_leave` (the worker's loop), a stopping pool's worker
 * does not park once the pool is drained; returns whether it must leave. */
static bool park_listed(gust__worker_t *self, bool may_leave, const struct timespec *deadline)
{
    gust_pool_t *pool = self->front.pool;
    gust__end_search(self, false);

    pthread_mutex_lock(&pool->sleepers_lock);
    list_sleeper(pool, self);
    /* seq_cst: the registration half of the handshake. */
    atomic_fetch_add_explicit(&pool->num_sleeping, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&pool->sleepers_lock);
    self->listed = true;

    /* The stopping flag is read after registering: gust_pool_free sets it,
     * then wakes every listed sleeper, so one of the two is seen. */
    bool visible = work_visible(self);
    bool leave = !visible && may_leave &&
                 atomic_load_explicit(&pool->stopping, memory_order_seq_cst) && pool_drained(pool);
    if (!visible && !leave)
        sleep_until(self, deadline);
    /* Unless something the idle hook ran inside the park ended it. */
    gust__leave_park(self);
    return leave || (may_leave && atomic_load_explicit(&pool->drained, memory_order_seq_cst));
}

bool gust__park(gust__worker_t *self)
{
    gust_pool_t *pool = self->front.pool;
    /* seq_cst: see pool_drained. */
    atomic_fetch_add_explicit(&pool->num_idle, 1, memory_order_seq_cst);
    bool leave = park_listed(self, true, NULL);
    atomic_fetch_sub_explicit(&pool->num_idle, 1, memory_order_seq_cst);
    if (leave) {
        /* A waker may have made us a searcher on the way out. */
        gust__end_search(self, false);
        return false;
    }
    return true;
}

void gust__park_for_wait(gust__worker_t *self, bool listed, const struct timespec *deadline)
{
    if (listed)
        park_listed(self, false, deadline);
    else
        sleep_until(self, deadline);
}

bool gust__inject(gust_pool_t *pool, const gust__task_t *task)
{
    if (!gust__inject_push(&pool->inject, task))
        return false;
    gust__wake_one(pool);
    return true;
}
