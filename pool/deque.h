/* Private to pool/: the per-worker work-stealing deque.
 *
 * A split deque (after Lace, van Dijk and van de Pol 2014). Tasks live in a
 * ring indexed by ever-growing 32-bit counters:
 *
 *     tail ........ split ........ head
 *     [ shared: thieves take here )[ private: the owner pushes and pops here )
 *
 * The owner pushes and pops at `head` with plain loads and stores: no fence
 * and no read-modify-write, which is what makes a spawn plus join cost a few
 * nanoseconds (a Chase-Lev pop needs a store-load fence on every call). Thieves
 * take single tasks at `tail` with a CAS on the packed {tail, split} word.
 * When a thief finds the shared part empty it raises `split_wanted`; the owner
 * sees the flag at its next push or pop and moves `split` up to share half of
 * its private tasks. When its private part runs out, the owner takes back part
 * of the shared part with a CAS.
 *
 * The owner keeps its end as a slot pointer with precomputed bounds, so its
 * fast push and pop do no index arithmetic (gust/pool_inline.h), and rings
 * of whole pages are mapped twice, back to back, so that pointer runs on
 * across the ring's end (pool/deque.c).
 *
 * Why not the alternatives (see the pool benchmark, tools/bench/pool.c):
 * Chase-Lev with the C11 orders of Le et al. pays a seq_cst fence per pop; a
 * bounded Go/Tokio-style queue pays an atomic per pop too and overflows into
 * the (allocating) injection queue. The price of the split deque is that tasks
 * in the private part are invisible to thieves until the owner next pushes or
 * pops, so a task that spawns work and then runs for long without spawning
 * again shares nothing meanwhile.
 *
 * ABA: a thief reads the task at `tail` and then CASes {tail, split}. The
 * owner never lets `split` fall to `tail` while shared tasks remain (it takes
 * the last shared task by advancing `tail` itself), and `tail` only grows, so
 * the slot at `tail` cannot be rewritten while {tail, split} looks unchanged.
 * (A thief stalled across 2^32 steals could still be fooled; that is the
 * price of packing both indexes into one word.) */
#ifndef GUST_POOL_DEQUE_H
#define GUST_POOL_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gust/pool.h" /* and with it the deque's layout, in gust/pool_inline.h */

/* What gust__deque_steal found. */
typedef enum {
    GUST__STEAL_OK,    /* *out holds a task */
    GUST__STEAL_EMPTY, /* nothing shared; the owner was asked to share */
    GUST__STEAL_RACE,  /* lost a race with another thief or the owner: retry */
} gust__steal_result_t;

/* gust__deque_init prepares an empty deque with room for 2^log2_capacity
 * tasks before it first grows. Returns false (ENOMEM) on allocation failure. */
bool gust__deque_init(gust__deque_t *deque, unsigned log2_capacity);

/* As gust__deque_init, with the indexes starting at `first_index` instead
 * of 0: tests start near 2^32 to cross the indexes' wrap. */
bool gust__deque_init_at(gust__deque_t *deque, unsigned log2_capacity, uint32_t first_index);

/* gust__deque_destroy frees the deque's rings; tasks still in it are lost. */
void gust__deque_destroy(gust__deque_t *deque);

/* Out-of-line halves of push and pop, below. */
bool gust__deque_push_slow(gust__deque_t *deque, const gust__task_t *task, bool *out_shared);
bool gust__deque_pop_slow(gust__deque_t *deque, gust__task_t *out, bool *out_shared);
bool gust__deque_share(gust__deque_t *deque);
/* gust__deque_share_all (owner) makes every private task stealable, for an
 * owner that will not push or pop for a while. Returns false if there was
 * none. */
bool gust__deque_share_all(gust__deque_t *deque);

/* Owner only. gust__deque_push appends a task at the head. Returns false if
 * the ring was full and could not grow (ENOMEM); the task was not added. Sets
 * *out_shared when it moved tasks into the shared part (the caller may wake a
 * parked worker to steal them). */
static inline bool gust__deque_push(gust__deque_t *deque, const gust__task_t *task,
                                    bool *out_shared)
{
    if (__builtin_expect(deque->top == deque->push_end, 0))
        return gust__deque_push_slow(deque, task, out_shared);
    gust__slot_store(deque->top, task->fn, task->arg, task->group);
    deque->top++;
    *out_shared = atomic_load_explicit(&deque->split_wanted, memory_order_relaxed) &&
                  gust__deque_share(deque);
    return true;
}

/* Owner only. gust__deque_pop takes the newest task. Returns false if the
 * deque is empty. Sets *out_shared as push does. */
static inline bool gust__deque_pop(gust__deque_t *deque, gust__task_t *out, bool *out_shared)
{
    if (__builtin_expect(deque->top == deque->pop_end, 0))
        return gust__deque_pop_slow(deque, out, out_shared);
    deque->top--;
    gust__slot_load(deque->top, out);
    *out_shared = atomic_load_explicit(&deque->split_wanted, memory_order_relaxed) &&
                  gust__deque_share(deque);
    return true;
}

/* Any thread but the owner. gust__deque_steal takes the oldest shared task. */
gust__steal_result_t gust__deque_steal(gust__deque_t *deque, gust__task_t *out);

/* Any thread. gust__deque_num_shared returns how many tasks thieves could
 * take now. seq_cst: it is the load half of the pool's parking handshake. */
uint32_t gust__deque_num_shared(const gust__deque_t *deque);

/* Owner only, or once no other thread uses the deque. The number of tasks
 * held, shared and private. */
uint32_t gust__deque_size(const gust__deque_t *deque);

#endif
