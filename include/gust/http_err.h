/* gust/http_err.h: the HTTP layer's error codes (the rules and ranges are in
 * gust/err.h). A request fails with one of these, or with a runtime code or
 * errno value from gust/err.h (NOMEM, IO, CANCELLED ...). */
#ifndef GUST_HTTP_ERR_H
#define GUST_HTTP_ERR_H

#include "gust/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, code, message): GUST_ERR_NAME is `code`, in -6001 .. -6999 or an
 * errno value that means exactly the same. */
#define GUST_HTTP_ERR_MAP(XX)                                                                      \
    XX(URL, -6001, "malformed URL")                                                                \
    XX(SCHEME, -6002, "unsupported URL scheme")                                                    \
    XX(BAD_REQUEST, -6003, "request has forbidden characters or fields")                           \
    XX(DNS, -6004, "name resolution failed")                                                       \
    XX(CONNECT_REFUSED, -ECONNREFUSED, "connection refused")                                       \
    XX(CONNECT, -6005, "connection failed")                                                        \
    XX(CONNECT_TIMEOUT, -6006, "connect timed out")                                                \
    XX(CONN_RESET, -ECONNRESET, "connection reset by peer")                                        \
    XX(CONN_CLOSED, -6007, "connection closed before the response was complete")                   \
    XX(HEADER_TIMEOUT, -6008, "timed out waiting for response headers")                            \
    XX(TOTAL_TIMEOUT, -6009, "request exceeded its total timeout")                                 \
    XX(PARSE, -6010, "malformed response")                                                         \
    XX(HEADER_TOO_LARGE, -6011, "response headers too large")                                      \
    XX(TOO_MANY_HEADERS, -6012, "too many response headers")                                       \
    XX(BODY_TOO_LARGE, -6013, "response body too large")                                           \
    XX(DECODE, -6014, "content decoding failed")                                                   \
    XX(DECODED_TOO_LARGE, -6015, "decoded body too large")                                         \
    XX(TOO_MANY_REDIRECTS, -6016, "too many redirects")                                            \
    XX(REDIRECT_REFUSED, -6017, "redirect refused")                                                \
    XX(TLS, -6018, "TLS error")                                                                    \
    XX(TLS_HANDSHAKE_TIMEOUT, -6019, "TLS handshake timed out")                                    \
    XX(CERT_UNKNOWN_CA, -6020, "certificate signed by an unknown authority")                       \
    XX(CERT_HOSTNAME, -6021, "certificate does not match the host name")                           \
    XX(CERT_EXPIRED, -6022, "certificate has expired")                                             \
    XX(CERT_SELF_SIGNED, -6023, "certificate is self-signed")                                      \
    XX(CERT_INVALID, -6024, "certificate is not valid")                                            \
    XX(URL_TOO_LONG, -6025, "URL too long")                                                        \
    XX(TLS_TRUNCATED, -6026, "TLS connection closed without close_notify")                         \
    XX(CERT_WEAK, -6027, "certificate has a weak key or signature")                                \
    XX(TLS_HANDSHAKE, -6028, "TLS handshake failed")                                               \
    XX(TLS_RENEGOTIATION, -6029, "server asked to renegotiate TLS")                                \
    XX(PIPELINE_DESYNC, -6030, "response arrived that no request was waiting for")

typedef enum gust_http_err_e {
#define GUST_HTTP_ERR_ENUM_(name, code, message) GUST_ERR_##name = (code),
    GUST_HTTP_ERR_MAP(GUST_HTTP_ERR_ENUM_)
#undef GUST_HTTP_ERR_ENUM_
} gust_http_err;

#ifdef __cplusplus
}
#endif

#endif
