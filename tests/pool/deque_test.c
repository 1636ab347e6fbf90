/* The split work-stealing deque (pool/deque.h) on its own.
 *
 * Single-threaded, a model (a plain array of item ids) is checked after every
 * operation: the owner's pop takes the newest item, a steal takes the oldest
 * shared one, and gust__deque_size counts them all. Then one owner and three
 * thieves pass millions of items through a deque that starts with room for
 * four, and every item must be taken exactly once. The owner mixes the
 * inline fast paths (gust/pool_inline.h) with the full push and pop, and
 * each check runs a second time with the 32-bit indexes crossing 2^32.
 *
 * The seed comes from GUST_TEST_SEED when set and is printed, so a failing
 * run can be repeated. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pool/deque.h"
#include "tests/support/check.h"
#include "tests/support/rng.h"

/* Sanitizers slow every operation 5-15x and the machine may have two cores. */
#if defined(__SANITIZE_THREAD__)
#define STRESS_ITEMS 1000000u
#elif defined(__SANITIZE_ADDRESS__)
#define STRESS_ITEMS 4000000u
#else
#define STRESS_ITEMS 10000000u
#endif

#define NUM_THIEVES 3

/* Steals that lose a race are retried; single-threaded none should, so a
 * retry bound turns a livelock into a failure. */
#define MAX_RACE_RETRIES 1000

static uint64_t rng_state;

/* Every word of a task is derived from its id, so that a task read torn (one
 * word from one slot write, another from the next) shows as a mismatch. */
static void task_even(void *arg)
{
    (void)arg;
}

static void task_odd(void *arg)
{
    (void)arg;
}

static gust_group_t fake_groups[4]; /* never dereferenced by the deque */

/* The group reference of task `id`: outside any group, or a fake group,
 * counted locally or remotely, so that all three words vary. */
static gust__group_ref_t group_of(uint32_t id)
{
    if (id % 5 == 0)
        return GUST__NO_GROUP;
    return (gust__group_ref_t)&fake_groups[id & 3] + (id % 3 == 0 ? GUST__REF_REMOTE : 0);
}

static gust__task_t make_task(uint32_t id)
{
    gust__task_t task = {
        .fn = (id & 1) ? task_odd : task_even,
        .arg = (void *)(uintptr_t)(id + 1),
        .group = group_of(id),
    };
    return task;
}

/* Returns the id of `task` after checking its three words agree. */
static uint32_t task_id(const gust__task_t *task)
{
    uintptr_t arg = (uintptr_t)task->arg;
    ASSERT_UGT(arg, 0);
    uint32_t id = (uint32_t)(arg - 1);
    ASSERT_TRUE(task->fn == ((id & 1) ? task_odd : task_even));
    ASSERT_UEQ(task->group, group_of(id));
    return id;
}

/* Steals, retrying lost races a bounded number of times. */
static gust__steal_result_t steal_retrying(gust__deque_t *deque, gust__task_t *out)
{
    for (int i = 0; i < MAX_RACE_RETRIES; i++) {
        gust__steal_result_t r = gust__deque_steal(deque, out);
        if (r != GUST__STEAL_RACE)
            return r;
    }
    CHECK_FAIL_("gust__deque_steal returned GUST__STEAL_RACE %d times with no other thread",
                MAX_RACE_RETRIES);
    return GUST__STEAL_RACE;
}

static bool has_shared(const gust__deque_t *deque)
{
    uint32_t num_shared = gust__deque_num_shared(deque);
    ASSERT_ULE(num_shared, gust__deque_size(deque)); /* single-threaded callers only */
    return num_shared > 0;
}

static void push_ok(gust__deque_t *deque, uint32_t id, bool *out_shared)
{
    gust__task_t task = make_task(id);
    bool shared = false;
    ASSERT_TRUE(gust__deque_push(deque, &task, &shared));
    if (out_shared)
        *out_shared = shared;
}

/* Pushes as a worker does: the inline fast path when `inline_first` and it
 * has room, else the full push. */
static void push_either(gust__deque_t *deque, uint32_t id, bool inline_first, bool *out_shared)
{
    gust__task_t task = make_task(id);
    *out_shared = false;
    if (!inline_first || !gust__deque_try_push(deque, task.fn, task.arg, task.group))
        push_ok(deque, id, out_shared);
}

/* Pops as a worker does: the inline fast path first when `inline_first`. */
static bool pop_either(gust__deque_t *deque, bool inline_first, gust__task_t *out, bool *out_shared)
{
    *out_shared = false;
    if (inline_first && gust__deque_try_pop(deque, out))
        return true;
    return gust__deque_pop(deque, out, out_shared);
}

/* ---- single-threaded ---- */

static void empty_deque(void)
{
    gust__deque_t deque;
    ASSERT_TRUE(gust__deque_init(&deque, 2));
    gust__task_t task;
    bool shared = false;
    ASSERT_UEQ(gust__deque_size(&deque), 0);
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_FALSE(has_shared(&deque));
    ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_EMPTY);
    /* The steal asked the owner to share; with nothing to share, the owner's
     * next pop still finds nothing and the deque still works. */
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_EMPTY);
    ASSERT_UEQ(gust__deque_size(&deque), 0);

    push_ok(&deque, 7, NULL);
    ASSERT_UEQ(gust__deque_size(&deque), 1);
    ASSERT_TRUE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_UEQ(task_id(&task), 7);
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_UEQ(gust__deque_size(&deque), 0);
    gust__deque_destroy(&deque);
}

/* The owner alone: pops come back newest first, across several growths. */
static void owner_pops_lifo_across_growth(void)
{
    enum { N = 1000 };
    gust__deque_t deque;
    ASSERT_TRUE(gust__deque_init(&deque, 2)); /* room for 4: grows 8 times */
    for (uint32_t i = 0; i < N; i++) {
        push_ok(&deque, i, NULL);
        ASSERT_UEQ(gust__deque_size(&deque), i + 1);
    }
    gust__task_t task;
    bool shared;
    for (uint32_t i = N; i-- > 0;) {
        ASSERT_TRUE(gust__deque_pop(&deque, &task, &shared));
        ASSERT_UEQ(task_id(&task), i);
        ASSERT_UEQ(gust__deque_size(&deque), i);
    }
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    gust__deque_destroy(&deque);
}

/* gust__deque_try_pop_of takes the newest task only when its group reference
 * is the one asked for, and declines, taking nothing, when the private part
 * is empty or a thief asks for a share. */
static void try_pop_of_takes_only_its_groups_task(void)
{
    gust__deque_t deque;
    ASSERT_TRUE(gust__deque_init(&deque, 2));
    gust__task_t task;
    ASSERT_FALSE(gust__deque_try_pop_of(&deque, group_of(1), &task));
    push_ok(&deque, 1, NULL);
    push_ok(&deque, 2, NULL); /* on top; group_of(2) != group_of(1) */
    ASSERT_UNE(group_of(1), group_of(2));
    ASSERT_FALSE(gust__deque_try_pop_of(&deque, group_of(1), &task));
    ASSERT_UEQ(gust__deque_size(&deque), 2);
    ASSERT_TRUE(gust__deque_try_pop_of(&deque, group_of(2), &task));
    ASSERT_UEQ(task_id(&task), 2);
    /* A thief finds nothing shared and asks: the owner's fast pops decline
     * until its next full pop or push shares. */
    ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_EMPTY);
    ASSERT_FALSE(gust__deque_try_pop_of(&deque, group_of(1), &task));
    ASSERT_FALSE(gust__deque_try_pop(&deque, &task));
    ASSERT_UEQ(gust__deque_size(&deque), 1);
    bool shared;
    ASSERT_TRUE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_UEQ(task_id(&task), 1);
    ASSERT_FALSE(gust__deque_try_pop_of(&deque, group_of(1), &task));
    gust__deque_destroy(&deque);
}

/* A steal finds nothing until the owner, asked by that steal, shares at its
 * next push; then thieves take the oldest tasks, in order. */
static void thieves_steal_fifo_after_sharing(void)
{
    enum { N = 64 };
    gust__deque_t deque;
    ASSERT_TRUE(gust__deque_init(&deque, 3));
    for (uint32_t i = 0; i < N; i++)
        push_ok(&deque, i, NULL);

    gust__task_t task;
    if (!has_shared(&deque))
        ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_EMPTY);
    bool shared = false;
    push_ok(&deque, N, &shared);
    /* The request was pending and 65 tasks were private: this push shares. */
    ASSERT_TRUE(shared);
    ASSERT_TRUE(has_shared(&deque));

    uint32_t next_stolen = 0;
    while (has_shared(&deque)) {
        ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_OK);
        ASSERT_UEQ(task_id(&task), next_stolen);
        next_stolen++;
    }
    ASSERT_UGT(next_stolen, 0);
    ASSERT_UEQ(gust__deque_size(&deque), N + 1 - next_stolen);

    /* Alternate: steal until nothing is shared, then one owner pop (which
     * shares again, being asked). Thieves keep taking the oldest, the owner
     * the newest, and every task comes out once. */
    int64_t next_popped = N;
    while ((int64_t)next_stolen <= next_popped) {
        gust__steal_result_t r = steal_retrying(&deque, &task);
        if (r == GUST__STEAL_OK) {
            ASSERT_UEQ(task_id(&task), next_stolen);
            next_stolen++;
        } else {
            ASSERT_EQ(r, GUST__STEAL_EMPTY);
            ASSERT_TRUE(gust__deque_pop(&deque, &task, &shared));
            ASSERT_UEQ(task_id(&task), next_popped);
            next_popped--;
        }
        ASSERT_EQ(gust__deque_size(&deque), next_popped + 1 - next_stolen);
    }
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_EQ(steal_retrying(&deque, &task), GUST__STEAL_EMPTY);
    gust__deque_destroy(&deque);
}

/* Pushes, pops and steals at random against a model: the ids in the deque in
 * push order, model[lo..hi). Pops take model[hi - 1], steals model[lo]. In
 * growing phases bursts of pushes make the ring grow while parts of it are
 * shared; in draining phases the deque empties now and then. The deque's
 * indexes start at `first_index`. */
static void random_ops_match_model(uint32_t first_index)
{
    enum { OPS = 200000, BURST = 300, PHASE = 5000, MAX_LIVE = 2000 };
    /* Pushes happen only while fewer than MAX_LIVE items are live, and each op
     * takes at most one item out: at most OPS + MAX_LIVE + BURST pushes. */
    uint32_t *model = malloc(sizeof(uint32_t) * (OPS + MAX_LIVE + BURST));
    ASSERT_NOT_NULL(model);
    uint32_t lo = 0, hi = 0, next_id = 0;
    uint64_t seed = rng_state ^ 0x9E3779B97F4A7C15ull;
    uint64_t taken_by_steal = 0, taken_by_pop = 0, shares = 0, max_size = 0, empty_pops = 0;
    uint64_t shares_all = 0;

    gust__deque_t deque;
    ASSERT_TRUE(gust__deque_init_at(&deque, 2, first_index));
    gust__task_t task;
    bool shared;
    for (int op = 0; op < OPS; op++) {
        uint64_t r = rng_next(&seed);
        bool inline_first = (r >> 40) & 1;
        /* 0-1 push, 2-4 pop, 5-7 steal, and one steal in four of kind 5 a
         * share of all instead. */
        unsigned kind = (unsigned)(r % 8);
        if (kind == 5 && (r >> 8) % 4 == 0)
            kind = 8;
        switch (kind) {
        case 0: /* a burst of pushes, or one */
        case 1: {
            bool growing = (op / PHASE) % 2 == 0;
            unsigned burst = (r % 8 == 0 && growing) ? 1 + (unsigned)((r >> 8) % BURST) : 1;
            if (hi - lo >= MAX_LIVE)
                burst = 0;
            for (unsigned i = 0; i < burst; i++) {
                push_either(&deque, next_id, inline_first, &shared);
                shares += shared;
                model[hi++] = next_id++;
            }
            break;
        }
        case 2:
        case 3:
        case 4:
            if (lo == hi) {
                ASSERT_FALSE(pop_either(&deque, inline_first, &task, &shared));
                empty_pops++;
            } else {
                ASSERT_TRUE(pop_either(&deque, inline_first, &task, &shared));
                ASSERT_UEQ(task_id(&task), model[--hi]);
                taken_by_pop++;
            }
            shares += shared;
            break;
        case 8: {
            /* Shares every private task (a waiter about to sleep): nothing
             * moves, thieves may take them all, and the owner's fast pop
             * declines until it takes some back. */
            bool had_private = gust__deque_num_shared(&deque) != hi - lo;
            ASSERT_EQ(gust__deque_share_all(&deque), had_private);
            ASSERT_UEQ(gust__deque_num_shared(&deque), hi - lo);
            ASSERT_FALSE(gust__deque_try_pop(&deque, &task));
            shares_all += had_private;
            break;
        }
        default: {
            /* Single-threaded, num_shared says exactly whether a steal wins. */
            uint32_t num_shared = gust__deque_num_shared(&deque);
            bool expect_ok = has_shared(&deque);
            gust__steal_result_t got = steal_retrying(&deque, &task);
            if (expect_ok) {
                ASSERT_EQ(got, GUST__STEAL_OK);
                ASSERT_UEQ(task_id(&task), model[lo++]);
                ASSERT_UEQ(gust__deque_num_shared(&deque), num_shared - 1);
                taken_by_steal++;
            } else {
                ASSERT_EQ(got, GUST__STEAL_EMPTY);
            }
            break;
        }
        }
        ASSERT_UEQ(gust__deque_size(&deque), hi - lo);
        if (hi - lo > max_size)
            max_size = hi - lo;
    }
    while (lo != hi) {
        ASSERT_TRUE(gust__deque_pop(&deque, &task, &shared));
        ASSERT_UEQ(task_id(&task), model[--hi]);
    }
    ASSERT_FALSE(gust__deque_pop(&deque, &task, &shared));
    ASSERT_UEQ(gust__deque_size(&deque), 0);
    /* The mix must have exercised every path, growth included. */
    ASSERT_UGT(taken_by_steal, 1000);
    ASSERT_UGT(taken_by_pop, 1000);
    ASSERT_UGT(shares, 100);
    ASSERT_UGT(max_size, 1000);
    ASSERT_UGT(empty_pops, 0);
    ASSERT_UGT(shares_all, 1000);
    gust__deque_destroy(&deque);
    free(model);
}

/* ---- one owner, three thieves ---- */

typedef struct {
    gust__deque_t deque;
    uint32_t num_items;
    atomic_uchar *times_taken; /* per item */
    /* Per item, plain: written by the owner before the push, read by whoever
     * takes the item. The deque must order the two (ThreadSanitizer checks). */
    uint32_t *payload;
    atomic_int thieves_ready;
    /* Set by the owner once it has pushed every item and popped until its
     * pop found nothing: from then on the deque stays empty. Release, paired
     * with the thieves' acquire load. */
    atomic_bool owner_done;
} stress_t;

typedef struct {
    stress_t *stress;
    pthread_t thread;
    uint64_t stolen, races, empties;
} thief_t;

static void take(stress_t *s, const gust__task_t *task)
{
    uint32_t id = task_id(task);
    ASSERT_ULT(id, s->num_items);
    unsigned before = atomic_fetch_add_explicit(&s->times_taken[id], 1, memory_order_relaxed);
    if (before != 0)
        fprintf(stderr, "item %u was taken again\n", id);
    ASSERT_UEQ(before, 0);
    ASSERT_UEQ(s->payload[id], id ^ 0x5A5A5A5Au);
}

static void *thief_main(void *arg)
{
    thief_t *t = arg;
    stress_t *s = t->stress;
    atomic_fetch_add_explicit(&s->thieves_ready, 1, memory_order_relaxed);
    unsigned empty_streak = 0;
    for (;;) {
        gust__task_t task;
        gust__steal_result_t r = gust__deque_steal(&s->deque, &task);
        if (r == GUST__STEAL_OK) {
            take(s, &task);
            t->stolen++;
            empty_streak = 0;
        } else if (r == GUST__STEAL_RACE) {
            t->races++;
        } else {
            ASSERT_EQ(r, GUST__STEAL_EMPTY);
            t->empties++;
            if (atomic_load_explicit(&s->owner_done, memory_order_acquire))
                break;
            /* Two cores, four threads: let the owner run. */
            if (++empty_streak % 32 == 0)
                sched_yield();
        }
    }
    return NULL;
}

/* The owner pushes every item once, and pops in between: in phases that
 * favour pushes (the ring grows while thieves steal from it) and phases that
 * favour pops (the deque hovers near empty, where the owner and thieves race
 * for the last shared tasks). */
static void owner_and_thieves_take_each_item_once(uint32_t first_index)
{
    stress_t s = {.num_items = STRESS_ITEMS};
    s.times_taken = calloc(s.num_items, sizeof(*s.times_taken));
    s.payload = calloc(s.num_items, sizeof(*s.payload));
    ASSERT_NOT_NULL(s.times_taken);
    ASSERT_NOT_NULL(s.payload);
    ASSERT_TRUE(gust__deque_init_at(&s.deque, 2, first_index));

    thief_t thieves[NUM_THIEVES];
    for (int i = 0; i < NUM_THIEVES; i++) {
        thieves[i] = (thief_t){.stress = &s};
        ASSERT_EQ(pthread_create(&thieves[i].thread, NULL, thief_main, &thieves[i]), 0);
    }
    while (atomic_load_explicit(&s.thieves_ready, memory_order_relaxed) < NUM_THIEVES)
        sched_yield();

    uint64_t seed = rng_state;
    uint64_t popped = 0, empty_pops = 0, shares = 0, shares_all = 0, max_size = 0;
    uint32_t pushed = 0;
    unsigned long ops = 0;
    gust__task_t task;
    while (pushed < s.num_items) {
        /* 65536 operations per phase; push 3 in 4 or 2 in 5. */
        bool push_phase = ((ops >> 16) & 1) == 0;
        uint64_t r = rng_next(&seed);
        bool do_push = push_phase ? (r % 4 != 0) : (r % 5 < 2);
        unsigned burst = 1 + (unsigned)((r >> 8) % 16);
        bool inline_first = (r >> 40) & 1;
        /* Now and then, share every private task, as a waiter about to
         * sleep does, while the thieves steal. */
        if ((r >> 48) % 64 == 0)
            shares_all += gust__deque_share_all(&s.deque);
        for (unsigned i = 0; i < burst; i++, ops++) {
            bool shared = false;
            if (do_push && pushed < s.num_items) {
                s.payload[pushed] = pushed ^ 0x5A5A5A5Au;
                push_either(&s.deque, pushed++, inline_first, &shared);
            } else if (pop_either(&s.deque, inline_first, &task, &shared)) {
                take(&s, &task);
                popped++;
            } else {
                empty_pops++;
            }
            shares += shared;
        }
        uint32_t size = gust__deque_size(&s.deque);
        if (size > max_size)
            max_size = size;
    }
    /* Pop what is left, shared part included, while thieves still steal. */
    bool shared;
    while (gust__deque_pop(&s.deque, &task, &shared)) {
        take(&s, &task);
        popped++;
    }
    atomic_store_explicit(&s.owner_done, true, memory_order_release);

    uint64_t stolen = 0, races = 0;
    for (int i = 0; i < NUM_THIEVES; i++) {
        ASSERT_EQ(pthread_join(thieves[i].thread, NULL), 0);
        stolen += thieves[i].stolen;
        races += thieves[i].races;
    }
    printf("deque stress: %u items, owner popped %" PRIu64 " (%" PRIu64 " empty pops), thieves "
           "stole %" PRIu64 " (%" PRIu64 " races), %" PRIu64 " shares, %" PRIu64
           " shares of all, max size %" PRIu64 "\n",
           s.num_items, popped, empty_pops, stolen, races, shares, shares_all, max_size);

    ASSERT_UEQ(gust__deque_size(&s.deque), 0);
    ASSERT_UEQ(popped + stolen, s.num_items);
    for (uint32_t id = 0; id < s.num_items; id++) {
        unsigned times = atomic_load_explicit(&s.times_taken[id], memory_order_relaxed);
        if (times != 1)
            fprintf(stderr, "item %u was taken %u times\n", id, times);
        ASSERT_UEQ(times, 1);
    }
    /* Both ends did real work, and the ring grew under contention. The
     * tail moved by at least the steals: past 2^32 in main's second run. */
    ASSERT_UGT(stolen, 100);
    ASSERT_UGT(popped, 0);
    ASSERT_UGT(max_size, 4);
    ASSERT_UGT(shares_all, 0);
    gust__deque_destroy(&s.deque);
    free(s.times_taken);
    free(s.payload);
}

int main(void)
{
    const char *seed_env = getenv("GUST_TEST_SEED");
    rng_state = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    if (rng_state == 0)
        rng_state = 1;
    printf("GUST_TEST_SEED=%" PRIu64 "\n", rng_state);
    fflush(stdout);

    empty_deque();
    owner_pops_lifo_across_growth();
    try_pop_of_takes_only_its_groups_task();
    thieves_steal_fifo_after_sharing();
    random_ops_match_model(0);
    /* Again across the 32-bit indexes' wrap: each run steals over 1000. */
    random_ops_match_model(UINT32_MAX - 500);
    owner_and_thieves_take_each_item_once(0);
    owner_and_thieves_take_each_item_once(UINT32_MAX - 100);
    return 0;
}
