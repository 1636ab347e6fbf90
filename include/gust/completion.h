/* gust/completion.h: completed futures delivered to the host's own event loop.
 *
 * A program with a loop of its own (epoll, libuv, Python's asyncio through
 * add_reader) hands futures to a completion queue and watches one file
 * descriptor. When a future completes, a worker queues it and makes the fd
 * readable; the loop's thread then takes the completed futures with
 * gust_cq_poll, without blocking, and none of its code runs on gust's
 * workers (libcurl's multi_socket and c-ares give their hosts the same):
 *
 *     gust_cq_t *cq = gust_cq_new();
 *     gust_cq_add(cq, gust_http_send(client, &req), ctx);   (then free yours)
 *     ... the loop watches gust_cq_fd(cq) for reading; when it is readable:
 *     gust_cq_event_t events[64];
 *     size_t n = gust_cq_poll(cq, events, 64);
 *     for (size_t i = 0; i < n; i++) {
 *         handle(events[i].future, events[i].user_data);
 *         gust_future_free(events[i].future);
 *     }
 *
 * The fd is level-triggered: it stays readable while completions are queued,
 * until a gust_cq_poll has taken them all, and a completion that races a poll
 * makes it readable again. A completion racing a poll may leave it readable
 * once with nothing queued; the next poll returns 0 and clears it. Watch it
 * level-triggered (epoll without EPOLLET, libuv's uv_poll, add_reader), or
 * edge-triggered and poll until gust_cq_poll returns fewer than asked. */
#ifndef GUST_COMPLETION_H
#define GUST_COMPLETION_H

#include "gust/export.h"

#include <stddef.h>

#include "gust/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_cq_s gust_cq_t;

/* A completed future and the user_data it was added with. The event owns one
 * reference to the future: free it with gust_future_free. */
typedef struct gust_cq_event_s {
    gust_future_t *future;
    void *user_data;
} gust_cq_event_t;

/* gust_cq_new returns an empty completion queue, or NULL with errno set (out
 * of memory, or what eventfd said). Any thread. */
GUST_EXTERN gust_cq_t *gust_cq_new(void);

/* gust_cq_fd returns the queue's fd, for the host's loop to watch for
 * reading. It stays the queue's: do not read, write or close it. Any
 * thread. */
GUST_EXTERN int gust_cq_fd(const gust_cq_t *cq);

/* gust_cq_add queues `future` on `cq` once it completes (at once if it
 * already has), with `user_data` for the event. It takes a reference of its
 * own: the caller keeps (and frees) the one it had. The same future may be
 * added more than once, each time giving one event. Returns 0, or
 * GUST_ERR_NOMEM (then nothing was added), or GUST_ERR_INVAL for a NULL
 * queue or future. Any thread, until gust_cq_free. */
GUST_EXTERN int gust_cq_add(gust_cq_t *cq, gust_future_t *future, void *user_data);

/* gust_cq_poll moves up to `max` completed futures into `out`, in the order
 * they were queued, and returns how many; 0 when none is queued. Never
 * blocks. After it returns fewer than `max`, the fd is not readable until the
 * next completion. Only one thread at a time may poll a queue: the host's
 * loop. */
GUST_EXTERN size_t gust_cq_poll(gust_cq_t *cq, gust_cq_event_t *out, size_t max);

/* gust_cq_free ends the host's use of `cq`: it drops the queue's references
 * to the futures queued, and those still pending drop theirs on the worker
 * that would have queued them, once they complete. The fd stays open until
 * the last of them has (cancel a future nobody will complete). NULL does
 * nothing. Call it from the polling thread, after every gust_cq_add has
 * returned. */
GUST_EXTERN void gust_cq_free(gust_cq_t *cq);

#ifdef __cplusplus
}
#endif

#endif
