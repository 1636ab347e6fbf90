/* gust/err.h: one error space for every layer of gust, as libuv has.
 *
 * How a public function reports failure, everywhere in gust:
 * - A function returning int returns 0 (or the non-negative value its doc
 *   gives) on success, and a negative error code on failure.
 * - A function returning a pointer returns NULL on failure, and one returning
 *   bool whose doc calls false a failure returns false; either sets errno to
 *   a positive number whose negation is the error code (`int err = -errno;`).
 *   A bool that reports no failure (a completion that lost its race, the end
 *   of an iteration) leaves errno alone.
 * - A request's failure arrives on its future: gust_future_error gives the
 *   code, gust_future_message a message naming the URL and the cause.
 * - Constructors that read files or parse options can also say why in words:
 *   see the error_buf options (gust_client_opts_t).
 *
 * An error code is a negative int; 0 is success. The ranges:
 *   -1 .. -4095     an OS error: the negative errno value (Linux reserves up
 *                   to MAX_ERRNO, 4095, for them; glibc defines up to 133).
 *   -5001 .. -5999  the runtime's own codes: GUST_ERR_MAP below.
 *   -6001 .. -6999  the HTTP layer's own codes: GUST_HTTP_ERR_MAP in
 *                   gust/http_err.h.
 *   -7001 .. -7999  reserved for the crawl layer.
 * gust's ranges sit below the kernel's reserved range and below libuv's own
 * codes (-3000 .. -4095), so a program that uses both never reads one for the
 * other. gust_strerror and gust_err_name know every range.
 *
 * Where errno already says what gust means, the gust name is that errno
 * value (libuv's choice: UV_ENOMEM is -ENOMEM): an OS failure passes through
 * unchanged and compares equal to the gust name. A meaning errno would blur
 * keeps a code of its own: which timeout ran out (CONNECT_TIMEOUT,
 * HEADER_TIMEOUT, TOTAL_TIMEOUT, TLS_HANDSHAKE_TIMEOUT rather than
 * ETIMEDOUT), a connect failure other than a refusal (CONNECT, whose message
 * names the OS error), a shutdown (ESHUTDOWN is about a socket's write side).
 *
 * Codes never change meaning once released: a new code takes the next free
 * number of its layer's range, at the end of its list. */
#ifndef GUST_ERR_H
#define GUST_ERR_H

#include "gust/export.h"

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, code, message): GUST_ERR_NAME is `code`. The runtime's codes, and
 * the errno values every layer uses. */
#define GUST_ERR_MAP(XX)                                                                           \
    XX(NOMEM, -ENOMEM, "out of memory")                                                            \
    XX(INVAL, -EINVAL, "invalid argument")                                                         \
    XX(CANCELLED, -ECANCELED, "cancelled")                                                         \
    XX(TIMEOUT, -ETIMEDOUT, "timed out")                                                           \
    XX(IO, -EIO, "input/output error")                                                             \
    XX(SHUTDOWN, -5001, "shutting down")

/* The first and last code of each layer's own range. */
#define GUST_ERR_RUNTIME_FIRST (-5001)
#define GUST_ERR_RUNTIME_LAST (-5999)
#define GUST_ERR_HTTP_FIRST (-6001)
#define GUST_ERR_HTTP_LAST (-6999)

/* The largest errno value an OS error code may carry (Linux's MAX_ERRNO). */
#define GUST_ERR_ERRNO_MAX 4095

typedef enum gust_err_e {
    GUST_OK = 0,
#define GUST_ERR_ENUM_(name, code, message) GUST_ERR_##name = (code),
    GUST_ERR_MAP(GUST_ERR_ENUM_)
#undef GUST_ERR_ENUM_
} gust_err;

/* gust_strerror returns a static message for any error code: gust's own
 * message for a code with a gust name (GUST_ERR_MAP, GUST_HTTP_ERR_MAP),
 * strerror's text for any other errno value ("Permission denied" for
 * -EPERM), "success" for 0 and "unknown error" for a number that is none of
 * these. Any thread. */
GUST_EXTERN const char *gust_strerror(int err);

/* gust_err_name returns the static name of any error code: the gust name
 * without its GUST_ERR_ prefix ("TIMEOUT", "CONNECT_REFUSED"), the errno
 * name for any other errno value ("EPERM"), "OK" for 0 and "UNKNOWN" for a
 * number that is none of these. Any thread. */
GUST_EXTERN const char *gust_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif
