/* gust_parallel_for: recursive halving on task groups. Each level spawns its
 * right half and runs its left half inline, so idle workers steal the
 * biggest pieces first and a lone worker runs the loop in order. */
#include <errno.h>

#include "pool/internal.h"

typedef struct loop_s {
    gust_pool_t *pool;
    gust_range_fn fn;
    void *arg;
    uint64_t grain;
} loop_t;

typedef struct range_s {
    const loop_t *loop;
    int64_t lo;
    int64_t hi;
} range_t;

static void run_range(void *arg)
{
    const range_t *range = arg;
    const loop_t *loop = range->loop;
    int64_t lo = range->lo;
    int64_t hi = range->hi;
    /* Unsigned: hi - lo may not fit in int64_t. */
    uint64_t len = (uint64_t)hi - (uint64_t)lo;
    if (len <= loop->grain) {
        loop->fn(loop->arg, lo, hi);
        return;
    }
    int64_t mid = (int64_t)((uint64_t)lo + len / 2);
    gust_group_t group;
    gust_group_init(&group, loop->pool);
    range_t right = {loop, mid, hi};
    gust_group_spawn(&group, run_range, &right);
    range_t left = {loop, lo, mid};
    run_range(&left);
    gust_group_wait(&group);
}

/* Pieces per worker when the caller leaves the grain to us: enough for
 * stealing to even out uneven bodies, few enough to keep overhead low. */
enum { PIECES_PER_WORKER = 8 };

uint64_t gust__range_grain(const gust_pool_t *pool, uint64_t len, int64_t grain)
{
    uint64_t chosen = grain > 0 ? (uint64_t)grain : len / (PIECES_PER_WORKER * pool->num_workers);
    return chosen > 0 ? chosen : 1;
}

bool gust__run_and_wait(gust_pool_t *pool, gust_task_fn fn, void *arg)
{
    gust__worker_t *self = gust__current;
    if (self->front.pool == pool) {
        fn(arg);
        return true;
    }
    gust_group_t group;
    gust_group_init(&group, pool);
    if (!gust_group_spawn(&group, fn, arg)) {
        errno = ENOMEM;
        return false;
    }
    gust_group_wait(&group);
    return true;
}

bool gust_parallel_for(gust_pool_t *pool, int64_t lo, int64_t hi, int64_t grain, gust_range_fn fn,
                       void *arg)
{
    if (hi <= lo)
        return true;
    uint64_t len = (uint64_t)hi - (uint64_t)lo;
    loop_t loop = {pool, fn, arg, gust__range_grain(pool, len, grain)};
    range_t whole = {&loop, lo, hi};
    return gust__run_and_wait(pool, run_range, &whole);
}
