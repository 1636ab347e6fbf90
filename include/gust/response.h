/* gust/response.h: what a completed HTTP request gives back.
 *
 * A response is immutable once its future completes, so any thread may read
 * it. It is reference counted: the future that delivered it holds one
 * reference (gust_http_response borrows it from there); take your own with
 * gust_response_up_ref to keep it after the future is freed. */
#ifndef GUST_RESPONSE_H
#define GUST_RESPONSE_H

#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gust/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_response_s gust_response_t;

/* Where the time of a request went, in nanoseconds from gust_http_send. A
 * phase that did not happen (no DNS lookup for an IP literal, no connect on a
 * reused connection) is 0. Measured on the last hop of a redirect chain,
 * except total. "Sending the request" is its end, or its start (a syscall
 * earlier) for a request that goes out in one write; a byte's time is the
 * time the read that brought it returned. */
typedef struct gust_timings_s {
    uint64_t queued_ns;     /* until a connection was ready or a connect started */
    uint64_t dns_ns;        /* name resolution (0 on a cache hit) */
    uint64_t connect_ns;    /* TCP connect (and, with TLS, the handshake) */
    uint64_t first_byte_ns; /* from sending the request to the first response byte */
    uint64_t total_ns;      /* from gust_http_send to the last body byte */
} gust_timings_t;

/* gust_http_response returns the response a request's future completed with
 * (borrowed from the future), or NULL if the future is pending or failed. */
GUST_EXTERN gust_response_t *gust_http_response(const gust_future_t *future);

/* gust_response_up_ref adds a reference and returns `response`. */
GUST_EXTERN gust_response_t *gust_response_up_ref(gust_response_t *response);

/* gust_response_free drops a reference; the last one frees it. NULL does
 * nothing. */
GUST_EXTERN void gust_response_free(gust_response_t *response);

/* The status code (200) and reason phrase ("OK", possibly empty). */
GUST_EXTERN int gust_response_status(const gust_response_t *response);
GUST_EXTERN const char *gust_response_reason(const gust_response_t *response);

/* The HTTP minor version the server answered with (1 for HTTP/1.1). */
GUST_EXTERN int gust_response_http_minor(const gust_response_t *response);

/* Headers in the order received; repeated headers are kept. Names and values
 * are NUL-terminated, values without surrounding whitespace. */
GUST_EXTERN size_t gust_response_num_headers(const gust_response_t *response);
GUST_EXTERN void gust_response_header_at(const gust_response_t *response, size_t index,
                                         const char **out_name, const char **out_value);

/* gust_response_header returns the value of the first header called `name`
 * (compared without regard to case), or NULL. For repeated headers use
 * gust_response_header_next. */
GUST_EXTERN const char *gust_response_header(const gust_response_t *response, const char *name);

/* gust_response_header_next finds the next header called `name` at or after
 * *index: returns its value and leaves *index on it, or returns NULL. Start
 * with *index = 0 and add 1 after each hit. */
GUST_EXTERN const char *gust_response_header_next(const gust_response_t *response, const char *name,
                                                  size_t *index);

/* The body after content decoding (gzip and deflate are decoded unless the
 * client or request turned decoding off), with its length. Empty for HEAD,
 * 1xx, 204 and 304, and when the request streamed the body to a callback.
 * The bytes are followed by a NUL that is not part of the length. */
GUST_EXTERN const void *gust_response_body(const gust_response_t *response, size_t *out_len);

/* The URL that produced this response: the request's, or the last redirect
 * target. */
GUST_EXTERN const char *gust_response_url(const gust_response_t *response);

/* How many redirects were followed to get here. */
GUST_EXTERN unsigned gust_response_num_redirects(const gust_response_t *response);

/* Whether the final hop went over a kept-alive connection that had already
 * served a request. */
GUST_EXTERN bool gust_response_reused(const gust_response_t *response);

/* Where the time went (see gust_timings_t). */
GUST_EXTERN gust_timings_t gust_response_timings(const gust_response_t *response);

#ifdef __cplusplus
}
#endif

#endif
