/* The owner's end of the split deque (pool/deque.h) by brute force,
 * single-threaded: the slot pointer `top`, the ends of the inline fast paths
 * (push_end, pop_end) and the slow paths that move top between laps, on
 * plain rings and on mirrored ones (pool/deque.c maps a ring of whole pages
 * twice, back to back, and lets top run on into the mirror).
 *
 * Every sequence of up to DFS_DEPTH operations on a ring of 4 slots, then
 * random walks on rings of 4 and of 512 slots (mirrored, except under
 * ThreadSanitizer), from first indexes around 0, 2^31 and 2^32. They mix
 * the inline fast paths, the full push and pop, steals, and thieves' requests
 * for a share, raised at any moment. After every operation:
 *   - a model: pops take the newest item, steals the oldest shared one;
 *   - the layout, exactly: push_end and pop_end as set_ends places them,
 *     top within the ring (and its mirror), lap_base at a lap's start;
 *   - after a slow path, top where set_head puts it: on a mirrored ring, a
 *     ring's length from both ends of the doubled slots.
 * Counters show that the corners were reached. The seed comes from
 * GUST_TEST_SEED when set and is printed, so a failing run can be repeated. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool/deque.h"
#include "tests/support/check.h"
#include "tests/support/rng.h"

/* Sized for two cores: about 4 s, and 6 s under ThreadSanitizer, which slows
 * every operation 5-15x (its builds never mirror a ring, and fewer walks find
 * the plain ring's corners). AddressSanitizer's checks cost about what its
 * -O1 saves. */
#if defined(__SANITIZE_THREAD__)
#define DFS_DEPTH 5
#define SMALL_WALKS 100
#define BIG_WALKS 100
#elif defined(__SANITIZE_ADDRESS__)
#define DFS_DEPTH 5
#define SMALL_WALKS 300
#define BIG_WALKS 600
#else
#define DFS_DEPTH 6
#define SMALL_WALKS 300
#define BIG_WALKS 600
#endif

#define SMALL_LOG2_CAPACITY 2
#define SMALL_WALK_OPS 3000
#define SMALL_MAX_LIVE 60 /* the ring stays under a page: never mirrored */
/* 512 slots are the smallest ring of whole pages; up to three rings' worth
 * of items make it grow twice. */
#define BIG_LOG2_CAPACITY 9
#define BIG_WALK_OPS 20000
#define BIG_MAX_LIVE 1536
/* Half the walks hold under a ring's worth of items and never grow: there
 * each push at the limit refreshes the tail and moves top (set_head), often
 * with more private items below it than its offset, which pops then follow
 * down a lap. */
#define BIG_MAX_LIVE_UNGROWN 511

enum {
    OP_TRY_PUSH,
    OP_PUSH,
    OP_TRY_POP,
    OP_TRY_POP_OF_TOP, /* asks for the group of the newest item */
    OP_TRY_POP_OF_OTHER,
    OP_POP,
    OP_STEAL,
    OP_REQUEST, /* a thief's split_wanted */
    NUM_OPS,
};

/* A deque and its model: the ids of the items held, oldest first, in
 * model[lo .. hi) (indexes modulo the model's size). */
typedef struct {
    gust__deque_t deque;
    uint32_t *model;
    uint32_t model_mask;
    uint32_t lo, hi, next_id;
} state_t;

/* How many operations started at each corner. "The end" is one past the
 * ring's last slot, or the mirror's on a mirrored ring. */
typedef struct {
    uint64_t ops;
    uint64_t ops_at_end;
    uint64_t fast_push_into_mirror; /* top went on past the ring's end */
    uint64_t push_next_lap;         /* slow push at the end, with room */
    uint64_t pop_lap_down;          /* slow pop at the ring's start */
    uint64_t grow;
    uint64_t grow_at_end;
    uint64_t reclaim_empty, reclaim_last, reclaim_half, reclaim_at_end;
    uint64_t share_at_end;
    uint64_t head_wrapped; /* head went past 2^32 */
    uint64_t try_pop_of_declined;
} corners_t;

/* Per part of the test, indexed by whether the ring was mirrored. */
static corners_t small_corners[2], big_corners[2];

static void task_fn(void *arg)
{
    (void)arg;
}

static gust_group_t fake_groups[3]; /* never dereferenced by the deque */

static gust__group_ref_t group_of(uint32_t id)
{
    return (gust__group_ref_t)&fake_groups[id % 3];
}

static gust__task_t make_task(uint32_t id)
{
    return (gust__task_t){task_fn, (void *)(uintptr_t)(id + 1), group_of(id)};
}

/* Returns the id of `task` after checking its words agree. */
static uint32_t task_id(const gust__task_t *task)
{
    uint32_t id = (uint32_t)((uintptr_t)task->arg - 1);
    ASSERT_TRUE(task->fn == task_fn);
    ASSERT_UEQ(task->group, group_of(id));
    return id;
}

static uint32_t capacity_of(const gust__ring_t *ring)
{
    return ring->mask + 1;
}

/* How far top may run from the ring's start. */
static uint32_t span_of(const gust__ring_t *ring)
{
    return ring->mirrored ? 2 * capacity_of(ring) : capacity_of(ring);
}

static uint32_t offset_of(const gust__deque_t *d)
{
    return (uint32_t)(d->top - d->owner_ring->slots);
}

static uint32_t head_of(const gust__deque_t *d)
{
    return d->lap_base + offset_of(d);
}

static uint64_t tail_split_of(const gust__deque_t *d)
{
    return atomic_load((_Atomic uint64_t *)&d->tail_split);
}

static uint32_t tail_of(const gust__deque_t *d)
{
    return (uint32_t)tail_split_of(d);
}

static uint32_t split_of(const gust__deque_t *d)
{
    return (uint32_t)(tail_split_of(d) >> 32);
}

static bool split_wanted(const gust__deque_t *d)
{
    return atomic_load((atomic_bool *)&d->split_wanted);
}

static uint32_t num_live(const state_t *s)
{
    return s->hi - s->lo;
}

static void check_layout(const state_t *s)
{
    const gust__deque_t *d = &s->deque;
    const gust__ring_t *ring = d->owner_ring;
    ASSERT_PTR_EQ(atomic_load((_Atomic(gust__ring_t *) *)&d->ring), ring);
    uint32_t capacity = capacity_of(ring), span = span_of(ring);
    ASSERT_TRUE(d->top >= ring->slots && d->top <= ring->slots + span);
    /* top is the slot of head: lap_base is the index of the ring's start. */
    ASSERT_UEQ(d->lap_base & ring->mask, 0);
    uint32_t offset = offset_of(d), head = head_of(d), tail = tail_of(d), split = split_of(d);
    ASSERT_UEQ(d->split, split);
    ASSERT_ULE(split - tail, head - tail); /* tail <= split <= head */
    ASSERT_ULE(head - tail, capacity);
    ASSERT_ULE(d->push_limit - head, capacity); /* head <= push_limit */
    ASSERT_ULE(d->push_limit - tail, capacity); /* from a tail no newer than the real one */
    uint32_t room = d->push_limit - head, to_end = span - offset;
    ASSERT_PTR_EQ(d->push_end, d->top + (room < to_end ? room : to_end));
    uint32_t private_len = head - split;
    ASSERT_PTR_EQ(d->pop_end, d->top - (private_len < offset ? private_len : offset));
    ASSERT_UEQ(gust__deque_size(d), num_live(s));
    ASSERT_ULE(gust__deque_num_shared(d), num_live(s));
}

/* set_head puts top on the ring, or on a mirrored ring where it is a ring's
 * length from both ends: offset in [capacity / 2, 3 * capacity / 2). */
static void check_set_head_offset(const gust__deque_t *d, uint32_t offset)
{
    uint32_t capacity = capacity_of(d->owner_ring);
    if (d->owner_ring->mirrored) {
        ASSERT_UGE(offset, capacity / 2);
        ASSERT_ULT(offset, capacity + capacity / 2);
    } else {
        ASSERT_ULT(offset, capacity);
    }
}

static void model_push(state_t *s, uint32_t id)
{
    ASSERT_ULE(num_live(s), s->model_mask);
    s->model[s->hi++ & s->model_mask] = id;
}

static uint32_t model_pop_newest(state_t *s)
{
    ASSERT_UGT(num_live(s), 0);
    return s->model[--s->hi & s->model_mask];
}

static uint32_t model_newest(const state_t *s)
{
    return s->model[(s->hi - 1) & s->model_mask];
}

/* Applies `op`, checks its outcome against the model and the layout after
 * it, and counts the corner it started from. */
static void apply(state_t *s, int op, corners_t corners[2])
{
    gust__deque_t *d = &s->deque;
    corners_t *c = &corners[d->owner_ring->mirrored];
    uint32_t capacity = capacity_of(d->owner_ring);
    uint32_t offset = offset_of(d), head = head_of(d), tail = tail_of(d), split = split_of(d);
    bool at_end = offset == span_of(d->owner_ring);
    bool into_mirror = d->owner_ring->mirrored && offset == capacity;
    bool push_slow = op == OP_PUSH && d->top == d->push_end;
    bool pop_slow = op == OP_POP && d->top == d->pop_end;
    bool wanted = split_wanted(d);
    c->ops++;
    c->ops_at_end += at_end;
    gust__task_t task;
    bool shared = false;
    switch (op) {
    case OP_TRY_PUSH: {
        gust__task_t t = make_task(s->next_id);
        if (gust__deque_try_push(d, t.fn, t.arg, t.group)) {
            model_push(s, s->next_id);
            c->fast_push_into_mirror += into_mirror;
        }
        s->next_id++;
        break;
    }
    case OP_PUSH: {
        gust__task_t t = make_task(s->next_id);
        ASSERT_TRUE(gust__deque_push(d, &t, &shared));
        model_push(s, s->next_id++);
        if (!push_slow) {
            c->fast_push_into_mirror += into_mirror;
        } else if (head - tail == capacity) {
            ASSERT_UEQ(capacity_of(d->owner_ring), 2 * capacity);
            c->grow++;
            c->grow_at_end += at_end;
        } else if (at_end) {
            c->push_next_lap++;
        }
        c->share_at_end += at_end && wanted;
        break;
    }
    case OP_TRY_POP:
        if (gust__deque_try_pop(d, &task))
            ASSERT_UEQ(task_id(&task), model_pop_newest(s));
        break;
    case OP_TRY_POP_OF_TOP:
    case OP_TRY_POP_OF_OTHER: {
        gust__group_ref_t want = group_of(0);
        if (num_live(s) > 0)
            want = group_of(model_newest(s) + (op == OP_TRY_POP_OF_OTHER));
        if (gust__deque_try_pop_of(d, want, &task)) {
            ASSERT_UEQ(task.group, want);
            ASSERT_UEQ(task_id(&task), model_pop_newest(s));
        } else {
            c->try_pop_of_declined += op == OP_TRY_POP_OF_OTHER;
        }
        break;
    }
    case OP_POP:
        if (num_live(s) == 0) {
            ASSERT_FALSE(gust__deque_pop(d, &task, &shared));
        } else {
            ASSERT_TRUE(gust__deque_pop(d, &task, &shared));
            ASSERT_UEQ(task_id(&task), model_pop_newest(s));
        }
        break;
    case OP_STEAL: {
        gust__steal_result_t r = gust__deque_steal(d, &task);
        if (split == tail) {
            ASSERT_EQ(r, GUST__STEAL_EMPTY);
        } else {
            ASSERT_EQ(r, GUST__STEAL_OK);
            ASSERT_UEQ(task_id(&task), s->model[s->lo++ & s->model_mask]);
        }
        break;
    }
    case OP_REQUEST:
        atomic_store(&d->split_wanted, true);
        break;
    }
    check_layout(s);

    uint32_t new_offset = offset_of(d);
    if (push_slow) {
        /* set_head, then one fast push. */
        check_set_head_offset(d, new_offset - 1);
    } else if (pop_slow && head != split) {
        /* Top was at the ring's start: on to the lap below, then a pop. */
        ASSERT_UEQ(offset, 0);
        ASSERT_UEQ(new_offset, capacity - 1);
        c->pop_lap_down++;
    } else if (pop_slow) {
        uint32_t num_shared = split - tail;
        c->reclaim_empty += num_shared == 0;
        c->reclaim_last += num_shared == 1;
        c->reclaim_at_end += num_shared > 0 && at_end;
        if (num_shared > 1) {
            /* Takes back the newer half and pops: set_head. */
            c->reclaim_half++;
            check_set_head_offset(d, new_offset);
        }
    }
    uint32_t new_head = head_of(d);
    c->head_wrapped += new_head < head && head - new_head > UINT32_C(1) << 31;
}

/* Starts a deque at `first_index`, its model in `model` (a power of two of
 * `model_size` ids). */
static void init_state(state_t *s, unsigned log2_capacity, uint32_t first_index, uint32_t *model,
                       uint32_t model_size)
{
    memset(s, 0, sizeof(*s));
    ASSERT_TRUE(gust__deque_init_at(&s->deque, log2_capacity, first_index));
    s->model = model;
    s->model_mask = model_size - 1;
    check_layout(s);
}

/* A copy of a deque on a plain ring, with a ring of its own (only the
 * newest: no thief reads the older ones), made as pool/deque.c makes plain
 * rings so that gust__deque_destroy frees it. */
static void clone_state(state_t *dst, const state_t *src, uint32_t *model)
{
    const gust__deque_t *from = &src->deque;
    const gust__ring_t *ring = from->owner_ring;
    ASSERT_FALSE(ring->mirrored);
    gust__ring_t *copy = malloc(sizeof(*copy));
    ASSERT_NOT_NULL(copy);
    *copy = *ring;
    copy->older = NULL;
    copy->slots = malloc((size_t)capacity_of(ring) * sizeof(gust__slot_t));
    ASSERT_NOT_NULL(copy->slots);
    memcpy(copy->slots, ring->slots, (size_t)capacity_of(ring) * sizeof(gust__slot_t));

    *dst = *src;
    gust__deque_t *to = &dst->deque;
    to->top = copy->slots + (from->top - ring->slots);
    to->push_end = copy->slots + (from->push_end - ring->slots);
    to->pop_end = copy->slots + (from->pop_end - ring->slots);
    to->owner_ring = copy;
    atomic_init(&to->ring, copy);
    atomic_init(&to->tail_split, tail_split_of(from));
    atomic_init(&to->split_wanted, split_wanted(from));
    dst->model = model;
    for (uint32_t i = src->lo; i != src->hi; i++)
        model[i & dst->model_mask] = src->model[i & src->model_mask];
}

/* A model big enough for DFS_DEPTH pushes. */
#define DFS_MODEL_SIZE 8
_Static_assert(DFS_DEPTH < DFS_MODEL_SIZE, "the model must hold every push");

static uint64_t dfs_nodes;

/* Every sequence of `depth` operations from `s`. */
static void dfs(const state_t *s, int depth)
{
    if (depth == 0)
        return;
    for (int op = 0; op < NUM_OPS; op++) {
        uint32_t model[DFS_MODEL_SIZE];
        state_t next;
        clone_state(&next, s, model);
        apply(&next, op, small_corners);
        dfs_nodes++;
        dfs(&next, depth - 1);
        gust__deque_destroy(&next.deque);
    }
}

static void dfs_from(uint32_t first_index)
{
    uint32_t model[DFS_MODEL_SIZE];
    state_t root;
    init_state(&root, SMALL_LOG2_CAPACITY, first_index, model, DFS_MODEL_SIZE);
    dfs(&root, DFS_DEPTH);
    gust__deque_destroy(&root.deque);
}

static void drain(state_t *s)
{
    gust__task_t task;
    bool shared;
    while (num_live(s) > 0) {
        ASSERT_TRUE(gust__deque_pop(&s->deque, &task, &shared));
        ASSERT_UEQ(task_id(&task), model_pop_newest(s));
        check_layout(s);
    }
    ASSERT_FALSE(gust__deque_pop(&s->deque, &task, &shared));
    ASSERT_UEQ(gust__deque_size(&s->deque), 0);
}

/* A stretch of a walk with weights of its own for each kind of operation. */
typedef struct {
    int ops_left;
    unsigned push, pop, steal, request;
} phase_t;

/* A weight of 0 one time in `zero_in`, else 1 to 16. */
static unsigned random_weight(uint64_t r, unsigned zero_in)
{
    return r % zero_in == 0 ? 0 : 1u << (r >> 4) % 5;
}

/* Up to eight rings' worth of operations, log-uniformly, so that the deque
 * fills and drains by whole rings as often as it jitters. Half the phases
 * have no thieves, and in few of the others do thieves ask for a share but
 * by stealing from an empty shared part: each share halves the private
 * part, and a long private part is what top follows down a lap. */
static phase_t random_phase(uint64_t *rng, unsigned log2_capacity)
{
    for (;;) {
        uint64_t r = rng_next(rng);
        bool thieves = (r >> 48) % 2;
        phase_t phase = {
            .ops_left = 1 + (int)(r % (UINT32_C(2) << (r >> 8) % (log2_capacity + 3))),
            .push = random_weight(r >> 16, 4),
            .pop = random_weight(r >> 24, 4),
            .steal = thieves ? random_weight(r >> 32, 2) : 0,
            .request = thieves && (r >> 40) % 4 == 0,
        };
        if (phase.push + phase.pop + phase.steal + phase.request > 0)
            return phase;
    }
}

static int random_op(uint64_t *rng, const phase_t *phase)
{
    uint64_t r = rng_next(rng);
    unsigned pick = (unsigned)(r % (phase->push + phase->pop + phase->steal + phase->request));
    if (pick < phase->push)
        return (r >> 32) % 2 ? OP_PUSH : OP_TRY_PUSH;
    if ((pick -= phase->push) < phase->pop)
        return OP_TRY_POP + (int)((r >> 32) % 4); /* try_pop, try_pop_of x2, pop */
    return pick - phase->pop < phase->steal ? OP_STEAL : OP_REQUEST;
}

/* `num_ops` random operations from `first_index`, in random phases, holding
 * at most `max_live` items. */
static void random_walk(unsigned log2_capacity, uint32_t first_index, int num_ops,
                        uint32_t max_live, uint64_t *rng, corners_t corners[2])
{
    uint32_t model_size = 1;
    while (model_size <= max_live)
        model_size *= 2;
    uint32_t *model = malloc(model_size * sizeof(*model));
    ASSERT_NOT_NULL(model);
    state_t s;
    init_state(&s, log2_capacity, first_index, model, model_size);
    const gust__deque_t *d = &s.deque;
    phase_t phase = {0};
    for (int i = 0; i < num_ops; i++) {
        if (phase.ops_left-- == 0)
            phase = random_phase(rng, log2_capacity);
        int op = random_op(rng, &phase);
        if ((op == OP_TRY_PUSH || op == OP_PUSH) && num_live(&s) >= max_live)
            op = OP_POP;
        /* A slow path ends the phase: the corners lie just after one, so
         * try another mix there. */
        if ((op == OP_PUSH && d->top == d->push_end) || (op == OP_POP && d->top == d->pop_end))
            phase.ops_left = 0;
        apply(&s, op, corners);
    }
    drain(&s);
    gust__deque_destroy(&s.deque);
    free(model);
}

/* A first index near 0, 2^31 or 2^32, within a few rings of it. */
static uint32_t random_first_index(uint64_t *rng, unsigned log2_capacity)
{
    uint64_t r = rng_next(rng);
    uint32_t near = (uint32_t)(r >> 32) % (UINT32_C(8) << log2_capacity);
    switch (r % 3) {
    case 0:
        return near;
    case 1:
        return (UINT32_C(1) << 31) - near;
    default:
        return 0 - near;
    }
}

static void print_corners(const char *part, const corners_t *c)
{
    if (c->ops == 0) {
        printf("%s: none\n", part);
        return;
    }
    printf("%s: %" PRIu64 " ops, %" PRIu64 " at the end; fast push into the mirror %" PRIu64
           ", push to the next lap %" PRIu64 ", pop down a lap %" PRIu64 ", grow %" PRIu64
           " (%" PRIu64 " at the end), reclaim empty/last/half/at the end %" PRIu64 "/%" PRIu64
           "/%" PRIu64 "/%" PRIu64 ", share at the end %" PRIu64 ", head past 2^32 %" PRIu64
           ", try_pop_of declined %" PRIu64 "\n",
           part, c->ops, c->ops_at_end, c->fast_push_into_mirror, c->push_next_lap, c->pop_lap_down,
           c->grow, c->grow_at_end, c->reclaim_empty, c->reclaim_last, c->reclaim_half,
           c->reclaim_at_end, c->share_at_end, c->head_wrapped, c->try_pop_of_declined);
}

int main(void)
{
    const char *seed_env = getenv("GUST_TEST_SEED");
    uint64_t rng = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    if (rng == 0)
        rng = 1;
    printf("GUST_TEST_SEED=%" PRIu64 "\n", rng);
    fflush(stdout);

    /* From each slot of the first lap and of the lap below 2^32, and from
     * the middle of a lap below 2^31. */
    for (uint32_t k = 0; k < 4; k++) {
        dfs_from(k);
        dfs_from(UINT32_MAX - k);
    }
    dfs_from((UINT32_C(1) << 31) - 2);
    printf("every sequence of %d operations: %" PRIu64 " nodes\n", DFS_DEPTH, dfs_nodes);

    for (int w = 0; w < SMALL_WALKS; w++)
        random_walk(SMALL_LOG2_CAPACITY, random_first_index(&rng, SMALL_LOG2_CAPACITY),
                    SMALL_WALK_OPS, SMALL_MAX_LIVE, &rng, small_corners);
    for (int w = 0; w < BIG_WALKS; w++)
        random_walk(BIG_LOG2_CAPACITY, random_first_index(&rng, BIG_LOG2_CAPACITY), BIG_WALK_OPS,
                    w % 2 ? BIG_MAX_LIVE : BIG_MAX_LIVE_UNGROWN, &rng, big_corners);
    print_corners("4 slots, plain", &small_corners[0]);
    print_corners("512 slots, plain", &big_corners[0]);
    print_corners("512 slots, mirrored", &big_corners[1]);
    fflush(stdout);

    /* Rings under a page are never mirrored. */
    const corners_t *small = &small_corners[0];
    ASSERT_UEQ(small_corners[1].ops, 0);
    ASSERT_UGT(small->ops_at_end, 0);
    ASSERT_UGT(small->push_next_lap, 0);
    ASSERT_UGT(small->pop_lap_down, 0);
    ASSERT_UGT(small->grow, 0);
    ASSERT_UGT(small->grow_at_end, 0);
    ASSERT_UGT(small->reclaim_empty, 0);
    ASSERT_UGT(small->reclaim_last, 0);
    ASSERT_UGT(small->reclaim_half, 0);
    ASSERT_UGT(small->reclaim_at_end, 0);
    ASSERT_UGT(small->share_at_end, 0);
    ASSERT_UGT(small->head_wrapped, 0);
    ASSERT_UGT(small->try_pop_of_declined, 0);

    /* Big rings are mirrored, except under ThreadSanitizer (pool/deque.c
     * falls back to plain rings where it cannot map one twice, but Linux
     * always can here): the corners are checked on each kind of ring the
     * walks ran on. */
#if defined(__SANITIZE_THREAD__)
    ASSERT_UEQ(big_corners[1].ops, 0);
#else
    ASSERT_UGT(big_corners[1].ops, 0);
#endif
    for (int mirrored = 0; mirrored < 2; mirrored++) {
        const corners_t *big = &big_corners[mirrored];
        if (big->ops == 0)
            continue;
        ASSERT_UGT(big->ops_at_end, 0);
        ASSERT_UGT(big->push_next_lap, 0);
        ASSERT_UGT(big->pop_lap_down, 0);
        ASSERT_UGT(big->grow, 0);
        ASSERT_UGT(big->head_wrapped, 0);
        if (mirrored)
            ASSERT_UGT(big->fast_push_into_mirror, 0);
    }
    return 0;
}
