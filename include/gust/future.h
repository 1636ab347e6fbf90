/* gust/future.h: a value that arrives later, with completion callbacks.
 *
 * A future is pending, then exactly once one of: a value (a pointer with an
 * optional destructor), an error (a gust_err code and a message), or
 * cancelled. Whoever completes it first wins; later attempts return false and
 * change nothing. Completion callbacks run as tasks on the future's pool,
 * never inside the completer's call, and each runs exactly once.
 *
 * Futures are reference counted: gust_future_new returns one reference, each
 * gust_future_up_ref adds one, each gust_future_free drops one, and the last
 * drop destroys the value (with its destructor) and the future. */
#ifndef GUST_FUTURE_H
#define GUST_FUTURE_H

#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gust/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_future_s gust_future_t;

typedef enum gust_future_state_e {
    GUST_FUTURE_PENDING,
    GUST_FUTURE_VALUE,
    GUST_FUTURE_ERROR,
    GUST_FUTURE_CANCELLED,
} gust_future_state_t;

/* A completion callback: runs on a worker of the future's pool once the
 * future is complete. The future stays alive for the whole call. */
typedef void (*gust_future_cb)(gust_future_t *future, void *arg);

/* gust_future_new returns a pending future whose callbacks run on `pool`, or
 * NULL with errno ENOMEM. The caller owns one reference. Any thread. */
GUST_EXTERN gust_future_t *gust_future_new(gust_pool_t *pool);

/* gust_future_up_ref adds a reference and returns `future`. */
GUST_EXTERN gust_future_t *gust_future_up_ref(gust_future_t *future);

/* gust_future_free drops a reference; NULL does nothing. */
GUST_EXTERN void gust_future_free(gust_future_t *future);

/* gust_future_set_value completes `future` with `value`. The future owns
 * the value from then on and calls destroy(value) (if not NULL) when freed.
 * Returns false if the future was already complete: then nothing changed and
 * the caller still owns `value`. Any thread, inside or outside the pool. */
GUST_EXTERN bool gust_future_set_value(gust_future_t *future, void *value,
                                       void (*destroy)(void *value));

/* gust_future_set_error completes `future` with the error code `err` (< 0,
 * see gust/err.h; any other number is taken as GUST_ERR_INVAL) and a
 * printf-style message (`fmt` may be NULL for gust_strerror(err)). Returns
 * false if it was already complete. Any thread. */
GUST_EXTERN bool gust_future_set_error(gust_future_t *future, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* gust_future_cancel completes a pending future as cancelled (its error is
 * GUST_ERR_CANCELLED). Returns false if it was already complete: a
 * cancellation that races a completion loses or wins as a whole. Whoever was
 * going to complete it sees its own completion refused. Any thread. */
GUST_EXTERN bool gust_future_cancel(gust_future_t *future);

/* gust_future_on_done arranges for cb(future, arg) to run on the pool once
 * the future is complete, at once if it already is. Returns 0, or
 * GUST_ERR_NOMEM; then cb will not run. Any thread. */
GUST_EXTERN int gust_future_on_done(gust_future_t *future, gust_future_cb cb, void *arg);

/* gust_future_wait returns once `future` is complete, and its state. From a
 * thread outside the pool it sleeps. From a worker it runs other tasks of its
 * pool meanwhile and, when there are none, sleeps in the worker's park (no
 * CPU, I/O still handled) until the completion wakes it.
 *
 * A task that a wait runs sits on the waiter's stack: the waiter returns
 * only after that task does. So a wait on a one-thread pool does not
 * deadlock on work queued behind it, but it does if a task it runs waits for
 * something that only the code after the first wait would do; a wait that
 * is done but stuck so is reported on stderr after a second. Waits run tasks
 * only while 256 KiB (or a quarter) of the worker's stack is left; a wait
 * nested deeper only sleeps, and leaves its queued tasks to other workers. */
GUST_EXTERN gust_future_state_t gust_future_wait(gust_future_t *future);

/* gust_future_wait_for is gust_future_wait giving up after `timeout_ns`:
 * returns GUST_FUTURE_PENDING if the future is still pending then. */
GUST_EXTERN gust_future_state_t gust_future_wait_for(gust_future_t *future, uint64_t timeout_ns);

/* The outcome, valid once the future is complete (PENDING, NULL, 0 and NULL
 * before): its state; its value (borrowed: the future keeps owning it); its
 * error (0 for a value, GUST_ERR_CANCELLED when cancelled); and its message
 * (borrowed, never NULL once an error is set). */
GUST_EXTERN gust_future_state_t gust_future_state(const gust_future_t *future);
GUST_EXTERN void *gust_future_value(const gust_future_t *future);
GUST_EXTERN int gust_future_error(const gust_future_t *future);
GUST_EXTERN const char *gust_future_message(const gust_future_t *future);

/* gust_future_all returns a new future (one reference to the caller) that
 * completes when all `num` futures have: with value NULL if all have values,
 * else with the error of the first (by index) that failed or was cancelled.
 * gust_future_any completes with the index (as a value, cast from uintptr_t)
 * of the first future to complete, whatever its outcome. Both hold references
 * to the inputs until then. Return NULL with errno ENOMEM (then nothing was
 * registered); with num == 0, `all` is complete at once and `any` never
 * completes until cancelled. Any thread. */
GUST_EXTERN gust_future_t *gust_future_all(gust_pool_t *pool, gust_future_t *const *futures,
                                           size_t num);
GUST_EXTERN gust_future_t *gust_future_any(gust_pool_t *pool, gust_future_t *const *futures,
                                           size_t num);

#ifdef __cplusplus
}
#endif

#endif
