/* A worker's loop: where it looks for work, in what order, and how it runs
 * a task. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "pool/internal.h"

/* What gust__current points to on a thread that is not a worker: no pool,
 * and never written. Every fast path first checks the pool or a group's
 * owner, which is the sentinel only for a group initialised with a NULL pool
 * (a misuse that crashes in the slow path, as a NULL pool does anywhere,
 * on the sentinel's NULL ring before anything is written). */
static gust__worker_t no_worker;

_Thread_local struct gust__worker_s *gust__current __attribute__((tls_model("initial-exec"))) =
    &no_worker;

/* Every this many turns a busy worker looks at the injection queue and the
 * idle hook's events first, so neither starves behind a deep local deque.
 * A prime, so it does not fall into step with periodic work (Go uses 61). */
enum { FAIRNESS_INTERVAL = 61 };

/* Most tasks taken from the injection queue at once: one runs, the other 16
 * go onto the own deque where idle workers can steal them. */
enum { INJECT_BATCH = 17 };

void gust_spawn(gust_task_fn fn, void *arg)
{
    gust__worker_t *self = gust__current;
    if (self->front.pool == NULL) {
        fputs("gust_spawn: called outside a pool worker; use gust_pool_submit\n", stderr);
        abort();
    }
    gust__push_local(self, fn, arg, GUST__NO_GROUP);
}

void gust__push_local_slow(gust__worker_t *self, gust_task_fn fn, void *arg,
                           gust__group_ref_t group)
{
    gust__task_t task = {fn, arg, group};
    bool shared;
    if (!gust__deque_push(&self->front.deque, &task, &shared)) {
        /* The deque could not grow: running the task now is a correct
         * schedule, only a less parallel one. */
        gust__run_task(&self->front, &task);
        return;
    }
    GUST__COUNT(self->front.spawned, 1);
    if (shared)
        gust__wake_one(self->front.pool); /* let a parked worker steal them */
}

bool gust__pop_local_slow(gust__worker_t *self, gust__task_t *out)
{
    bool shared;
    if (!gust__deque_pop(&self->front.deque, out, &shared))
        return false;
    if (shared)
        gust__wake_one(self->front.pool); /* let a parked worker steal them */
    return true;
}

/* Takes a batch from the injection queue: returns one task, pushes the rest. */
static bool take_injected(gust__worker_t *self, gust__task_t *out)
{
    gust__task_t batch[INJECT_BATCH];
    size_t count = gust__inject_pop(&self->front.pool->inject, batch, INJECT_BATCH);
    if (count == 0)
        return false;
    GUST__STAT_ADD(self, injected, count);
    /* Push newest first so the oldest ends up on top and runs next. */
    for (size_t i = count - 1; i > 0; i--)
        gust__push_local(self, batch[i].fn, batch[i].arg, batch[i].group);
    *out = batch[0];
    return true;
}

static bool poll_events(gust__worker_t *self)
{
    const gust_pool_idle_hooks_t *idle = &self->front.pool->opts.idle;
    return idle->poll != NULL && idle->poll(idle->arg, self->index);
}

static uint64_t next_random(gust__worker_t *self)
{
    uint64_t x = self->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    self->rng = x;
    return x;
}

/* Takes the oldest shared task of `victim`. From here on the task counts in
 * its group's remote count (gust/pool_inline.h): its owner's deque no longer
 * holds it. */
static gust__steal_result_t steal_from(gust__worker_t *victim, gust__task_t *out)
{
    gust__steal_result_t result = gust__deque_steal(&victim->front.deque, out);
    if (result == GUST__STEAL_OK)
        out->group |= GUST__REF_REMOTE;
    return result;
}

/* One pass over the other workers from a random start. Takes one task and,
 * while the victim has more shared, up to half of what it had onto the own
 * deque. */
static bool steal_round(gust__worker_t *self, gust__task_t *out)
{
    gust_pool_t *pool = self->front.pool;
    unsigned n = pool->num_workers;
    if (n < 2)
        return false;
    unsigned start = (unsigned)(next_random(self) % n);
    for (unsigned k = 0; k < n; k++) {
        gust__worker_t *victim = &pool->workers[(start + k) % n];
        if (victim == self)
            continue;
        uint32_t available = gust__deque_num_shared(&victim->front.deque);
        gust__steal_result_t result;
        while ((result = steal_from(victim, out)) == GUST__STEAL_RACE)
            GUST__STAT_ADD(self, steal_failed, 1);
        if (result != GUST__STEAL_OK) {
            GUST__STAT_ADD(self, steal_failed, 1);
            continue;
        }
        GUST__STAT_ADD(self, stolen, 1);
        /* Take more, up to half of what the victim held, oldest first; each
         * extra one goes below `out` in the own deque. */
        gust__task_t first = *out;
        for (uint32_t taken = 1; taken < available / 2; taken++) {
            gust__task_t more;
            if (steal_from(victim, &more) != GUST__STEAL_OK)
                break;
            GUST__STAT_ADD(self, stolen, 1);
            gust__push_local(self, first.fn, first.arg, first.group);
            first = more;
        }
        *out = first;
        return true;
    }
    return false;
}

/* Work that needs no searching: the own deque, the injection queue, events. */
static bool find_nearby(gust__worker_t *self, gust__task_t *out)
{
    if (++self->tick % FAIRNESS_INTERVAL == 0) {
        if (take_injected(self, out))
            return true;
        poll_events(self);
    }
    if (gust__pop_local(self, out))
        return true;
    if (take_injected(self, out))
        return true;
    return poll_events(self) && gust__pop_local(self, out);
}

bool gust__worker_help(gust__worker_t *self)
{
    gust__task_t task;
    bool found = find_nearby(self, &task) || steal_round(self, &task);
    /* A waiting worker woken to search has searched now. */
    gust__end_search(self, found);
    if (found)
        gust__run_task(&self->front, &task);
    return found;
}

bool gust_pool_help(void)
{
    gust__worker_t *self = gust__current;
    if (self->front.pool == NULL)
        return false;
    /* Helping from inside the park (in an I/O callback, say): the worker is
     * no sleeper meanwhile, and its search state is its own again. */
    gust__leave_park(self);
    return gust__worker_help(self);
}

/* Steals for up to spin_rounds rounds, as one of the searching workers. */
static bool search(gust__worker_t *self, gust__task_t *out)
{
    if (!gust__begin_search(self))
        return false;
    for (unsigned round = 0; round <= self->front.pool->opts.spin_rounds; round++) {
        if (steal_round(self, out) || take_injected(self, out)) {
            gust__end_search(self, true);
            return true;
        }
        gust__cpu_relax();
    }
    gust__end_search(self, false);
    return false;
}

/* Pins the calling worker to the (index mod count)-th CPU of its affinity
 * mask, which it inherited from the thread that started the pool; best
 * effort. */
static void pin_thread(gust__worker_t *self)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return;
    int count = CPU_COUNT(&allowed);
    if (count == 0)
        return;
    int wanted = (int)(self->index % (unsigned)count);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed) || wanted-- != 0)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
        return;
    }
}

static void name_thread(gust__worker_t *self)
{
    char name[16];
    snprintf(name, sizeof(name), "%s-%u", self->front.pool->opts.thread_name_prefix, self->index);
    pthread_setname_np(pthread_self(), name);
}

void *gust__worker_main(void *arg)
{
    gust__worker_t *self = arg;
    gust_pool_t *pool = self->front.pool;
    gust__current = self;
    gust__wait_init_thread(self);
    if (pool->opts.pin_workers)
        pin_thread(self);
    name_thread(self);
    if (pool->opts.on_thread_start != NULL)
        pool->opts.on_thread_start(pool->opts.hook_arg, self->index);

    /* Invariant: a task is taken only when the pool has not been abandoned;
     * tasks left behind are counted by gust_pool_free_within. */
    while (!atomic_load_explicit(&pool->abandon, memory_order_relaxed)) {
        gust__task_t task;
        if (find_nearby(self, &task)) {
            /* A worker woken to search stops searching before it runs
             * anything: while it counts as a searcher nobody else is woken. */
            gust__end_search(self, true);
            gust__run_task(&self->front, &task);
            continue;
        }
        if (search(self, &task)) {
            gust__run_task(&self->front, &task);
            continue;
        }
        if (!gust__park(self))
            break;
    }

    if (pool->opts.on_thread_stop != NULL)
        pool->opts.on_thread_stop(pool->opts.hook_arg, self->index);
    gust__current = &no_worker;
    return NULL;
}
