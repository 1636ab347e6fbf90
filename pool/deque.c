/* The split work-stealing deque; pool/deque.h explains the design. */
#include "pool/deque.h"

#include <errno.h>
#include <stdlib.h>

/* The external definitions of the inline fast paths in gust/pool_inline.h. */
extern inline void gust__slot_store(gust__ring_t *ring, uint32_t index, gust_task_fn fn, void *arg,
                                    gust__group_ref_t group);
extern inline void gust__slot_load(const gust__ring_t *ring, uint32_t index, gust__task_t *out);
extern inline bool gust__deque_try_push(gust__deque_t *deque, gust_task_fn fn, void *arg,
                                        gust__group_ref_t group);
extern inline bool gust__deque_can_pop(const gust__deque_t *deque);
extern inline bool gust__deque_try_pop(gust__deque_t *deque, gust__task_t *out);
extern inline bool gust__deque_try_pop_of(gust__deque_t *deque, gust__group_ref_t group,
                                          gust__task_t *out);

static inline uint64_t pack(uint32_t tail, uint32_t split)
{
    return (uint64_t)split << 32 | tail;
}

static inline uint32_t tail_of(uint64_t tail_split)
{
    return (uint32_t)tail_split;
}

static inline uint32_t split_of(uint64_t tail_split)
{
    return (uint32_t)(tail_split >> 32);
}

static gust__ring_t *ring_new(uint32_t capacity)
{
    gust__ring_t *ring = calloc(1, sizeof(*ring) + (size_t)capacity * sizeof(gust__slot_t));
    if (ring == NULL)
        return NULL;
    ring->mask = capacity - 1;
    return ring;
}

bool gust__deque_init(gust__deque_t *deque, unsigned log2_capacity)
{
    gust__ring_t *ring = ring_new(UINT32_C(1) << log2_capacity);
    if (ring == NULL)
        return false;
    atomic_init(&deque->tail_split, pack(0, 0));
    atomic_init(&deque->ring, ring);
    atomic_init(&deque->split_wanted, false);
    deque->head = 0;
    deque->split = 0;
    deque->push_limit = ring->mask + 1;
    deque->owner_ring = ring;
    return true;
}

void gust__deque_destroy(gust__deque_t *deque)
{
    gust__ring_t *ring = deque->owner_ring;
    while (ring != NULL) {
        gust__ring_t *older = ring->older;
        free(ring);
        ring = older;
    }
    deque->owner_ring = NULL;
}

/* Owner: records `tail`, read from tail_split, for the fast push's check. */
static void set_push_limit(gust__deque_t *deque, uint32_t tail)
{
    deque->push_limit = tail + deque->owner_ring->mask + 1;
}

/* Owner: doubles the ring. Thieves may still read the old ring; it keeps its
 * contents and is freed only with the deque, so such reads stay valid (and
 * their CAS decides whether they count). */
static bool grow(gust__deque_t *deque, uint32_t tail)
{
    gust__ring_t *old = deque->owner_ring;
    uint64_t capacity = (uint64_t)old->mask + 1;
    if (capacity > UINT32_MAX / 2) {
        errno = ENOMEM;
        return false;
    }
    gust__ring_t *ring = ring_new((uint32_t)capacity * 2);
    if (ring == NULL)
        return false;
    for (uint32_t i = tail; i != deque->head; i++) {
        gust__task_t task;
        gust__slot_load(old, i, &task);
        gust__slot_store(ring, i, task.fn, task.arg, task.group);
    }
    ring->older = old;
    deque->owner_ring = ring;
    /* Release: a thief that loads this ring sees the copied slots. */
    atomic_store_explicit(&deque->ring, ring, memory_order_release);
    return true;
}

/* Owner, on request: moves split up to share half of the private part. */
bool gust__deque_share(gust__deque_t *deque)
{
    /* Clear the request first: a thief that asks again after this will see
     * the shared tasks or be served at the next push or pop. */
    atomic_store_explicit(&deque->split_wanted, false, memory_order_relaxed);
    uint32_t private_len = deque->head - deque->split;
    if (private_len == 0)
        return false;
    uint32_t new_split = deque->split + (private_len + 1) / 2;
    uint64_t old = atomic_load_explicit(&deque->tail_split, memory_order_relaxed);
    /* Release: publishes the slots below new_split to the thieves' acquire
     * load of tail_split. Retries only when a thief moved tail meanwhile. */
    while (!atomic_compare_exchange_weak_explicit(&deque->tail_split, &old,
                                                  pack(tail_of(old), new_split),
                                                  memory_order_release, memory_order_relaxed)) {
    }
    deque->split = new_split;
    return true;
}

/* Owner: push found the ring looking full. */
bool gust__deque_push_full(gust__deque_t *deque, const gust__task_t *task, bool *out_shared)
{
    /* Refresh the tail (it only grows), then grow if truly full. Acquire
     * pairs with the thieves' CAS, so their reads of the slots they took are
     * done before we overwrite them. */
    uint32_t tail = tail_of(atomic_load_explicit(&deque->tail_split, memory_order_acquire));
    if (deque->head - tail > deque->owner_ring->mask && !grow(deque, tail))
        return false;
    set_push_limit(deque, tail);
    return gust__deque_push(deque, task, out_shared);
}

/* Owner, with the private part empty: takes back shared tasks and pops the
 * newest. Returns false when thieves took them all. */
bool gust__deque_reclaim(gust__deque_t *deque, gust__task_t *out)
{
    /* Acquire, here and when the CAS fails: the tail read may become the
     * push limit, so the reads of the thieves that moved it must be done
     * before the owner rewrites their slots (as in gust__deque_push_full). */
    uint64_t old = atomic_load_explicit(&deque->tail_split, memory_order_acquire);
    for (;;) {
        uint32_t tail = tail_of(old);
        uint32_t shared_len = split_of(old) - tail;
        if (shared_len == 0) {
            set_push_limit(deque, tail);
            return false;
        }
        /* With one shared task left, take it as a thief does, by advancing
         * tail: split must never fall back to a tail a thief may hold (the
         * ABA argument in deque.h). Otherwise keep the lower half shared. */
        bool last = shared_len == 1;
        uint32_t new_tail = last ? tail + 1 : tail;
        uint32_t new_split = last ? split_of(old) : tail + shared_len / 2;
        if (atomic_compare_exchange_weak_explicit(&deque->tail_split, &old,
                                                  pack(new_tail, new_split), memory_order_acquire,
                                                  memory_order_acquire)) {
            set_push_limit(deque, new_tail);
            deque->split = new_split;
            if (last) {
                /* head == split == tail now: the deque is empty. */
                gust__slot_load(deque->owner_ring, tail, out);
            } else {
                deque->head--;
                gust__slot_load(deque->owner_ring, deque->head, out);
            }
            return true;
        }
    }
}

gust__steal_result_t gust__deque_steal(gust__deque_t *deque, gust__task_t *out)
{
    /* Acquire: pairs with the owner's release CAS in share(), making the
     * shared slots (and the ring they are in) visible. */
    uint64_t old = atomic_load_explicit(&deque->tail_split, memory_order_acquire);
    uint32_t tail = tail_of(old);
    if (split_of(old) == tail) {
        /* Ask for work only once: a flag already up costs no cache-line write. */
        if (!atomic_load_explicit(&deque->split_wanted, memory_order_relaxed))
            atomic_store_explicit(&deque->split_wanted, true, memory_order_relaxed);
        return GUST__STEAL_EMPTY;
    }
    gust__ring_t *ring = atomic_load_explicit(&deque->ring, memory_order_acquire);
    gust__slot_load(ring, tail, out);
    /* Acq_rel: acquire as above; release orders our slot read before the
     * owner's acquire of the new tail, after which it may rewrite the slot. */
    if (atomic_compare_exchange_strong_explicit(&deque->tail_split, &old,
                                                pack(tail + 1, split_of(old)), memory_order_acq_rel,
                                                memory_order_relaxed))
        return GUST__STEAL_OK;
    return GUST__STEAL_RACE;
}

uint32_t gust__deque_num_shared(const gust__deque_t *deque)
{
    uint64_t tail_split =
        atomic_load_explicit((_Atomic uint64_t *)&deque->tail_split, memory_order_seq_cst);
    return split_of(tail_split) - tail_of(tail_split);
}

uint32_t gust__deque_size(const gust__deque_t *deque)
{
    uint64_t tail_split =
        atomic_load_explicit((_Atomic uint64_t *)&deque->tail_split, memory_order_acquire);
    return deque->head - tail_of(tail_split);
}
