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

#include "pool/pool.h"

/* A task as it sits in a deque: three words, copied in and out. */
typedef struct gust__task_s {
    gust_task_fn fn;
    void *arg;
    gust_group_t *group; /* NULL for a task outside any group */
} gust__task_t;

/* One slot: each word is an atomic so that a thief reading a slot the owner
 * is rewriting is a defined (and then discarded) read; relaxed loads and
 * stores compile to plain moves. */
typedef struct gust__slot_s {
    _Atomic(gust_task_fn) fn;
    _Atomic(void *) arg;
    _Atomic(gust_group_t *) group;
} gust__slot_t;

typedef struct gust__ring_s {
    uint32_t mask;              /* capacity - 1; capacity is a power of two */
    struct gust__ring_s *older; /* rings this one replaced, freed with the deque */
    gust__slot_t slots[];
} gust__ring_t;

#define GUST__CACHE_LINE 64

typedef struct gust__deque_s {
    /* Thief-visible: written by thieves and by the owner's slow paths. */
    _Alignas(GUST__CACHE_LINE) _Atomic uint64_t tail_split; /* tail low 32 bits, split high */
    _Atomic(gust__ring_t *) ring;
    atomic_bool split_wanted; /* a thief found nothing shared */

    /* Owner-private: only the owning thread touches these. */
    _Alignas(GUST__CACHE_LINE) uint32_t head;
    uint32_t split;     /* the owner's copy: only the owner moves split */
    uint32_t tail_seen; /* a tail the owner read earlier: <= the real one */
    gust__ring_t *owner_ring;
} gust__deque_t;

_Static_assert(offsetof(gust__deque_t, head) % GUST__CACHE_LINE == 0,
               "owner-private deque state must not share a line with thief-visible state");

/* What gust__deque_steal found. */
typedef enum {
    GUST__STEAL_OK,    /* *out holds a task */
    GUST__STEAL_EMPTY, /* nothing shared; the owner was asked to share */
    GUST__STEAL_RACE,  /* lost a race with another thief or the owner: retry */
} gust__steal_result_t;

/* gust__deque_init prepares an empty deque with room for 2^log2_capacity
 * tasks before it first grows. Returns false (ENOMEM) on allocation failure. */
bool gust__deque_init(gust__deque_t *deque, unsigned log2_capacity);

/* gust__deque_destroy frees the deque's rings; tasks still in it are lost. */
void gust__deque_destroy(gust__deque_t *deque);

/* Out-of-line halves of push and pop, below. */
bool gust__deque_push_full(gust__deque_t *deque, const gust__task_t *task, bool *out_shared);
bool gust__deque_reclaim(gust__deque_t *deque, gust__task_t *out);
bool gust__deque_share(gust__deque_t *deque);

static inline void gust__slot_store(gust__ring_t *ring, uint32_t index, const gust__task_t *task)
{
    gust__slot_t *slot = &ring->slots[index & ring->mask];
    /* Relaxed: the owner publishes slots to thieves through the release CAS
     * that moves split past them (share), never through these stores. */
    atomic_store_explicit(&slot->fn, task->fn, memory_order_relaxed);
    atomic_store_explicit(&slot->arg, task->arg, memory_order_relaxed);
    atomic_store_explicit(&slot->group, task->group, memory_order_relaxed);
}

static inline void gust__slot_load(const gust__ring_t *ring, uint32_t index, gust__task_t *out)
{
    gust__slot_t *slot = (gust__slot_t *)&ring->slots[index & ring->mask];
    /* Relaxed: a thief's read is validated by its CAS afterwards; the owner
     * reads only slots it wrote itself. */
    out->fn = atomic_load_explicit(&slot->fn, memory_order_relaxed);
    out->arg = atomic_load_explicit(&slot->arg, memory_order_relaxed);
    out->group = atomic_load_explicit(&slot->group, memory_order_relaxed);
}

/* Owner only. gust__deque_push appends a task at the head. Returns false if
 * the ring was full and could not grow (ENOMEM); the task was not added. Sets
 * *out_shared when it moved tasks into the shared part (the caller may wake a
 * parked worker to steal them). */
static inline bool gust__deque_push(gust__deque_t *deque, const gust__task_t *task,
                                    bool *out_shared)
{
    if (__builtin_expect(deque->head - deque->tail_seen > deque->owner_ring->mask, 0))
        return gust__deque_push_full(deque, task, out_shared);
    gust__slot_store(deque->owner_ring, deque->head, task);
    deque->head++;
    *out_shared = atomic_load_explicit(&deque->split_wanted, memory_order_relaxed) &&
                  gust__deque_share(deque);
    return true;
}

/* Owner only. gust__deque_pop takes the newest task. Returns false if the
 * deque is empty. Sets *out_shared as push does. */
static inline bool gust__deque_pop(gust__deque_t *deque, gust__task_t *out, bool *out_shared)
{
    *out_shared = false;
    if (__builtin_expect(deque->head == deque->split, 0))
        return gust__deque_reclaim(deque, out);
    deque->head--;
    gust__slot_load(deque->owner_ring, deque->head, out);
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
