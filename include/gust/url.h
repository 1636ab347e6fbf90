/* gust/url.h: absolute http and https URLs, parsed and checked once.
 *
 * Parsing uses http-parser's URL parser, then adds what a client needs: only
 * http and https; a host is required; the port defaults from the scheme; an
 * IPv6 literal loses its brackets for connecting and keeps them for the Host
 * header; the request target is path plus query ("/" when empty), and the
 * fragment is dropped. Control characters, spaces and user:password@ in the
 * URL are refused (credentials in URLs leak into logs and redirects). */
#ifndef GUST_URL_H
#define GUST_URL_H

#include "gust/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gust/http_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gust_url_s {
    bool https;
    uint16_t port;
    char *host;      /* for connecting: "example.com", "::1" */
    char *authority; /* for the Host header: "example.com:8080", "[::1]" (no default port) */
    char *target;    /* for the request line: "/a/b?q=1" */
    char *origin;    /* "https://example.com:8080": scheme, host and port, for errors and pools */
} gust_url_t;

/* The longest URL gust_url_parse accepts, in bytes. http-parser keeps
 * offsets and lengths in 16 bits and wraps past 65,535 bytes (the host
 * itself could then change); 32 KiB stays well below that and is four
 * times what nginx and Apache take in a request line by default. */
#define GUST_URL_MAX_LEN 32768

/* The longest host name gust_url_parse accepts: DNS's limit on a name. */
#define GUST_URL_MAX_HOST_LEN 255

/* gust_url_parse parses the NUL-terminated `text` into *out. Returns 0, or
 * GUST_ERR_URL (malformed, or a forbidden character), GUST_ERR_SCHEME (not
 * http or https), GUST_ERR_URL_TOO_LONG (over GUST_URL_MAX_LEN, or a host
 * over GUST_URL_MAX_HOST_LEN) or GUST_ERR_NOMEM; on error *out holds nothing
 * to free and, if out_reason is not NULL, *out_reason names the cause (a
 * string valid until this thread's next gust_url_parse). On success the
 * caller frees *out with gust_url_clear. Any thread. */
GUST_EXTERN int gust_url_parse(const char *text, gust_url_t *out, const char **out_reason);

/* gust_url_share sets *out to `url` without parsing or copying it: the two
 * share their strings, which neither may then change, and each is cleared
 * on its own (the strings go with the last). `url` must hold a parsed URL.
 * Any thread, each gust_url_t on one at a time. */
GUST_EXTERN void gust_url_share(const gust_url_t *url, gust_url_t *out);

/* gust_url_clear frees what gust_url_parse allocated (or lets go of its
 * share); a cleared or zeroed url may be cleared again. */
GUST_EXTERN void gust_url_clear(gust_url_t *url);

#ifdef __cplusplus
}
#endif

#endif
