/* The test server's routes: what each path answers (the table is in
 * http_server.h). A route returns true if the connection may serve another
 * request, false once it has closed it or broken its framing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "tests/support/http_server_internal.h"

#define OCTET_STREAM "Content-Type: application/octet-stream\r\n"
#define TEXT_PLAIN "Content-Type: text/plain\r\n"

/* ---- Writing responses ------------------------------------------------------- */

static const struct reason_s {
    int status;
    const char *phrase;
} reasons[] = {
    {100, "Continue"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {418, "I'm a teapot"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

static const char *reason_phrase(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].phrase;
    }
    return "Unknown";
}

/* Formats a response head: the status line, `headers` (whole lines; may be
 * NULL), Content-Length unless it is negative, and the Connection header the
 * request and `close` call for. Returns a string the caller frees. */
static char *format_head(const request_t *req, int status, long content_length, bool close,
                         const char *headers, size_t *out_len)
{
    char *head;
    FILE *f = open_memstream(&head, out_len);
    if (f == NULL)
        test_server__die("open_memstream");
    fprintf(f, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (headers != NULL)
        fputs(headers, f);
    if (content_length >= 0)
        fprintf(f, "Content-Length: %ld\r\n", content_length);
    if (close || !req->keep_alive)
        fputs("Connection: close\r\n", f);
    else if (req->minor_version == 0)
        fputs("Connection: keep-alive\r\n", f);
    fputs("\r\n", f);
    if (fclose(f) != 0)
        test_server__die("fclose(open_memstream)");
    return head;
}

/* Sends a response head (see format_head). */
static bool send_head(conn_t *c, const request_t *req, int status, long content_length, bool close,
                      const char *headers)
{
    size_t len;
    char *head = format_head(req, status, content_length, close, headers, &len);
    bool ok = test_server__send(c, head, len);
    free(head);
    return ok;
}

/* Sends body bytes, unless the request is a HEAD. */
static bool send_body(conn_t *c, const request_t *req, const void *data, size_t len)
{
    return req->head || test_server__send(c, data, len);
}

/* Sends a whole response with a Content-Length body; a 204 or 304 gets
 * neither (a client reads the bytes of such a body as the next response). */
static bool respond(conn_t *c, const request_t *req, int status, bool close, const char *headers,
                    const void *body, size_t len)
{
    if (status == 204 || status == 304)
        return send_head(c, req, status, -1, close, headers);
    return send_head(c, req, status, (long)len, close, headers) && send_body(c, req, body, len);
}

static bool respond_text(conn_t *c, const request_t *req, int status, bool close, const char *text)
{
    return respond(c, req, status, close, TEXT_PLAIN, text, strlen(text));
}

/* Bytes [offset, offset + len) of the pattern: byte i is 'a' + i % 26. */
static void pattern_fill(char *dst, size_t offset, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)('a' + (offset + i) % 26);
}

/* A whole number of pattern periods, so that sending the same block again
 * continues the pattern. */
enum { PATTERN_BLOCK = 26 * 630 };

/* Sends bytes [offset, offset + len) of the pattern, unless the request is a
 * HEAD. */
static bool send_pattern(conn_t *c, const request_t *req, size_t offset, size_t len)
{
    if (req->head)
        return true;
    char block[PATTERN_BLOCK];
    pattern_fill(block, offset, sizeof(block));
    while (len > 0) {
        size_t n = len < sizeof(block) ? len : sizeof(block);
        if (!test_server__send(c, block, n))
            return false;
        len -= n;
    }
    return true;
}

/* Compresses `len` bytes with deflate, in the format window_bits selects
 * (15: zlib, 15 + 16: gzip). Returns a buffer the caller frees. */
static char *compress_bytes(int window_bits, const char *in, size_t len, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        test_server__die("deflateInit2");
    char *out;
    FILE *f = open_memstream(&out, out_len);
    if (f == NULL)
        test_server__die("open_memstream");
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    /* Drain deflate's output until it stops filling the chunk. */
    do {
        char chunk[16384];
        z.next_out = (Bytef *)chunk;
        z.avail_out = sizeof(chunk);
        if (deflate(&z, Z_FINISH) == Z_STREAM_ERROR)
            test_server__die("deflate");
        fwrite(chunk, 1, sizeof(chunk) - z.avail_out, f);
    } while (z.avail_out == 0);
    deflateEnd(&z);
    if (fclose(f) != 0)
        test_server__die("fclose(open_memstream)");
    return out;
}

/* `len` bytes of the pattern, in a buffer the caller frees. */
static char *pattern_alloc(size_t len)
{
    char *plain = malloc(len + 1);
    if (plain == NULL)
        test_server__die("malloc");
    pattern_fill(plain, 0, len);
    return plain;
}

/* Compresses `len` bytes of the pattern (see compress_bytes). */
static char *compress_body(int window_bits, size_t len, size_t *out_len)
{
    char *plain = pattern_alloc(len);
    char *out = compress_bytes(window_bits, plain, len, out_len);
    free(plain);
    return out;
}

/* ---- Well-formed responses ------------------------------------------------- */

/* 200 with n bytes of the pattern. */
static bool respond_pattern(conn_t *c, const request_t *req, size_t n)
{
    return send_head(c, req, 200, (long)n, false, OCTET_STREAM) && send_pattern(c, req, 0, n);
}

static bool route_bytes(conn_t *c, const request_t *req)
{
    return respond_pattern(c, req, (size_t)test_server__query_num(req, "n", 1024));
}

static bool route_chunked(conn_t *c, const request_t *req)
{
    size_t n = (size_t)test_server__query_num(req, "n", 1024);
    size_t chunk = (size_t)test_server__query_num(req, "chunk", 256);
    if (chunk == 0)
        return respond_text(c, req, 400, false, "chunk must be positive");
    if (!send_head(c, req, 200, -1, false,
                   OCTET_STREAM "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n"))
        return false;
    for (size_t offset = 0; offset < n; offset += chunk) {
        size_t len = n - offset < chunk ? n - offset : chunk;
        char size_line[32];
        int size_len = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
        if (!send_body(c, req, size_line, (size_t)size_len) || !send_pattern(c, req, offset, len) ||
            !send_body(c, req, "\r\n", 2))
            return false;
    }
    static const char last[] = "0\r\nX-Trailer: done\r\n\r\n";
    return send_body(c, req, last, sizeof(last) - 1);
}

static bool route_close_delimited(conn_t *c, const request_t *req)
{
    long n = test_server__query_num(req, "n", 1024);
    c->skip_close_notify = test_server__query_num(req, "close_notify", 1) == 0;
    if (send_head(c, req, 200, -1, true, OCTET_STREAM))
        send_pattern(c, req, 0, (size_t)n);
    return false;
}

static bool route_status(conn_t *c, const request_t *req)
{
    int code = (int)test_server__query_num(req, "code", 200);
    if (code < 200 || code > 599)
        return respond_text(c, req, 400, false, "code must be 200..599");
    if (code == 204 || code == 304)
        return send_head(c, req, code, -1, false, NULL);
    char body[64];
    snprintf(body, sizeof(body), "%d %s", code, reason_phrase(code));
    return respond_text(c, req, code, false, body);
}

static bool route_delay(conn_t *c, const request_t *req)
{
    return test_server__sleep(c, test_server__query_num(req, "ms", 50)) &&
           respond_text(c, req, 200, false, "ok");
}

/* n bytes of the pattern, each after a further ms. */
static bool slow_body(conn_t *c, const request_t *req, long n, long ms)
{
    if (!send_head(c, req, 200, n, false, OCTET_STREAM))
        return false;
    for (long i = 0; i < n && !req->head; i++) {
        if (!test_server__sleep(c, ms) || !send_pattern(c, req, (size_t)i, 1))
            return false;
    }
    return true;
}

static bool route_unasked(conn_t *c, const request_t *req)
{
    static const char unasked[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    enum { MAX = 8000 };
    size_t n = (size_t)test_server__query_num(req, "n", 4000);
    if (n > MAX)
        return respond_text(c, req, 400, false, "n must be at most 8000");
    size_t half = n / 2;
    char rest[MAX + sizeof(unasked)];
    pattern_fill(rest, half, n - half);
    memcpy(rest + (n - half), unasked, sizeof(unasked) - 1);
    return send_head(c, req, 200, (long)n, false, OCTET_STREAM) && send_pattern(c, req, 0, half) &&
           test_server__sleep(c, 5) && send_body(c, req, rest, n - half + sizeof(unasked) - 1);
}

static bool route_slow_body(conn_t *c, const request_t *req)
{
    return slow_body(c, req, test_server__query_num(req, "n", 10),
                     test_server__query_num(req, "ms", 100));
}

/* Answers 200 "ok" with Content-Type: text/plain and the headers that
 * `add` writes after it, given `n`. */
static bool respond_with_headers(conn_t *c, const request_t *req, void (*add)(FILE *f, long n),
                                 long n)
{
    char *headers;
    size_t len;
    FILE *f = open_memstream(&headers, &len);
    if (f == NULL)
        test_server__die("open_memstream");
    fputs(TEXT_PLAIN, f);
    add(f, n);
    if (fclose(f) != 0)
        test_server__die("fclose(open_memstream)");
    bool ok = respond(c, req, 200, false, headers, "ok", 2);
    free(headers);
    return ok;
}

/* X-Fill-<i> headers of 1,000 x's until the head reaches `n` bytes. */
static void add_fill_headers(FILE *f, long n)
{
    char fill[1001];
    memset(fill, 'x', sizeof(fill) - 1);
    fill[sizeof(fill) - 1] = '\0';
    for (unsigned i = 0; ftell(f) < n; i++)
        fprintf(f, "X-Fill-%u: %s\r\n", i, fill);
}

/* X-Header-<i>: <i> for each i below `count`. */
static void add_numbered_headers(FILE *f, long count)
{
    for (long i = 0; i < count; i++)
        fprintf(f, "X-Header-%ld: %ld\r\n", i, i);
}

static bool route_big_headers(conn_t *c, const request_t *req)
{
    return respond_with_headers(c, req, add_fill_headers, test_server__query_num(req, "n", 65536));
}

static bool route_many_headers(conn_t *c, const request_t *req)
{
    return respond_with_headers(c, req, add_numbered_headers,
                                test_server__query_num(req, "count", 100));
}

static bool route_keepalive_then_close(conn_t *c, const request_t *req)
{
    long ms = test_server__query_num(req, "ms", 50);
    c->idle_ms = ms > 1000000000 ? 1000000000 : (int)ms;
    return respond_text(c, req, 200, false, "ok");
}

static bool route_conn_close(conn_t *c, const request_t *req)
{
    respond_text(c, req, 200, true, "ok");
    return false;
}

static bool respond_compressed(conn_t *c, const request_t *req, const char *headers,
                               int window_bits, size_t len)
{
    size_t body_len;
    char *body = compress_body(window_bits, len, &body_len);
    bool ok = respond(c, req, 200, false, headers, body, body_len);
    free(body);
    return ok;
}

static bool route_gzip(conn_t *c, const request_t *req)
{
    return respond_compressed(c, req, OCTET_STREAM "Content-Encoding: gzip\r\n", 15 + 16,
                              (size_t)test_server__query_num(req, "n", 1024));
}

static bool route_deflate(conn_t *c, const request_t *req)
{
    return respond_compressed(c, req, OCTET_STREAM "Content-Encoding: deflate\r\n", 15,
                              (size_t)test_server__query_num(req, "n", 1024));
}

enum { MIB = 1 << 20 };
static const unsigned char zero_mib[MIB];

/* 200 with n bytes of the pattern (at most 1 MiB) under the content codings
 * listed in `codings`, comma-separated in the order applied: gzip and
 * deflate are applied, identity and any other name leave the bytes as they
 * are. They are announced as listed in one Content-Encoding header, or
 * with lines=1 in one header a coding. */
static bool route_coded(conn_t *c, const request_t *req)
{
    long n = test_server__query_num(req, "n", 1024);
    bool lines = test_server__query_num(req, "lines", 0) != 0;
    char *codings = test_server__query_str(req, "codings");
    if (codings == NULL || strlen(codings) > 200 || n < 0 || n > MIB) {
        free(codings);
        return respond_text(c, req, 400, false,
                            "want codings=LIST (200 bytes at most), n <= 1 MiB");
    }
    size_t len = (size_t)n;
    char *body = pattern_alloc(len);
    char headers[2048];
    int at = snprintf(headers, sizeof(headers), OCTET_STREAM);
    if (!lines)
        at += snprintf(headers + at, sizeof(headers) - (size_t)at, "Content-Encoding: %s\r\n",
                       codings);
    char *save;
    for (char *coding = strtok_r(codings, ",", &save); coding != NULL;
         coding = strtok_r(NULL, ",", &save)) {
        const char *name = coding + strspn(coding, " \t");
        size_t name_len = strcspn(name, " \t");
        int window_bits = name_len == 4 && strncasecmp(name, "gzip", 4) == 0      ? 15 + 16
                          : name_len == 7 && strncasecmp(name, "deflate", 7) == 0 ? 15
                                                                                  : 0;
        if (window_bits != 0) {
            char *coded = compress_bytes(window_bits, body, len, &len);
            free(body);
            body = coded;
        }
        if (lines)
            at += snprintf(headers + at, sizeof(headers) - (size_t)at, "Content-Encoding: %s\r\n",
                           name);
    }
    bool ok = respond(c, req, 200, false, headers, body, len);
    free(body);
    free(codings);
    return ok;
}

/* One MiB of zeros as raw deflate blocks ended by a full flush: byte-aligned,
 * not final, and needing no history, so copies of it make one stream. */
static char *deflate_zero_mib(size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        test_server__die("deflateInit2");
    size_t cap = deflateBound(&z, MIB) + 16;
    char *out = malloc(cap);
    if (out == NULL)
        test_server__die("malloc");
    z.next_in = (Bytef *)zero_mib;
    z.avail_in = MIB;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FULL_FLUSH) != Z_OK || z.avail_in != 0)
        test_server__die("deflate");
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* mb MiB of zeros, gzip'd about 1000:1: the gzip header, mb copies of
 * deflate_zero_mib, a final empty block and the trailer. Compressing a GiB
 * would take seconds; this takes none. */
static bool route_gzip_bomb(conn_t *c, const request_t *req)
{
    long mb = test_server__query_num(req, "mb", 1);
    size_t block_len;
    char *block = deflate_zero_mib(&block_len);
    uLong mib_crc = crc32(0, zero_mib, MIB), crc = crc32(0, NULL, 0);
    for (long i = 0; i < mb; i++)
        crc = crc32_combine(crc, mib_crc, MIB);
    uint32_t isize = (uint32_t)((uint64_t)mb * MIB); /* the length mod 2^32 */
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    /* BFINAL set, fixed Huffman codes, then end-of-block: an empty last block. */
    unsigned char tail[10] = {0x03, 0x00};
    for (int i = 0; i < 4; i++) {
        tail[2 + i] = (unsigned char)(crc >> (8 * i));
        tail[6 + i] = (unsigned char)(isize >> (8 * i));
    }
    long len = (long)sizeof(header) + mb * (long)block_len + (long)sizeof(tail);
    bool ok = send_head(c, req, 200, len, false, OCTET_STREAM "Content-Encoding: gzip\r\n") &&
              send_body(c, req, header, sizeof(header));
    for (long i = 0; ok && i < mb; i++)
        ok = send_body(c, req, block, block_len);
    ok = ok && send_body(c, req, tail, sizeof(tail));
    free(block);
    return ok;
}

static bool route_redirect(conn_t *c, const request_t *req)
{
    int code = (int)test_server__query_num(req, "code", 302);
    char *to = test_server__query_str(req, "to");
    if (to == NULL)
        return respond_text(c, req, 400, false, "to is missing");
    bool ok;
    if (code < 300 || code > 399) {
        ok = respond_text(c, req, 400, false, "code must be 300..399");
    } else if (strpbrk(to, "\r\n") != NULL) {
        ok = respond_text(c, req, 400, false, "to must be one line");
    } else {
        char *headers;
        if (asprintf(&headers, TEXT_PLAIN "Location: %s\r\n", to) < 0)
            test_server__die("asprintf");
        ok = respond(c, req, code, false, headers, "redirecting", 11);
        free(headers);
    }
    free(to);
    return ok;
}

static bool route_redirect_chain(conn_t *c, const request_t *req)
{
    long n = test_server__query_num(req, "n", 3);
    if (n == 0)
        return respond_text(c, req, 200, false, "done");
    char headers[128];
    snprintf(headers, sizeof(headers), TEXT_PLAIN "Location: /redirect-chain?n=%ld\r\n", n - 1);
    return respond(c, req, 302, false, headers, "redirecting", 11);
}

static bool route_echo(conn_t *c, const request_t *req)
{
    return respond(c, req, 200, false, OCTET_STREAM, req->raw, req->raw_len);
}

static bool route_echo_body(conn_t *c, const request_t *req)
{
    return respond(c, req, 200, false, OCTET_STREAM, req->body, req->body_len);
}

static bool route_client_cert(conn_t *c, const request_t *req)
{
    char cn[256];
    if (!test_server__tls_peer_cn(c, cn, sizeof(cn)))
        return respond_text(c, req, 403, false, "no client certificate");
    return respond_text(c, req, 200, false, cn);
}

static bool route_tls_info(conn_t *c, const request_t *req)
{
    char info[512];
    if (!test_server__tls_describe(c, info, sizeof(info)))
        return respond_text(c, req, 403, false, "not TLS");
    return respond_text(c, req, 200, false, info);
}

static bool route_hello_request(conn_t *c, const request_t *req)
{
    if (!test_server__tls_hello_request(c))
        return respond_text(c, req, 403, false, "not TLS 1.2");
    c->skip_close_notify = true;
    return false;
}

static bool route_100_continue(conn_t *c, const request_t *req)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    return test_server__send(c, cont, sizeof(cont) - 1) && respond_text(c, req, 200, false, "ok");
}

static bool route_many_1xx(conn_t *c, const request_t *req)
{
    long count = test_server__query_num(req, "count", 3);
    static const char hints[] =
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
    for (long i = 0; i < count; i++) {
        if (!test_server__send(c, hints, sizeof(hints) - 1))
            return false;
    }
    return respond_text(c, req, 200, false, "ok");
}

/* ---- Faults ------------------------------------------------------------------ */

static bool route_close_mid_headers(conn_t *c, const request_t *req)
{
    (void)req;
    static const char part[] = "HTTP/1.1 200 OK\r\nContent-Le";
    test_server__send(c, part, sizeof(part) - 1);
    return false;
}

/* Content-Length n, n/2 bytes of the pattern, then a close. */
static bool close_mid_body(conn_t *c, const request_t *req, long n)
{
    if (send_head(c, req, 200, n, false, OCTET_STREAM))
        send_pattern(c, req, 0, (size_t)n / 2);
    return false;
}

static bool route_close_mid_body(conn_t *c, const request_t *req)
{
    return close_mid_body(c, req, test_server__query_num(req, "n", 1024));
}

static bool route_no_close_notify(conn_t *c, const request_t *req)
{
    long n = test_server__query_num(req, "n", 1024);
    c->skip_close_notify = true;
    if (send_head(c, req, 200, n, true, OCTET_STREAM))
        send_pattern(c, req, 0, (size_t)n);
    return false;
}

static bool route_truncated_tls(conn_t *c, const request_t *req)
{
    c->skip_close_notify = true;
    return route_close_mid_body(c, req);
}

/* Ends the connection with a TCP reset once the route returns. */
static bool reset_connection(conn_t *c)
{
    c->reset = true;
    c->skip_close_notify = true;
    return false;
}

static bool route_reset(conn_t *c, const request_t *req)
{
    (void)req;
    return reset_connection(c);
}

/* Header lines no parser may accept, one per `kind` of /malformed-header. */
#define LINE_(text)                                                                                \
    {                                                                                              \
        text, sizeof(text) - 1                                                                     \
    }
static const struct malformed_line_s {
    const char *text;
    size_t len; /* the NUL in one of them is part of the line */
} malformed_lines[] = {
    LINE_("X-No-Colon\r\n"),
    LINE_("X-Ctl\x01: v\r\n"),
    LINE_("X-Nul: a\0b\r\n"),
};
#undef LINE_
enum { NUM_MALFORMED = sizeof(malformed_lines) / sizeof(malformed_lines[0]) };

/* A 200 head with malformed line `kind` among its headers, then "ok" and a
 * close (the framing is not to be trusted). */
static bool malformed_header(conn_t *c, size_t kind)
{
    static const char status[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
    static const char rest[] = "Content-Length: 2\r\nConnection: close\r\n\r\nok";
    const struct malformed_line_s *line = &malformed_lines[kind % NUM_MALFORMED];
    if (test_server__send(c, status, sizeof(status) - 1) &&
        test_server__send(c, line->text, line->len))
        test_server__send(c, rest, sizeof(rest) - 1);
    return false;
}

static bool route_malformed_header(conn_t *c, const request_t *req)
{
    return malformed_header(c, (size_t)test_server__query_num(req, "kind", 0));
}

/* Headers without end: `X-Fill-<i>: <1000 x's>` lines until the client
 * stops reading or `mb` MiB have gone. */
static bool route_endless_headers(conn_t *c, const request_t *req)
{
    unsigned long limit = (unsigned long)test_server__query_num(req, "mb", 100) << 20;
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    if (!test_server__send(c, status, sizeof(status) - 1))
        return false;
    char line[1100];
    unsigned long sent = sizeof(status) - 1;
    for (unsigned i = 0; sent < limit; i++) {
        int prefix = snprintf(line, sizeof(line), "X-Fill-%u: ", i);
        memset(line + prefix, 'x', 1000);
        memcpy(line + prefix + 1000, "\r\n", 2);
        size_t len = (size_t)prefix + 1002;
        if (!test_server__send(c, line, len))
            return false;
        sent += len;
    }
    return false;
}

/* ---- Random faults ------------------------------------------------------------ */

static bool route_random(conn_t *c, const request_t *req)
{
    test_server_fault_t f =
        test_server_random_fault((uint64_t)test_server__query_num(req, "seed", 1));
    switch (f.kind) {
    case TEST_FAULT_NONE:
        return respond_pattern(c, req, f.body_len);
    case TEST_FAULT_DELAY:
        return test_server__sleep(c, f.ms) && respond_pattern(c, req, f.body_len);
    case TEST_FAULT_SLOW_BODY:
        return slow_body(c, req, (long)f.body_len, f.ms);
    case TEST_FAULT_RESET:
        return reset_connection(c);
    case TEST_FAULT_CLOSE_MID_BODY:
        return close_mid_body(c, req, (long)f.body_len);
    case TEST_FAULT_MALFORMED_HEADER:
        return malformed_header(c, f.variant);
    }
    return false;
}

static bool route_bad_chunk(conn_t *c, const request_t *req)
{
    static const char body[] = "zz\r\nhello\r\n0\r\n\r\n";
    if (send_head(c, req, 200, -1, false, OCTET_STREAM "Transfer-Encoding: chunked\r\n"))
        send_body(c, req, body, sizeof(body) - 1);
    return false;
}

static bool route_no_response(conn_t *c, const request_t *req)
{
    (void)req;
    test_server__drain(c, -1);
    return false;
}

static bool route_one_byte_per_second(conn_t *c, const request_t *req)
{
    long ms = test_server__query_num(req, "ms", 1000);
    size_t len;
    char *head = format_head(req, 200, 2, false, TEXT_PLAIN, &len);
    bool ok = true;
    for (size_t i = 0; ok && i < len; i++)
        ok = (i == 0 || test_server__sleep(c, ms)) && test_server__send(c, head + i, 1);
    free(head);
    return ok && send_body(c, req, "ok", 2);
}

static bool route_cl_and_te(conn_t *c, const request_t *req)
{
    static const char body[] = "5\r\nhello\r\n0\r\n\r\n";
    if (send_head(c, req, 200, 5, false, OCTET_STREAM "Transfer-Encoding: chunked\r\n"))
        send_body(c, req, body, sizeof(body) - 1);
    return false;
}

static bool route_two_cl(conn_t *c, const request_t *req)
{
    if (send_head(c, req, 200, 5, false, OCTET_STREAM "Content-Length: 6\r\n"))
        send_body(c, req, "hello!", 6);
    return false;
}

/* ---- Dispatch ---------------------------------------------------------------- */

static const struct route_s {
    const char *path;
    bool (*fn)(conn_t *c, const request_t *req);
} routes[] = {
    {"/bytes", route_bytes},
    {"/chunked", route_chunked},
    {"/close-delimited", route_close_delimited},
    {"/status", route_status},
    {"/delay", route_delay},
    {"/slow-body", route_slow_body},
    {"/unasked", route_unasked},
    {"/close-mid-headers", route_close_mid_headers},
    {"/close-mid-body", route_close_mid_body},
    {"/no-close-notify", route_no_close_notify},
    {"/truncated-tls", route_truncated_tls},
    {"/bad-chunk", route_bad_chunk},
    {"/big-headers", route_big_headers},
    {"/many-headers", route_many_headers},
    {"/keepalive-then-close", route_keepalive_then_close},
    {"/conn-close", route_conn_close},
    {"/gzip", route_gzip},
    {"/deflate", route_deflate},
    {"/coded", route_coded},
    {"/gzip-bomb", route_gzip_bomb},
    {"/redirect", route_redirect},
    {"/redirect-chain", route_redirect_chain},
    {"/echo", route_echo},
    {"/echo-body", route_echo_body},
    {"/client-cert", route_client_cert},
    {"/tls-info", route_tls_info},
    {"/hello-request", route_hello_request},
    {"/no-response", route_no_response},
    {"/one-byte-per-second", route_one_byte_per_second},
    {"/100-continue", route_100_continue},
    {"/many-1xx", route_many_1xx},
    {"/cl-and-te", route_cl_and_te},
    {"/two-cl", route_two_cl},
    {"/reset", route_reset},
    {"/malformed-header", route_malformed_header},
    {"/endless-headers", route_endless_headers},
    {"/random", route_random},
};

bool test_server__route(conn_t *c, const request_t *req)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(req->path, routes[i].path) == 0)
            return routes[i].fn(c, req) && req->keep_alive;
    }
    return respond_text(c, req, 404, false, "not found") && req->keep_alive;
}

void test_server__reject(conn_t *c, int status)
{
    const request_t req = {.keep_alive = false};
    respond_text(c, &req, status, true, reason_phrase(status));
}
