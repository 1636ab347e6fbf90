/* Completion queues: workers push completed futures onto a lock-free stack
 * and write an eventfd when they find it empty; the host's thread takes the
 * stack whole and clears the eventfd once it has found it empty. */
#include "gust/completion.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gust/err.h"

/* One gust_cq_add: lives from the add until an event hands its future over
 * or the queue drops it. */
typedef struct entry_s {
    struct entry_s *next;
    gust_future_t *future; /* the queue's reference */
    void *user_data;
    gust_cq_t *cq;
} entry_t;

/* The fd is readable whenever `completed` or `ready` holds an entry, except
 * between a push and its write; it may stay readable with both empty after a
 * poll raced a push, until the next poll. */
struct gust_cq_s {
    /* Completed entries, newest first. Workers push one at a time; the host
     * (and, after gust_cq_free, the workers) take all at once, never one, so
     * a push has no ABA to fear. */
    _Atomic(entry_t *) completed;
    /* One for the host until gust_cq_free, one per entry whose callback has
     * not returned: the fd and this block outlive every callback. */
    atomic_long refs;
    /* Set by gust_cq_free: callbacks drop their entries instead of queuing. */
    atomic_bool freed;
    int fd;
    /* The host's alone: entries taken from `completed`, oldest first. */
    entry_t *ready;
};

gust_cq_t *gust_cq_new(void)
{
    gust_cq_t *cq = malloc(sizeof(*cq));
    if (cq == NULL)
        return NULL;
    cq->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cq->fd < 0) {
        int saved = errno;
        free(cq);
        errno = saved;
        return NULL;
    }
    atomic_init(&cq->completed, NULL);
    atomic_init(&cq->refs, 1);
    atomic_init(&cq->freed, false);
    cq->ready = NULL;
    return cq;
}

int gust_cq_fd(const gust_cq_t *cq)
{
    return cq->fd;
}

static void drop_ref(gust_cq_t *cq)
{
    /* Acq_rel: every callback's and the host's use of the queue happens
     * before the close and the free. */
    if (atomic_fetch_sub_explicit(&cq->refs, 1, memory_order_acq_rel) != 1)
        return;
    close(cq->fd);
    free(cq);
}

static void drop_entries(entry_t *list)
{
    while (list != NULL) {
        entry_t *next = list->next;
        gust_future_free(list->future);
        free(list);
        list = next;
    }
}

static void make_readable(gust_cq_t *cq)
{
    uint64_t one = 1;
    /* Cannot fail: the counter would need 2^64 - 2 writes that nobody read. */
    ssize_t written = write(cq->fd, &one, sizeof(one));
    (void)written;
}

/* The future's callback, on a worker: queues the entry. */
static void on_complete(gust_future_t *future, void *arg)
{
    (void)future;
    entry_t *entry = arg;
    gust_cq_t *cq = entry->cq;
    entry_t *head = atomic_load_explicit(&cq->completed, memory_order_relaxed);
    do {
        entry->next = head;
        /* Seq_cst: releases the entry's fields to the exchange that takes
         * it, and comes before the load of `freed` below in the order that
         * gust_cq_free's store then exchange share. */
    } while (!atomic_compare_exchange_weak_explicit(&cq->completed, &head, entry,
                                                    memory_order_seq_cst, memory_order_relaxed));
    /* Only the push onto an empty stack writes: the host clears the fd only
     * after finding the stack empty (see gust_cq_poll). */
    if (head == NULL)
        make_readable(cq);
    /* Seq_cst: pairs with gust_cq_free (store, then exchange): either it
     * takes this entry, or this load sees `freed` and the exchange here
     * takes it (or another callback's does). */
    if (atomic_load_explicit(&cq->freed, memory_order_seq_cst))
        drop_entries(atomic_exchange_explicit(&cq->completed, NULL, memory_order_acquire));
    drop_ref(cq);
}

int gust_cq_add(gust_cq_t *cq, gust_future_t *future, void *user_data)
{
    if (cq == NULL || future == NULL)
        return GUST_ERR_INVAL;
    entry_t *entry = malloc(sizeof(*entry));
    if (entry == NULL)
        return GUST_ERR_NOMEM;
    entry->future = gust_future_up_ref(future);
    entry->user_data = user_data;
    entry->cq = cq;
    /* Relaxed: the caller's use of the host's reference keeps refs above 0. */
    atomic_fetch_add_explicit(&cq->refs, 1, memory_order_relaxed);
    int err = gust_future_on_done(future, on_complete, entry);
    if (err != GUST_OK) {
        gust_future_free(future);
        free(entry);
        drop_ref(cq);
    }
    return err;
}

/* Reverses a newest-first list into oldest first. */
static entry_t *oldest_first(entry_t *list)
{
    entry_t *reversed = NULL;
    while (list != NULL) {
        entry_t *next = list->next;
        list->next = reversed;
        reversed = list;
        list = next;
    }
    return reversed;
}

size_t gust_cq_poll(gust_cq_t *cq, gust_cq_event_t *out, size_t max)
{
    size_t num = 0;
    for (;;) {
        while (num < max && cq->ready != NULL) {
            entry_t *entry = cq->ready;
            cq->ready = entry->next;
            out[num++] = (gust_cq_event_t){.future = entry->future, .user_data = entry->user_data};
            free(entry);
        }
        if (cq->ready != NULL)
            return num; /* more than max: the fd stays readable */
        /* Acquire: pairs with the pushes' release, so the entries' fields
         * are read after. */
        entry_t *taken = atomic_exchange_explicit(&cq->completed, NULL, memory_order_acquire);
        if (taken == NULL)
            break;
        cq->ready = oldest_first(taken);
    }
    /* Both lists were empty at the exchange: clear the fd. A push onto the
     * stack the exchange emptied writes the fd after the push. If that
     * write came before this read, the read consumed it, and the push is
     * visible to the load below (the eventfd's lock orders the worker's
     * write before this read): make the fd readable again for it. A write
     * that comes after this read leaves the fd readable by itself. */
    uint64_t count;
    ssize_t got = read(cq->fd, &count, sizeof(count));
    (void)got; /* EAGAIN: nothing to clear */
    /* Relaxed: it asks only whether a push happened, and the read above
     * already orders every push whose write it consumed before it. */
    if (atomic_load_explicit(&cq->completed, memory_order_relaxed) != NULL)
        make_readable(cq);
    return num;
}

void gust_cq_free(gust_cq_t *cq)
{
    if (cq == NULL)
        return;
    /* Seq_cst: pairs with on_complete's push then load of `freed`: each
     * entry pushed is either seen by the exchange below or dropped by a
     * callback that saw `freed`. */
    atomic_store_explicit(&cq->freed, true, memory_order_seq_cst);
    drop_entries(cq->ready);
    cq->ready = NULL;
    drop_entries(atomic_exchange_explicit(&cq->completed, NULL, memory_order_seq_cst));
    drop_ref(cq);
}
