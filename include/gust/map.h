/* gust/map.h: many requests at once, with a limit on how many are in flight.
 *
 * gust_http_map sends an array of requests and gives back the responses in
 * input order (grequests.map, requests-futures with a pool size);
 * gust_http_imap hands out results in completion order, pulling requests
 * from a generator only as slots free, so ten million URLs never sit in
 * memory at once. Both run their scheduling on the calling thread and the
 * requests on the client's workers, and both can keep requests to one host
 * under a limit, space them out, and retry connect failures, 429 and 503
 * with exponential backoff and jitter (honouring Retry-After). */
#ifndef GUST_MAP_H
#define GUST_MAP_H

#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gust/client.h"
#include "gust/response.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What became of one request. On success `response` is set and `err` is 0;
 * on failure `err` is the error code (gust/err.h, gust/http_err.h) and
 * `message` names the URL and the cause. */
typedef struct gust_map_result_s {
    size_t index;              /* the request's position in the input */
    gust_response_t *response; /* owned by whoever the call says */
    int err;
    const char *message; /* NULL on success; valid as documented per call */
    unsigned attempts;   /* 1 + retries */
} gust_map_result_t;

/* Options for map and imap; start from gust_map_opts_default(). */
typedef struct gust_map_opts_s {
    /* Requests in flight at most; 0 = only the client's limits. Default 100. */
    unsigned size;
    /* Requests in flight to one host (scheme, host and port); 0 = no limit.
     * Default 0. */
    unsigned per_host;
    /* Time between the starts of two requests to one host. Default 0. */
    uint64_t host_delay_ns;
    /* Retries of a request that failed to connect or got 429 or 503.
     * Default 0. */
    unsigned retries;
    /* The first retry waits about this long, each next one twice as long,
     * with random jitter of up to half, capped at max_backoff_ns; a
     * Retry-After header (seconds) overrides it, under the same cap.
     * Defaults 200 ms and 30 s. */
    uint64_t backoff_ns;
    uint64_t max_backoff_ns;
    /* map only: called on the calling thread for each failed request; its
     * return value (a response the slot then owns, or NULL) fills the slot.
     * NULL leaves failed slots NULL. */
    gust_response_t *(*on_error)(const gust_request_t *req, int err, const char *message,
                                 void *arg);
    /* Called on the calling thread once per request as it completes, in
     * completion order, for progress; borrows the result for the call. */
    void (*on_result)(const gust_map_result_t *result, void *arg);
    void *arg;
} gust_map_opts_t;

GUST_EXTERN gust_map_opts_t gust_map_opts_default(void);

/* gust_http_map sends `num` requests with `opts` (NULL: defaults) and waits
 * for all of them: out[i] is the response to reqs[i] (the caller frees it
 * with gust_response_free), or for a failure what on_error returned.
 * Returns 0, or GUST_ERR_NOMEM / GUST_ERR_INVAL before anything was sent
 * (then out is untouched). Not from a worker of the client's runtime. */
GUST_EXTERN int gust_http_map(gust_client_t *client, const gust_request_t *reqs, size_t num,
                              const gust_map_opts_t *opts, gust_response_t **out);

/* A generator for imap: fills *out with request `index` and returns true,
 * or returns false when there are no more. *out and what it points to need
 * only last until the generator is called again or the iterator is freed
 * (imap copies it). Called on the thread calling gust_imap_next. */
typedef bool (*gust_request_gen)(void *arg, size_t index, gust_request_t *out);

typedef struct gust_imap_s gust_imap_t;

/* gust_http_imap makes an iterator over the requests `gen` produces; nothing
 * is sent until the first gust_imap_next. Returns NULL with errno ENOMEM. */
GUST_EXTERN gust_imap_t *gust_http_imap(gust_client_t *client, gust_request_gen gen, void *gen_arg,
                                        const gust_map_opts_t *opts);

/* gust_imap_next waits for the next completed request and returns true with
 * *out filled, or false when every request has been reported. The response
 * belongs to the caller (gust_response_free); the message stays valid until
 * the next call. Each index is reported exactly once. */
GUST_EXTERN bool gust_imap_next(gust_imap_t *it, gust_map_result_t *out);

/* gust_imap_free cancels what is still in flight, waits for it to end and
 * frees the iterator. NULL does nothing. */
GUST_EXTERN void gust_imap_free(gust_imap_t *it);

#ifdef __cplusplus
}
#endif

#endif
