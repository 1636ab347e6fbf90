/* The split work-stealing deque; pool/deque.h explains the design. */
#include "pool/deque.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The external definitions of the inline fast paths in gust/pool_inline.h. */
extern inline void gust__slot_store(gust__slot_t *slot, gust_task_fn fn, void *arg,
                                    gust__group_ref_t group);
extern inline void gust__slot_load(const gust__slot_t *slot, gust__task_t *out);
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

/* A ring's slots are mapped twice, back to back, where their size is a
 * whole number of pages (capacity 512 and up): then the owner's top runs on
 * from the ring's end into the mirror, and back, with no slow path there.
 * On a plain ring the fast push stops at the ring's end and the fast pop at
 * its start, and a spawn and join that straddle that point would take the
 * slow paths every time. Not under ThreadSanitizer, which would take the
 * two addresses of a slot for two memory locations. */
#if defined(GUST__TSAN)
enum { MIRROR_RINGS = 0 };
#else
enum { MIRROR_RINGS = 1 };
#endif

/* Maps `bytes` of zeroed memory twice, back to back; NULL on failure. The
 * mapping is shared memory, so a child forked from the process would share
 * it too: it is left out of children, where touching it is a crash rather
 * than a write into the parent's deque. */
static gust__slot_t *map_twice(size_t bytes)
{
    int fd = memfd_create("gust-deque", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *base = MAP_FAILED;
    if (ftruncate(fd, (off_t)bytes) == 0)
        base = mmap(NULL, 2 * bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool mapped = base != MAP_FAILED &&
                  mmap(base, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == base &&
                  mmap(base + bytes, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
                      base + bytes &&
                  madvise(base, 2 * bytes, MADV_DONTFORK) == 0;
    close(fd);
    if (!mapped) {
        if (base != MAP_FAILED)
            munmap(base, 2 * bytes);
        return NULL;
    }
    return (gust__slot_t *)(void *)base;
}

static gust__ring_t *ring_new(uint32_t capacity)
{
    gust__ring_t *ring = calloc(1, sizeof(*ring));
    if (ring == NULL)
        return NULL;
    ring->mask = capacity - 1;
    size_t bytes = (size_t)capacity * sizeof(gust__slot_t);
    if (MIRROR_RINGS && bytes % (size_t)sysconf(_SC_PAGESIZE) == 0) {
        ring->slots = map_twice(bytes);
        ring->mirrored = ring->slots != NULL;
    }
    /* Where mapping fails, or the ring is smaller, a plain ring works too. */
    if (ring->slots == NULL)
        ring->slots = calloc(capacity, sizeof(gust__slot_t));
    if (ring->slots == NULL) {
        free(ring);
        return NULL;
    }
    return ring;
}

static void ring_free(gust__ring_t *ring)
{
    if (ring->mirrored)
        munmap(ring->slots, 2 * ((size_t)ring->mask + 1) * sizeof(gust__slot_t));
    else
        free(ring->slots);
    free(ring);
}

static gust__slot_t *slot_at(const gust__ring_t *ring, uint32_t index)
{
    return (gust__slot_t *)&ring->slots[index & ring->mask];
}

/* Owner: the index of `top`. */
static uint32_t head_of(const gust__deque_t *deque)
{
    return deque->lap_base + (uint32_t)(deque->top - deque->owner_ring->slots);
}

/* Owner: resets the fast paths' ends after top's lap, split, push_limit or
 * the ring changed. */
static void set_ends(gust__deque_t *deque)
{
    const gust__ring_t *ring = deque->owner_ring;
    uint64_t capacity = (uint64_t)ring->mask + 1;
    uint64_t offset = (uint64_t)(deque->top - ring->slots);
    uint64_t to_end = (ring->mirrored ? 2 * capacity : capacity) - offset;
    uint32_t head = head_of(deque);
    uint32_t room = deque->push_limit - head; /* at most the capacity */
    deque->push_end = deque->top + (room < to_end ? room : to_end);
    uint32_t private_len = head - deque->split;
    deque->pop_end = deque->top - (private_len < offset ? private_len : offset);
}

/* Owner: moves top to the slot of index `head` and resets the ends. On a
 * mirrored ring top goes where it is furthest from both ends of the doubled
 * slots, so that it meets one only after moving a ring's length. */
static void set_head(gust__deque_t *deque, uint32_t head)
{
    const gust__ring_t *ring = deque->owner_ring;
    uint32_t offset = head & ring->mask;
    if (ring->mirrored && offset <= ring->mask / 2)
        offset += ring->mask + 1;
    deque->top = ring->slots + offset;
    deque->lap_base = head - offset;
    set_ends(deque);
}

/* Owner: records `tail`, read from tail_split, as the push limit. The
 * caller then resets the ends. */
static void set_push_limit(gust__deque_t *deque, uint32_t tail)
{
    deque->push_limit = tail + deque->owner_ring->mask + 1;
}

bool gust__deque_init_at(gust__deque_t *deque, unsigned log2_capacity, uint32_t first_index)
{
    gust__ring_t *ring = ring_new(UINT32_C(1) << log2_capacity);
    if (ring == NULL)
        return false;
    atomic_init(&deque->tail_split, pack(first_index, first_index));
    atomic_init(&deque->ring, ring);
    atomic_init(&deque->split_wanted, false);
    deque->owner_ring = ring;
    deque->split = first_index;
    set_push_limit(deque, first_index);
    set_head(deque, first_index);
    return true;
}

bool gust__deque_init(gust__deque_t *deque, unsigned log2_capacity)
{
    return gust__deque_init_at(deque, log2_capacity, 0);
}

void gust__deque_destroy(gust__deque_t *deque)
{
    gust__ring_t *ring = deque->owner_ring;
    while (ring != NULL) {
        gust__ring_t *older = ring->older;
        ring_free(ring);
        ring = older;
    }
    deque->owner_ring = NULL;
}

/* Owner: doubles the ring. Thieves may still read the old ring; it keeps its
 * contents and is freed only with the deque, so such reads stay valid (and
 * their CAS decides whether they count). */
static bool grow(gust__deque_t *deque, uint32_t tail, uint32_t head)
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
    for (uint32_t i = tail; i != head; i++) {
        gust__task_t task;
        gust__slot_load(slot_at(old, i), &task);
        gust__slot_store(slot_at(ring, i), task.fn, task.arg, task.group);
    }
    ring->older = old;
    deque->owner_ring = ring;
    /* Release: a thief that loads this ring sees the copied slots. */
    atomic_store_explicit(&deque->ring, ring, memory_order_release);
    return true;
}

/* Owner: moves split up to `new_split`, at most the head. */
static void move_split(gust__deque_t *deque, uint32_t new_split)
{
    uint64_t old = atomic_load_explicit(&deque->tail_split, memory_order_relaxed);
    /* Release: publishes the slots below new_split to the thieves' acquire
     * load of tail_split. Retries only when a thief moved tail meanwhile. */
    while (!atomic_compare_exchange_weak_explicit(&deque->tail_split, &old,
                                                  pack(tail_of(old), new_split),
                                                  memory_order_release, memory_order_relaxed)) {
    }
    deque->split = new_split;
    set_ends(deque);
}

/* Owner, on request: shares half of the private part. */
bool gust__deque_share(gust__deque_t *deque)
{
    /* Clear the request first: a thief that asks again after this will see
     * the shared tasks or be served at the next push or pop. */
    atomic_store_explicit(&deque->split_wanted, false, memory_order_relaxed);
    uint32_t private_len = head_of(deque) - deque->split;
    if (private_len == 0)
        return false;
    move_split(deque, deque->split + (private_len + 1) / 2);
    return true;
}

bool gust__deque_share_all(gust__deque_t *deque)
{
    uint32_t head = head_of(deque);
    if (head == deque->split)
        return false;
    move_split(deque, head);
    return true;
}

/* Owner: push found top at push_end. */
bool gust__deque_push_slow(gust__deque_t *deque, const gust__task_t *task, bool *out_shared)
{
    uint32_t head = head_of(deque);
    if (head == deque->push_limit) {
        /* Refresh the tail (it only grows), then grow if truly full. Acquire
         * pairs with the thieves' CAS, so their reads of the slots they took
         * are done before we overwrite them. */
        uint32_t tail = tail_of(atomic_load_explicit(&deque->tail_split, memory_order_acquire));
        if (head - tail > deque->owner_ring->mask && !grow(deque, tail, head))
            return false;
        set_push_limit(deque, tail);
    }
    /* Otherwise top is at the end of the ring (or mirror): the push goes on
     * at the same index on another lap. */
    set_head(deque, head);
    return gust__deque_push(deque, task, out_shared);
}

/* Owner, with the private part empty: takes back shared tasks and pops the
 * newest. Returns false when thieves took them all. */
static bool reclaim(gust__deque_t *deque, gust__task_t *out)
{
    /* Acquire, here and when the CAS fails: the tail read may become the
     * push limit, so the reads of the thieves that moved it must be done
     * before the owner rewrites their slots (as in gust__deque_push_slow). */
    uint64_t old = atomic_load_explicit(&deque->tail_split, memory_order_acquire);
    for (;;) {
        uint32_t tail = tail_of(old);
        uint32_t shared_len = split_of(old) - tail;
        if (shared_len == 0) {
            set_push_limit(deque, tail);
            set_ends(deque);
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
                gust__slot_load(slot_at(deque->owner_ring, tail), out);
                set_ends(deque);
            } else {
                uint32_t head = head_of(deque) - 1;
                gust__slot_load(slot_at(deque->owner_ring, head), out);
                set_head(deque, head);
            }
            return true;
        }
    }
}

/* Owner: pop found top at pop_end: either the private part is empty, or top
 * is at the ring's start with private tasks on the lap below. */
bool gust__deque_pop_slow(gust__deque_t *deque, gust__task_t *out, bool *out_shared)
{
    *out_shared = false;
    if (head_of(deque) == deque->split)
        return reclaim(deque, out);
    /* Top is at the ring's start: go on from the same index on the lap
     * below, at the ring's end (on a mirrored ring, the mirror's start). */
    uint32_t capacity = deque->owner_ring->mask + 1;
    deque->top += capacity;
    deque->lap_base -= capacity;
    set_ends(deque);
    return gust__deque_pop(deque, out, out_shared);
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
    gust__slot_load(slot_at(ring, tail), out);
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
    return head_of(deque) - tail_of(tail_split);
}
