/* gust/err.h: the error codes of the whole project.
 *
 * Every failure gust reports is one negative gust_err code, generated with its
 * name and message from GUST_ERR_MAP. A code never changes meaning once
 * released: new codes go at the end of the map with the next free number. */
#ifndef GUST_ERR_H
#define GUST_ERR_H

#include "gust/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, number, message): gust_err is -number. */
#define GUST_ERR_MAP(XX)                                                                           \
    XX(NOMEM, 1, "out of memory")                                                                  \
    XX(INVAL, 2, "invalid argument")                                                               \
    XX(CANCELLED, 3, "cancelled")                                                                  \
    XX(TIMEOUT, 4, "timed out")                                                                    \
    XX(SHUTDOWN, 5, "shutting down")                                                               \
    XX(IO, 6, "input/output error")                                                                \
    XX(URL, 7, "malformed URL")                                                                    \
    XX(SCHEME, 8, "unsupported URL scheme")                                                        \
    XX(BAD_REQUEST, 9, "request has forbidden characters or fields")                               \
    XX(DNS, 10, "name resolution failed")                                                          \
    XX(CONNECT_REFUSED, 11, "connection refused")                                                  \
    XX(CONNECT, 12, "connection failed")                                                           \
    XX(CONNECT_TIMEOUT, 13, "connect timed out")                                                   \
    XX(CONN_RESET, 14, "connection reset by peer")                                                 \
    XX(CONN_CLOSED, 15, "connection closed before the response was complete")                      \
    XX(HEADER_TIMEOUT, 16, "timed out waiting for response headers")                               \
    XX(TOTAL_TIMEOUT, 17, "request exceeded its total timeout")                                    \
    XX(PARSE, 18, "malformed response")                                                            \
    XX(HEADER_TOO_LARGE, 19, "response headers too large")                                         \
    XX(TOO_MANY_HEADERS, 20, "too many response headers")                                          \
    XX(BODY_TOO_LARGE, 21, "response body too large")                                              \
    XX(DECODE, 22, "content decoding failed")                                                      \
    XX(DECODED_TOO_LARGE, 23, "decoded body too large")                                            \
    XX(TOO_MANY_REDIRECTS, 24, "too many redirects")                                               \
    XX(REDIRECT_REFUSED, 25, "redirect refused")                                                   \
    XX(TLS, 26, "TLS error")                                                                       \
    XX(TLS_HANDSHAKE_TIMEOUT, 27, "TLS handshake timed out")                                       \
    XX(CERT_UNKNOWN_CA, 28, "certificate signed by an unknown authority")                          \
    XX(CERT_HOSTNAME, 29, "certificate does not match the host name")                              \
    XX(CERT_EXPIRED, 30, "certificate has expired")                                                \
    XX(CERT_SELF_SIGNED, 31, "certificate is self-signed")                                         \
    XX(CERT_INVALID, 32, "certificate is not valid")                                               \
    XX(URL_TOO_LONG, 33, "URL too long")                                                           \
    XX(TLS_TRUNCATED, 34, "TLS connection closed without close_notify")                            \
    XX(CERT_WEAK, 35, "certificate has a weak key or signature")                                   \
    XX(TLS_HANDSHAKE, 36, "TLS handshake failed")                                                  \
    XX(TLS_RENEGOTIATION, 37, "server asked to renegotiate TLS")                                   \
    XX(PIPELINE_DESYNC, 38, "response arrived that no request was waiting for")

typedef enum gust_err_e {
    GUST_OK = 0,
#define GUST_ERR_ENUM_(name, number, message) GUST_ERR_##name = -(number),
    GUST_ERR_MAP(GUST_ERR_ENUM_)
#undef GUST_ERR_ENUM_
} gust_err;

/* gust_strerror returns a static message for `err` ("success" for GUST_OK,
 * "unknown error" for a number that is no code). Any thread may call it. */
GUST_EXTERN const char *gust_strerror(int err);

/* gust_err_name returns the static name of `err` without its prefix
 * ("TIMEOUT"), "OK" for GUST_OK, "UNKNOWN" otherwise. */
GUST_EXTERN const char *gust_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif
