/* gust_parallel_reduce: parallel_for's recursive halving, with an
 * accumulator per piece. Each level runs its left half into the caller's
 * accumulator and its right half into one on its own stack, then combines
 * left with right. The split points depend only on the range and the grain,
 * and the combining follows the same tree, so with a fixed grain the result
 * does not depend on which worker ran what. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "pool/internal.h"

typedef struct reduction_s {
    gust_pool_t *pool;
    gust_reduce_fn body;
    gust_combine_fn combine;
    void *arg;
    const void *identity;
    size_t acc_size;
    uint64_t grain;
} reduction_t;

typedef struct piece_s {
    const reduction_t *reduction;
    int64_t lo;
    int64_t hi;
    void *acc; /* starts as the identity */
} piece_t;

static void reduce_piece(void *arg)
{
    const piece_t *piece = arg;
    const reduction_t *r = piece->reduction;
    /* Unsigned: hi - lo may not fit in int64_t. */
    uint64_t len = (uint64_t)piece->hi - (uint64_t)piece->lo;
    if (len <= r->grain) {
        r->body(r->arg, piece->lo, piece->hi, piece->acc);
        return;
    }
    int64_t mid = (int64_t)((uint64_t)piece->lo + len / 2);
    _Alignas(max_align_t) unsigned char right_acc[GUST_REDUCE_MAX_ACC];
    memcpy(right_acc, r->identity, r->acc_size);
    gust_group_t group;
    gust_group_init(&group, r->pool);
    piece_t right = {r, mid, piece->hi, right_acc};
    gust_group_spawn(&group, reduce_piece, &right);
    piece_t left = {r, piece->lo, mid, piece->acc};
    reduce_piece(&left);
    gust_group_wait(&group);
    r->combine(r->arg, piece->acc, right_acc);
}

bool gust_parallel_reduce(gust_pool_t *pool, int64_t lo, int64_t hi, int64_t grain,
                          const gust_reduction_t *reduction, void *out_acc)
{
    if (reduction->acc_size == 0 || reduction->acc_size > GUST_REDUCE_MAX_ACC) {
        errno = EINVAL;
        return false;
    }
    memcpy(out_acc, reduction->identity, reduction->acc_size);
    if (hi <= lo)
        return true;
    uint64_t len = (uint64_t)hi - (uint64_t)lo;
    reduction_t r = {pool,
                     reduction->body,
                     reduction->combine,
                     reduction->arg,
                     reduction->identity,
                     reduction->acc_size,
                     gust__range_grain(pool, len, grain)};
    piece_t whole = {&r, lo, hi, out_acc};
    return gust__run_and_wait(pool, reduce_piece, &whole);
}
