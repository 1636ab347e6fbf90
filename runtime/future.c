/* Futures: exactly-once completion, a lock-free callback list, and waiting
 * that sleeps outside the pool and helps inside it. */
#include "gust/future.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gust/err.h"
#include "pool/internal.h"

/* A registered callback; also the task that runs it. */
typedef struct callback_s {
    struct callback_s *next;
    gust_future_cb cb;
    void *arg;
    gust_future_t *future; /* a reference, dropped after cb */
    bool owned;            /* freed after cb (not in a future or a combinator) */
} callback_t;

/* The callback list's head once the future is complete: later callbacks are
 * scheduled at once instead of queued. */
static callback_t closed_list;
#define CLOSED (&closed_list)

/* state: the gust_future_state_t in the low bits, SLEEPER while a thread
 * outside the pool sleeps on it (a futex word), WORKER_PARKED once a worker
 * has listed itself in `parked`. */
enum { STATE_MASK = 7, SLEEPER = 8, WORKER_PARKED = 16 };

/* A worker parked waiting for a future, in the future's list. The node lives
 * in the waiting frame, which takes it out before it returns. */
typedef struct parked_s {
    gust__worker_t *worker;
    struct parked_s *next;
} parked_t;

struct gust_future_s {
    atomic_int state;
    atomic_bool claimed; /* a completer won the right to fill the outcome */
    /* Parked workers, under parked_lock: publish() unparks them holding the
     * lock, so no waiter leaves, and no pool is freed, meanwhile. */
    atomic_flag parked_lock;
    parked_t *parked;
    atomic_long refs;
    _Atomic(callback_t *) callbacks;
    gust_pool_t *pool;
    void *value;
    void (*destroy)(void *value);
    int err;
    char *message; /* NULL: gust_strerror(err) */
    /* The first gust_future_on_done's node: most futures get one callback,
     * which then costs no allocation. It lives as long as the reference the
     * callback holds. */
    atomic_bool first_taken;
    callback_t first;
};

gust_future_t *gust_future_new(gust_pool_t *pool)
{
    gust_future_t *future = calloc(1, sizeof(*future));
    if (future == NULL)
        return NULL;
    atomic_init(&future->state, GUST_FUTURE_PENDING);
    atomic_init(&future->claimed, false);
    atomic_flag_clear(&future->parked_lock);
    atomic_init(&future->refs, 1);
    atomic_init(&future->callbacks, NULL);
    atomic_init(&future->first_taken, false);
    future->pool = pool;
    return future;
}

gust_future_t *gust_future_up_ref(gust_future_t *future)
{
    /* Relaxed: the caller already holds a reference. */
    atomic_fetch_add_explicit(&future->refs, 1, memory_order_relaxed);
    return future;
}

void gust_future_free(gust_future_t *future)
{
    if (future == NULL)
        return;
    /* Acq_rel: every use through other references happens before the free. */
    if (atomic_fetch_sub_explicit(&future->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (future->destroy != NULL)
        future->destroy(future->value);
    free(future->message);
    free(future);
}

static void run_callback(void *arg)
{
    callback_t *callback = arg;
    gust_future_t *future = callback->future;
    /* Read before cb: a combinator's cb may free the block holding the node. */
    bool owned = callback->owned;
    callback->cb(future, callback->arg);
    if (owned)
        free(callback);
    gust_future_free(future);
}

static void schedule(callback_t *callback)
{
    if (!gust_pool_submit(callback->future->pool, run_callback, callback)) {
        /* Out of memory for the injection node: running it here breaks the
         * "never inside the completer" rule, but losing it would break
         * "exactly once", which matters more. */
        run_callback(callback);
    }
}

static void lock_parked(gust_future_t *future)
{
    /* Acquire and release: the list is read and written only inside. */
    while (atomic_flag_test_and_set_explicit(&future->parked_lock, memory_order_acquire))
        gust__cpu_relax();
}

static void unlock_parked(gust_future_t *future)
{
    atomic_flag_clear_explicit(&future->parked_lock, memory_order_release);
}

/* Wakes the workers parked waiting for `future`. A worker that stops waiting
 * before it parks only parks once for nothing later. */
static void unpark_waiters(gust_future_t *future)
{
    lock_parked(future);
    for (parked_t *node = future->parked; node != NULL; node = node->next)
        gust__unpark_worker(node->worker);
    future->parked = NULL;
    unlock_parked(future);
}

/* The winner of `claimed` publishes the outcome filled in by the caller. */
static void publish(gust_future_t *future, gust_future_state_t final_state)
{
    /* Once the state is final a waiter may drop the last reference it had:
     * hold one until the callbacks are handed off. */
    gust_future_up_ref(future);
    /* Release: the outcome fields happen before any acquire load that sees
     * the final state. */
    int before = atomic_exchange_explicit(&future->state, (int)final_state, memory_order_acq_rel);
    if (before & SLEEPER)
        gust__futex_wake(&future->state, INT_MAX);
    if (before & WORKER_PARKED)
        unpark_waiters(future);
    /* Acq_rel: takes every callback registered so far; later ones see CLOSED
     * and schedule themselves. */
    callback_t *list = atomic_exchange_explicit(&future->callbacks, CLOSED, memory_order_acq_rel);
    /* The list is newest first: reverse it so callbacks run in the order they
     * were added (as far as the pool keeps order). */
    callback_t *in_order = NULL;
    while (list != NULL) {
        callback_t *next = list->next;
        list->next = in_order;
        in_order = list;
        list = next;
    }
    while (in_order != NULL) {
        callback_t *next = in_order->next;
        schedule(in_order);
        in_order = next;
    }
    gust_future_free(future);
}

static bool claim(gust_future_t *future)
{
    bool expected = false;
    return atomic_compare_exchange_strong_explicit(&future->claimed, &expected, true,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

bool gust_future_set_value(gust_future_t *future, void *value, void (*destroy)(void *value))
{
    if (!claim(future))
        return false;
    future->value = value;
    future->destroy = destroy;
    publish(future, GUST_FUTURE_VALUE);
    return true;
}

bool gust_future_set_error(gust_future_t *future, int err, const char *fmt, ...)
{
    if (!claim(future))
        return false;
    future->err = err < 0 ? err : GUST_ERR_INVAL;
    if (fmt != NULL) {
        va_list args;
        va_start(args, fmt);
        if (vasprintf(&future->message, fmt, args) < 0)
            future->message = NULL; /* out of memory: the code's own message */
        va_end(args);
    }
    publish(future, GUST_FUTURE_ERROR);
    return true;
}

bool gust_future_cancel(gust_future_t *future)
{
    if (!claim(future))
        return false;
    future->err = GUST_ERR_CANCELLED;
    publish(future, GUST_FUTURE_CANCELLED);
    return true;
}

/* Registers a callback node the caller filled in (cb, arg, owned). */
static void add_callback(gust_future_t *future, callback_t *callback)
{
    callback->future = gust_future_up_ref(future);
    callback_t *head = atomic_load_explicit(&future->callbacks, memory_order_acquire);
    do {
        if (head == CLOSED) {
            schedule(callback);
            return;
        }
        callback->next = head;
        /* Release: the node's fields happen before publish() takes it. */
    } while (!atomic_compare_exchange_weak_explicit(&future->callbacks, &head, callback,
                                                    memory_order_release, memory_order_acquire));
}

int gust_future_on_done(gust_future_t *future, gust_future_cb cb, void *arg)
{
    /* Relaxed: the node is published by add_callback's release, and only
     * the one registration that wins the exchange writes it. */
    bool first = !atomic_load_explicit(&future->first_taken, memory_order_relaxed) &&
                 !atomic_exchange_explicit(&future->first_taken, true, memory_order_relaxed);
    callback_t *callback = first ? &future->first : malloc(sizeof(*callback));
    if (callback == NULL)
        return GUST_ERR_NOMEM;
    callback->cb = cb;
    callback->arg = arg;
    callback->owned = !first;
    add_callback(future, callback);
    return GUST_OK;
}

gust_future_state_t gust_future_state(const gust_future_t *future)
{
    /* Acquire: pairs with publish(), so the outcome fields can be read. */
    int state = atomic_load_explicit((atomic_int *)&future->state, memory_order_acquire);
    return (gust_future_state_t)(state & STATE_MASK);
}

void *gust_future_value(const gust_future_t *future)
{
    return gust_future_state(future) == GUST_FUTURE_VALUE ? future->value : NULL;
}

int gust_future_error(const gust_future_t *future)
{
    gust_future_state_t state = gust_future_state(future);
    return state == GUST_FUTURE_ERROR || state == GUST_FUTURE_CANCELLED ? future->err : 0;
}

const char *gust_future_message(const gust_future_t *future)
{
    int err = gust_future_error(future);
    if (err == 0)
        return NULL;
    return future->message != NULL ? future->message : gust_strerror(err);
}

static bool before_deadline(const struct timespec *deadline)
{
    return deadline == NULL || !gust__deadline_passed(deadline);
}

static bool future_done(const void *future)
{
    return gust_future_state(future) != GUST_FUTURE_PENDING;
}

/* Lists `node`'s worker as parked waiting for `future`, so that publish()
 * unparks it. Returns false if the future is complete already. */
static bool list_parked(gust_future_t *future, parked_t *node)
{
    lock_parked(future);
    node->next = future->parked;
    future->parked = node;
    unlock_parked(future);
    /* Acq_rel: the mark is set in one step with reading the state, so
     * publish() either sees the mark, and then the node, or we see the final
     * state. */
    int state = atomic_fetch_or_explicit(&future->state, WORKER_PARKED, memory_order_acq_rel);
    return (state & STATE_MASK) == GUST_FUTURE_PENDING;
}

/* Takes `node` out of the list, if publish() has not emptied it already. */
static void unlist_parked(gust_future_t *future, parked_t *node)
{
    lock_parked(future);
    for (parked_t **link = &future->parked; *link != NULL; link = &(*link)->next) {
        if (*link == node) {
            *link = node->next;
            break;
        }
    }
    unlock_parked(future);
}

/* A worker waits by running other tasks, and when there are none parks,
 * listed in the future, until its completion unparks it. */
static gust_future_state_t wait_on_worker(gust_future_t *future, const struct timespec *deadline)
{
    gust__worker_t *self = gust__current;
    gust__wait_t wait;
    bool may_help = gust__wait_enter(self, &wait, future_done, future);
    parked_t node = {.worker = self};
    bool listed = false;
    unsigned idle_rounds = 0;
    gust_future_state_t state;
    while ((state = gust_future_state(future)) == GUST_FUTURE_PENDING &&
           before_deadline(deadline)) {
        if (!gust__wait_step(self, may_help, &idle_rounds))
            continue;
        if (!listed) {
            listed = true;
            if (!list_parked(future, &node))
                continue;
        }
        gust__wait_sleep(self, may_help, deadline);
    }
    if (listed)
        unlist_parked(future, &node);
    gust__wait_leave(self, &wait);
    return state;
}

static gust_future_state_t wait_until(gust_future_t *future, const struct timespec *deadline)
{
    gust_future_state_t state = gust_future_state(future);
    if (state != GUST_FUTURE_PENDING)
        return state;
    if (gust_pool_current() != NULL)
        return wait_on_worker(future, deadline);
    /* Acq_rel: the sleeper flag is set in one step with reading the state, so
     * publish() either sees the flag or we see the final state. */
    int value = atomic_fetch_or_explicit(&future->state, SLEEPER, memory_order_acq_rel) | SLEEPER;
    while ((value & STATE_MASK) == GUST_FUTURE_PENDING && before_deadline(deadline)) {
        gust__futex_wait(&future->state, (unsigned)value, deadline);
        value = atomic_load_explicit(&future->state, memory_order_acquire);
    }
    return (gust_future_state_t)(value & STATE_MASK);
}

gust_future_state_t gust_future_wait(gust_future_t *future)
{
    return wait_until(future, NULL);
}

gust_future_state_t gust_future_wait_for(gust_future_t *future, uint64_t timeout_ns)
{
    struct timespec deadline;
    gust__deadline_after(CLOCK_MONOTONIC, timeout_ns, &deadline);
    return wait_until(future, &deadline);
}

/* all / any: one block holding the result, a callback node and a reference
 * per input, freed when the last input has completed. */
typedef struct combine_s {
    gust_future_t *result;
    atomic_size_t remaining;
    size_t num;
    bool any;
    gust_future_t **inputs; /* in this block, after the nodes */
    callback_t nodes[];
} combine_t;

static void settle_all(combine_t *combine)
{
    for (size_t i = 0; i < combine->num; i++) {
        gust_future_t *input = combine->inputs[i];
        if (gust_future_state(input) != GUST_FUTURE_VALUE) {
            gust_future_set_error(combine->result, gust_future_error(input), "%s",
                                  gust_future_message(input));
            return;
        }
    }
    gust_future_set_value(combine->result, NULL, NULL);
}

static void on_input_done(gust_future_t *input, void *arg)
{
    combine_t *combine = arg;
    if (combine->any) {
        size_t index = 0;
        while (combine->inputs[index] != input)
            index++;
        gust_future_set_value(combine->result, (void *)(uintptr_t)index, NULL);
    }
    /* Acq_rel: the last input sees every other input's completion. */
    if (atomic_fetch_sub_explicit(&combine->remaining, 1, memory_order_acq_rel) != 1)
        return;
    if (!combine->any)
        settle_all(combine);
    gust_future_free(combine->result);
    for (size_t i = 0; i < combine->num; i++)
        gust_future_free(combine->inputs[i]);
    /* The nodes live in this block: inputs drop their own references in
     * run_callback after this returns, and none reads the node afterwards. */
    free(combine);
}

static gust_future_t *combine(gust_pool_t *pool, gust_future_t *const *futures, size_t num,
                              bool any)
{
    gust_future_t *result = gust_future_new(pool);
    if (result == NULL)
        return NULL;
    if (num == 0) {
        if (!any)
            gust_future_set_value(result, NULL, NULL);
        return result;
    }
    combine_t *block =
        malloc(sizeof(*block) + num * (sizeof(callback_t) + sizeof(gust_future_t *)));
    if (block == NULL) {
        gust_future_free(result);
        return NULL;
    }
    block->result = gust_future_up_ref(result);
    atomic_init(&block->remaining, num);
    block->num = num;
    block->any = any;
    block->inputs = (gust_future_t **)&block->nodes[num];
    for (size_t i = 0; i < num; i++)
        block->inputs[i] = gust_future_up_ref(futures[i]);
    for (size_t i = 0; i < num; i++) {
        block->nodes[i].cb = on_input_done;
        block->nodes[i].arg = block;
        block->nodes[i].owned = false;
        add_callback(futures[i], &block->nodes[i]);
    }
    return result;
}

gust_future_t *gust_future_all(gust_pool_t *pool, gust_future_t *const *futures, size_t num)
{
    return combine(pool, futures, num, false);
}

gust_future_t *gust_future_any(gust_pool_t *pool, gust_future_t *const *futures, size_t num)
{
    return combine(pool, futures, num, true);
}
