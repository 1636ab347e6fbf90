/* gust/pool_inline.h: the inline fast paths of task groups. Private.
 *
 * A spawn and its join cost a few nanoseconds only when the compiler can
 * inline them into the caller: three calls (init, spawn, wait) and the spills
 * around them doubled their cost in the pool benchmark. So the common case,
 * a worker spawning into its own group and running the task back off its own
 * deque, lives here, and every other case calls into pool/.
 *
 * Nothing here is API. The names and the layout change with gust, so a
 * program must be compiled against the headers of the gust it links (a Bazel
 * build always is). Included by gust/pool.h; do not include it directly.
 *
 * In C the functions have C99 inline semantics: the definitions here are
 * inline definitions, and pool/ emits the one external definition of each
 * (with an `extern inline` declaration), so every function also exists as a
 * symbol. In C++ they are inline functions with C linkage: a C++ file that
 * does not inline one emits it as a weak (COMDAT) definition of that same
 * symbol, which the linker merges with the other C++ copies and lets libgust's
 * strong definition override, statically or through libgust.so; all are
 * compiled from these lines, so whichever wins behaves the same, and one
 * function has one address in the program. (`static inline` would give each
 * C++ file its own copy and clash with the extern declarations in pool.h.) */
#ifndef GUST_POOL_INLINE_H
#define GUST_POOL_INLINE_H

#include "gust/compat.h"
#include "gust/export.h"

#ifndef GUST_POOL_H
#error "include gust/pool.h, not gust/pool_inline.h"
#endif
/* GNU89 inline semantics would make every definition below an external one
 * in each C file that includes this, and the link would fail on duplicates.
 * (clang++ defines __GNUC_GNU_INLINE__ too; C++ inline is fine.) */
#if defined(__GNUC_GNU_INLINE__) && !defined(__cplusplus)
#error "gust needs C99 inline semantics: compile with -std=c11 (or later), without -fgnu89-inline"
#endif

#define GUST__CACHE_LINE 64

/* A task's group and how the task is counted there, in one word: the
 * group's address when the task counts in the group's owner-private `local`
 * (the owner spawned it onto its own deque, from which only the owner pops);
 * the address + 1 when it counts in the shared `remote` (any other thread
 * spawned it, or a thief took it); 1 alone outside any group. So the owner
 * settles a task it popped by testing one bit, without reading the group's
 * owner. */
typedef uintptr_t gust__group_ref_t;
#define GUST__REF_REMOTE ((gust__group_ref_t)1)
#define GUST__NO_GROUP GUST__REF_REMOTE

/* A group's counts move in steps of two: bit 0 of `remote` is its sleeper
 * flag (pool/group.c). */
#define GUST__GROUP_ONE 2

/* A task as it sits in a deque: three words, copied in and out. */
typedef struct gust__task_s {
    gust_task_fn fn;
    void *arg;
    gust__group_ref_t group;
} gust__task_t;

/* One slot: each word is an atomic so that a thief reading a slot the owner
 * is rewriting is a defined (and then discarded) read; relaxed loads and
 * stores compile to plain moves. */
typedef struct gust__slot_s {
    GUST__ATOMIC(gust_task_fn) fn;
    GUST__ATOMIC(void *) arg;
    GUST__ATOMIC(gust__group_ref_t) group;
} gust__slot_t;

typedef struct gust__ring_s {
    uint32_t mask; /* capacity - 1; capacity is a power of two */
    /* Whether slots[capacity + i] is slots[i]: the same pages mapped twice,
     * back to back (pool/deque.c says when and why). */
    bool mirrored;
    struct gust__ring_s *older; /* rings this one replaced, freed with the deque */
    gust__slot_t *slots;
} gust__ring_t;

/* The per-worker split deque; pool/deque.h explains the design. */
typedef struct gust__deque_s {
    /* Thief-visible: written by thieves and by the owner's slow paths.
     * tail_split: the tail in the low 32 bits, split in the high. */
    GUST__ALIGNAS(GUST__CACHE_LINE) GUST__ATOMIC(uint64_t) tail_split;
    GUST__ATOMIC(gust__ring_t *) ring;
    GUST__ATOMIC(bool) split_wanted; /* a thief found nothing shared */

    /* Owner-private: only the owning thread touches these. The owner's end
     * is a slot pointer, not an index, so the fast push and pop do no index
     * arithmetic: `top` points where the next push goes, the slot of index
     * `head` = lap_base + (top - slots), on the lap of the ring that starts
     * at index `lap_base`; it may point one past the ring's end (or, on a
     * mirrored ring, into the mirror). The fast push may move top up to
     * push_end and the fast pop down to pop_end; the slow paths
     * (pool/deque.c) move top to another lap, grow, share and reclaim, and
     * reset both ends after each. */
    GUST__ALIGNAS(GUST__CACHE_LINE) gust__slot_t *top;
    gust__slot_t *push_end; /* the lower of: the ring's (or mirror's) end, push_limit's slot */
    gust__slot_t *pop_end;  /* the higher of: the ring's start, split's slot */
    uint32_t lap_base;
    uint32_t split; /* the owner's copy: only the owner moves split */
    /* The head at which the ring is full as far as the owner knows: a tail
     * it read earlier (<= the real one) plus the capacity. */
    uint32_t push_limit;
    gust__ring_t *owner_ring;
} gust__deque_t;

GUST__STATIC_ASSERT(offsetof(gust__deque_t, top) % GUST__CACHE_LINE == 0,
                    "owner-private deque state must not share a line with thief-visible state");

/* The part of a worker that the fast paths touch; every worker begins with
 * it (pool/internal.h). After the deque, owner-private: the counters are
 * written only by the worker and read by anyone (gust_pool_stats). */
typedef struct gust__worker_front_s {
    gust__deque_t deque;
    GUST__ALIGNAS(GUST__CACHE_LINE) gust_pool_t *pool;
    GUST__ATOMIC(uint64_t) tasks_run;
    GUST__ATOMIC(uint64_t) spawned;
} gust__worker_front_t;

/* The worker running on this thread. On any other thread, a sentinel whose
 * pool is NULL and which nothing writes (pool/worker.c), so that the fast
 * paths can read the current worker's pool without a NULL test.
 * Initial-exec TLS: gust is linked into the program or loaded with it, never
 * dlopen'ed late. */
GUST_EXTERN extern GUST__THREAD_LOCAL struct gust__worker_s *gust__current
    __attribute__((tls_model("initial-exec")));

/* A statistics counter, written only by its worker and read by anyone: a
 * relaxed load and store, or nothing at all without statistics. The inline
 * paths count in the caller's code, so GUST_POOL_NO_STATS must be defined (or
 * not) alike for gust and for the code that includes it.
 *
 * On x86-64 the increment is one unlocked add to memory, a third of the
 * instructions of the load and store: the store half of an aligned 8-byte
 * add is a single access, so a reader's relaxed load sees the old or the new
 * value, as with the C11 pair, which ThreadSanitizer builds keep (it cannot
 * see into the assembly). */
#if defined(__SANITIZE_THREAD__)
#define GUST__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GUST__TSAN 1
#endif
#endif
/* The add is written for both assembler syntaxes (-masm=intel). Its source
 * is an immediate or a register, but always a register under clang, whose
 * Intel syntax cannot size an immediate added to memory. */
#if defined(__clang__)
#define GUST__COUNT_SOURCE "r"
#else
#define GUST__COUNT_SOURCE "er"
#endif
#if defined(GUST_POOL_NO_STATS)
/* sizeof: the counter is named, so its worker is used, but not read. */
#define GUST__COUNT(counter, n) ((void)sizeof(counter), (void)sizeof(n))
#elif defined(__x86_64__) && !defined(GUST__TSAN)
#define GUST__COUNT(counter, n)                                                                    \
    __asm__("{addq %1, %0|add %0, %1}" : "+m"(counter) : GUST__COUNT_SOURCE((uint64_t)(n)))
#else
#define GUST__COUNT(counter, n)                                                                    \
    GUST__STORE(&(counter), GUST__LOAD(&(counter), relaxed) + (n), relaxed)
#endif

GUST_EXTERN inline gust__worker_front_t *gust__current_front(void)
{
    /* A worker begins with its front, so the two pointers are one. */
    return (gust__worker_front_t *)(void *)gust__current;
}

GUST_EXTERN inline void gust__slot_store(gust__slot_t *slot, gust_task_fn fn, void *arg,
                                         gust__group_ref_t group)
{
    /* Relaxed: the owner publishes slots to thieves through the release CAS
     * that moves split past them (gust__deque_share), never through these
     * stores. */
    GUST__STORE(&slot->fn, fn, relaxed);
    GUST__STORE(&slot->arg, arg, relaxed);
    GUST__STORE(&slot->group, group, relaxed);
}

GUST_EXTERN inline void gust__slot_load(const gust__slot_t *slot, gust__task_t *out)
{
    /* Relaxed: a thief's read is validated by its CAS afterwards; the owner
     * reads only slots it wrote itself. */
    gust__slot_t *s = (gust__slot_t *)slot;
    out->fn = GUST__LOAD(&s->fn, relaxed);
    out->arg = GUST__LOAD(&s->arg, relaxed);
    out->group = GUST__LOAD(&s->group, relaxed);
}

/* Owner only. The fast paths of push and pop: they do the common case (room
 * before push_end, a private task above pop_end, no thief asking for work)
 * and return false, having done nothing, in every other; then the caller
 * falls back to gust__deque_push or gust__deque_pop (pool/deque.h). */
GUST_EXTERN inline bool gust__deque_try_push(gust__deque_t *deque, gust_task_fn fn, void *arg,
                                             gust__group_ref_t group)
{
    /* Read once into a local: the compiler cannot tell that the atomic slot
     * stores leave `top` alone. */
    gust__slot_t *top = deque->top;
    if (__builtin_expect(top == deque->push_end, 0) ||
        __builtin_expect(GUST__LOAD(&deque->split_wanted, relaxed), 0))
        return false;
    gust__slot_store(top, fn, arg, group);
    deque->top = top + 1;
    return true;
}

/* Whether the owner may pop: a private task lies above pop_end, and no
 * thief asks for a share (which gust__deque_pop would give). */
GUST_EXTERN inline bool gust__deque_can_pop(const gust__deque_t *deque)
{
    return __builtin_expect(deque->top != deque->pop_end, 1) &&
           __builtin_expect(!GUST__LOAD(&deque->split_wanted, relaxed), 1);
}

GUST_EXTERN inline bool gust__deque_try_pop(gust__deque_t *deque, gust__task_t *out)
{
    if (!gust__deque_can_pop(deque))
        return false;
    deque->top--;
    gust__slot_load(deque->top, out);
    return true;
}

/* As gust__deque_try_pop, but only a task whose group reference is `group`. */
GUST_EXTERN inline bool gust__deque_try_pop_of(gust__deque_t *deque, gust__group_ref_t group,
                                               gust__task_t *out)
{
    if (!gust__deque_can_pop(deque))
        return false;
    gust__slot_t *slot = deque->top - 1;
    if (GUST__LOAD(&slot->group, relaxed) != group)
        return false;
    deque->top = slot;
    out->fn = GUST__LOAD(&slot->fn, relaxed);
    out->arg = GUST__LOAD(&slot->arg, relaxed);
    out->group = group;
    return true;
}

/* pool/group.c: a task counted in its group's remote count finished. */
GUST_EXTERN void gust__group_task_done_remote(gust_group_t *group);

/* Runs one task on worker `self`, leaving its group to the caller. */
GUST_EXTERN inline void gust__run_task_only(gust__worker_front_t *self, const gust__task_t *task)
{
    GUST__COUNT(self->tasks_run, 1);
    task->fn(task->arg);
}

/* Settles a finished task's group. A task whose reference is untagged came
 * off the deque of its group's owner, and the caller is that owner: every
 * other way to a worker (stealing, the injection queue) tags it. */
GUST_EXTERN inline void gust__settle_task(gust__group_ref_t group)
{
    if (__builtin_expect((group & GUST__REF_REMOTE) == 0, 1))
        ((gust_group_t *)group)->local -= GUST__GROUP_ONE;
    else if (group != GUST__NO_GROUP)
        gust__group_task_done_remote((gust_group_t *)(group - GUST__REF_REMOTE));
}

/* Runs one task on worker `self`, settling its group. */
GUST_EXTERN inline void gust__run_task(gust__worker_front_t *self, const gust__task_t *task)
{
    gust__run_task_only(self, task);
    gust__settle_task(task->group);
}

/* pool/group.c: every case the inline paths below leave out. */
GUST_EXTERN bool gust__group_spawn_slow(gust_group_t *group, gust_task_fn fn, void *arg);
GUST_EXTERN void gust__group_wait_slow(gust_group_t *group);

/* The public functions, declared with their documentation in gust/pool.h. */

GUST_EXTERN inline gust_pool_t *gust_pool_current(void)
{
    return gust__current_front()->pool;
}

GUST_EXTERN inline void gust_group_init(gust_group_t *group, gust_pool_t *pool)
{
    gust__worker_front_t *self = gust__current_front();
    /* A worker's address is never odd, so `owner` equals the current worker
     * only on the owner (outside the pool, the current worker is a sentinel
     * with no pool). */
    group->owner = self->pool == pool ? (uintptr_t)self : (uintptr_t)pool + GUST__REF_REMOTE;
    group->local = 0;
    GUST__ATOMIC_INIT(&group->remote, 0);
}

GUST_EXTERN inline bool gust_group_spawn(gust_group_t *group, gust_task_fn fn, void *arg)
{
    gust__worker_front_t *self = gust__current_front();
    /* The fork-join case: the owner (always a worker of the group's pool)
     * spawns and the fast push takes the task. */
    if (__builtin_expect(group->owner == (uintptr_t)self, 1) &&
        __builtin_expect(gust__deque_try_push(&self->deque, fn, arg, (gust__group_ref_t)group),
                         1)) {
        group->local += GUST__GROUP_ONE;
        GUST__COUNT(self->spawned, 1);
        return true;
    }
    return gust__group_spawn_slow(group, fn, arg);
}

/* Whether a group owned by a worker is done. Its remote count has the
 * sleeper bit only while the owner sleeps in the slow path's wait, so the
 * two counts add up wherever this is called. Acquire: pairs with the release in
 * gust__group_task_done_remote. */
GUST_EXTERN inline bool gust__owned_group_done(const gust_group_t *group)
{
    return group->local + GUST__LOAD((GUST__ATOMIC(unsigned) *)&group->remote, acquire) == 0;
}

GUST_EXTERN inline void gust_group_wait(gust_group_t *group)
{
    gust__worker_front_t *self = gust__current_front();
    if (__builtin_expect(group->owner == (uintptr_t)self, 1)) {
        /* The owner runs the group's tasks back off its own deque, newest
         * first: usually the one just spawned, after which the group is
         * done. While such a task is on top, it counts in `local`, so the
         * group is not done. The task is settled through `group`, whose
         * address the compiler knows, not through the reference loaded from
         * the deque, which the CPU would have to wait for (spawn + join
         * measured 8% faster). Everything else, including a group with
         * nothing left to run here, goes to the slow path. */
        gust__task_t task;
        while (gust__deque_try_pop_of(&self->deque, (gust__group_ref_t)group, &task)) {
            gust__run_task_only(self, &task);
            group->local -= GUST__GROUP_ONE;
            if (__builtin_expect(gust__owned_group_done(group), 1))
                return;
        }
    }
    gust__group_wait_slow(group);
}

#endif
