/* Task groups: fork-join whose fast path costs no atomic read-modify-write.
 *
 * A group counts its unfinished tasks in two parts, both in steps of two and
 * modulo 2^32. `local` is spawned by the owner (the worker that created the
 * group) minus settled from its deque; only the owner touches it. `remote` is
 * spawned by every other thread minus finished elsewhere, in an atomic; bit 0
 * is set while an owner outside the pool sleeps on it. A task spawned by the
 * owner and stolen counts +2 locally and -2 remotely, so each count drifts
 * with the steals and only the sum means anything. The group is done when
 * local + remote == 0 (less the sleeper bit). Every spawn is counted before
 * the spawning task itself finishes, so the sum stays above zero while
 * anything is outstanding. Which count a task settles is marked in its
 * reference (gust/pool_inline.h).
 *
 * In fork-join code nearly every task is spawned and run by its owner, so a
 * spawn plus its join is a deque push, a pop and two plain increments, inline
 * in the caller (gust/pool_inline.h). This file has the rest. */
#include <stdio.h>
#include <stdlib.h>

#include "pool/internal.h"

/* Bit 0 of remote: the owner sleeps until the group is done: on the futex
 * of `remote` if it is outside the pool, parked if it is a worker. */
enum { REMOTE_SLEEPER = 1 };

/* The external definitions of the public functions inline in
 * gust/pool_inline.h, and of the helper they share with the workers. */
extern inline void gust_group_init(gust_group_t *group, gust_pool_t *pool);
extern inline bool gust_group_spawn(gust_group_t *group, gust_task_fn fn, void *arg);
extern inline void gust_group_wait(gust_group_t *group);
extern inline void gust__run_task_only(gust__worker_front_t *self, const gust__task_t *task);
extern inline void gust__settle_task(gust__group_ref_t group);
extern inline void gust__run_task(gust__worker_front_t *self, const gust__task_t *task);
extern inline gust__worker_front_t *gust__current_front(void);
extern inline bool gust__owned_group_done(const gust_group_t *group);

void gust__group_task_done_remote(gust_group_t *group)
{
    /* Read first: once the count drops, the owner may return and free the
     * group. A worker outlives the tasks of its pool. */
    uintptr_t owner = group->owner;
    /* Release: the task's effects happen before the owner's acquire load
     * that sees the group done. Nothing of the group is touched after this
     * (a futex wake on a stale address is harmless). */
    unsigned before =
        atomic_fetch_sub_explicit(&group->remote, GUST__GROUP_ONE, memory_order_release);
    if (before != GUST__GROUP_ONE + REMOTE_SLEEPER)
        return;
    if (owner & GUST__REF_REMOTE)
        gust__futex_wake(&group->remote, 1);
    else
        gust__unpark_worker((gust__worker_t *)owner);
}

/* The pool of a group, from its owner word. */
static gust_pool_t *group_pool(const gust_group_t *group)
{
    if (group->owner & GUST__REF_REMOTE)
        return (gust_pool_t *)(group->owner - GUST__REF_REMOTE);
    return ((const gust__worker_front_t *)group->owner)->pool;
}

bool gust__group_spawn_slow(gust_group_t *group, gust_task_fn fn, void *arg)
{
    gust__worker_t *self = gust__current;
    if (group->owner == (uintptr_t)self) {
        /* The owner, where the fast push declined: its deque full, top at a
         * plain ring's end, or a thief asking for work. */
        group->local += GUST__GROUP_ONE;
        gust__push_local(self, fn, arg, (gust__group_ref_t)group);
        return true;
    }
    /* Any other thread counts remotely. Relaxed: counted before the task
     * exists; pushing it or the injection queue orders the count before the
     * task's own decrement. */
    atomic_fetch_add_explicit(&group->remote, GUST__GROUP_ONE, memory_order_relaxed);
    gust_pool_t *pool = group_pool(group);
    gust__group_ref_t ref = (gust__group_ref_t)group + GUST__REF_REMOTE;
    if (self->front.pool == pool) {
        gust__push_local(self, fn, arg, ref);
        return true;
    }
    if (!gust__inject(pool, &(gust__task_t){fn, arg, ref})) {
        gust__group_task_done_remote(group);
        return false;
    }
    return true;
}

/* An owner outside the pool sleeps on the remote count. */
static void sleep_until_done(gust_group_t *group)
{
    /* Acq_rel: announces the sleeper before reading the count, in one step
     * with the completers' decrements, so the last one sees the flag. */
    unsigned value =
        atomic_fetch_or_explicit(&group->remote, REMOTE_SLEEPER, memory_order_acq_rel) |
        REMOTE_SLEEPER;
    while (value != REMOTE_SLEEPER) {
        gust__futex_wait(&group->remote, value, NULL);
        value = atomic_load_explicit(&group->remote, memory_order_acquire);
    }
    atomic_store_explicit(&group->remote, 0, memory_order_relaxed);
}

static bool group_done(const void *group)
{
    return gust__owned_group_done(group);
}

/* Makes the owner's count part of the remote one and marks the owner asleep,
 * so that the thread finishing the last task sees the mark and wakes it.
 * Returns false if the group is done already (then nothing is marked). */
static bool mark_owner_asleep(gust_group_t *group)
{
    /* The sum is all that counts, and only the owner writes `local`. With it
     * folded in, `remote` alone reaches the mark when the group is done.
     * Acquire: as in gust__owned_group_done, when it is done already. */
    unsigned add = group->local + REMOTE_SLEEPER;
    group->local = 0;
    unsigned before = atomic_fetch_add_explicit(&group->remote, add, memory_order_acquire);
    if (before + add != REMOTE_SLEEPER)
        return true;
    atomic_store_explicit(&group->remote, 0, memory_order_relaxed);
    return false;
}

void gust__group_wait_slow(gust_group_t *group)
{
    gust__worker_t *self = gust__current;
    if (group->owner != (uintptr_t)self) {
        if ((group->owner & GUST__REF_REMOTE) && self->front.pool != group_pool(group)) {
            sleep_until_done(group);
            return;
        }
        fputs("gust_group_wait: only the thread that initialised the group may wait on it\n",
              stderr);
        abort();
    }
    /* The owner, where the inline path stopped: its deque needs sharing or
     * reclaiming, or the group's remaining tasks were stolen and it helps
     * with other work until they finish, sleeping when there is none. Its
     * own deque it runs however deep it is nested: those tasks were spawned
     * by the frames below, which bound them. */
    gust__wait_t wait;
    bool may_help = gust__wait_enter(self, &wait, group_done, group);
    unsigned idle_rounds = 0;
    while (!gust__owned_group_done(group)) {
        gust__task_t task;
        if (gust__pop_local(self, &task)) {
            gust__run_task(&self->front, &task);
            idle_rounds = 0;
            continue;
        }
        if (!gust__wait_step(self, may_help, &idle_rounds))
            continue;
        if (mark_owner_asleep(group)) {
            gust__wait_sleep(self, may_help, NULL);
            /* Acquire: the tasks finished while asleep happen before the
             * check above. Clearing the mark needs no wakeup of anyone. */
            atomic_fetch_sub_explicit(&group->remote, REMOTE_SLEEPER, memory_order_acquire);
        }
    }
    gust__wait_leave(self, &wait);
}
