/* Private to pool/: the injection queue, through which threads that are not
 * workers hand tasks to the pool.
 *
 * An intrusive multi-producer queue after Vyukov: a producer allocates a
 * node, swaps it into `tail` and links its predecessor to it, so enqueue is
 * wait-free (two atomic instructions, no loop). Consumers are workers; one at
 * a time takes a batch behind a try-lock, and a worker that finds the lock
 * taken just looks elsewhere. Written with C11 atomics rather than liburcu's
 * wfcqueue so that ThreadSanitizer can follow it (wfcqueue's atomics are
 * inline assembly that TSan cannot see). */
#ifndef GUST_POOL_INJECT_H
#define GUST_POOL_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "pool/deque.h"

typedef struct gust__inject_node_s {
    _Atomic(struct gust__inject_node_s *) next;
    gust__task_t task;
} gust__inject_node_t;

typedef struct gust__inject_s {
    /* Producers' end. */
    _Alignas(GUST__CACHE_LINE) _Atomic(gust__inject_node_t *) tail;
    /* Consumers' end: written by whoever holds `consumer_lock`; read by
     * anyone asking whether the queue is empty. */
    _Alignas(GUST__CACHE_LINE) atomic_flag consumer_lock;
    _Atomic(gust__inject_node_t *) head;
    gust__inject_node_t stub; /* stands in when the queue is empty */
} gust__inject_t;

void gust__inject_init(gust__inject_t *queue);

/* gust__inject_push enqueues a copy of *task from any thread. Returns false
 * (ENOMEM) if the node could not be allocated. Wait-free otherwise. */
bool gust__inject_push(gust__inject_t *queue, const gust__task_t *task);

/* gust__inject_pop takes up to `max` tasks, oldest first, into `out`, and
 * returns how many. 0 means empty, or another consumer is busy, or a
 * producer is half-way through linking its node: look again later. */
size_t gust__inject_pop(gust__inject_t *queue, gust__task_t *out, size_t max);

/* gust__inject_looks_empty is true when no task is queued (a task being
 * taken by a consumer right now counts as gone). Both ends are needed: when
 * a consumer puts the stub back while a producer is half-way through linking,
 * tail is the stub yet nodes remain ahead of it. seq_cst: it is the load half
 * of the pool's parking handshake. */
bool gust__inject_looks_empty(gust__inject_t *queue);

/* gust__inject_drain frees every node still queued and returns their number.
 * Only once no producer or consumer runs. */
size_t gust__inject_drain(gust__inject_t *queue);

#endif
