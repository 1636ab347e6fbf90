/* Reading one request off a test server connection: the head up to its blank
 * line, then a Content-Length or chunked body, all into c->in, so that /echo
 * can return the request exactly as it arrived. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/support/http_server_internal.h"

/* The most a request may take as received: head, body and chunk framing. */
#define MAX_REQUEST (2 * TEST_SERVER_MAX_BODY)

/* What the head says about the request. */
typedef struct head_s {
    size_t len; /* through the blank line */
    char method[32];
    size_t target_off; /* from the start of the head, which moves as c->in grows */
    size_t target_len;
    int minor_version;     /* HTTP/1.<minor_version> */
    size_t content_length; /* 0 if absent */
    bool has_content_length;
    bool chunked;
    bool connection_close;
    bool connection_keep_alive;
    bool expect_continue;
} head_t;

static bool equals_ci(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static int hex_value(char ch)
{
    if (isdigit((unsigned char)ch))
        return ch - '0';
    if (isxdigit((unsigned char)ch))
        return tolower((unsigned char)ch) - 'a' + 10;
    return -1;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* Reads until c->in holds `len` bytes. Returns 0, -1 if the connection
 * ended first, or 413 if that is more than a request may take. */
static int read_to(conn_t *c, size_t len)
{
    if (len > MAX_REQUEST)
        return 413;
    while (c->in.len < len) {
        if (test_server__recv(c, -1, MAX_REQUEST) == 0)
            return -1;
    }
    return 0;
}

/* Reads until c->in holds a CRLF at or after `pos`; sets *out_len to the
 * length of the line before it. Returns as read_to does. */
static int read_line(conn_t *c, size_t pos, size_t *out_len)
{
    size_t scanned = pos;
    for (;;) {
        if (c->in.len >= scanned + 2) {
            const char *crlf = memmem(c->in.data + scanned, c->in.len - scanned, "\r\n", 2);
            if (crlf != NULL) {
                *out_len = (size_t)(crlf - c->in.data) - pos;
                return 0;
            }
            /* A CR at the end may be the start of the CRLF. */
            scanned = c->in.len - 1;
        }
        long n = test_server__recv(c, -1, MAX_REQUEST);
        if (n < 0)
            return 413;
        if (n == 0)
            return -1;
    }
}

/* Reads until c->in holds a whole head; sets *out_len to its length. Only the
 * wait for the request's first byte is bounded by c->idle_ms. Returns 0, -1
 * if the connection ended first, or 431 if the head is too large. */
static int read_head(conn_t *c, size_t *out_len)
{
    size_t scanned = 0;
    for (;;) {
        if (c->in.len >= scanned + 4) {
            const char *end = memmem(c->in.data + scanned, c->in.len - scanned, "\r\n\r\n", 4);
            if (end != NULL) {
                *out_len = (size_t)(end - c->in.data) + 4;
                return 0;
            }
            scanned = c->in.len - 3;
        }
        long n = test_server__recv(c, c->in.len == 0 ? c->idle_ms : -1, TEST_SERVER_MAX_HEAD);
        if (n < 0)
            return 431;
        if (n == 0)
            return -1;
    }
}

/* Parses "METHOD SP target SP HTTP/1.x". Returns 0 or 400. */
static int parse_request_line(const char *line, size_t len, head_t *h)
{
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line || (size_t)(sp1 - line) >= sizeof(h->method))
        return 400;
    memcpy(h->method, line, (size_t)(sp1 - line));
    h->method[sp1 - line] = '\0';

    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', len - (size_t)(target - line));
    if (sp2 == NULL || sp2 == target)
        return 400;
    h->target_off = (size_t)(target - line);
    h->target_len = (size_t)(sp2 - target);

    const char *version = sp2 + 1;
    size_t version_len = len - (size_t)(version - line);
    if (version_len != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
        (version[7] != '0' && version[7] != '1'))
        return 400;
    h->minor_version = version[7] - '0';
    return 0;
}

/* Notes the headers that frame the body or govern the connection. Returns 0,
 * or the status to reject the request with. */
static int parse_header(const char *line, size_t len, head_t *h)
{
    const char *colon = memchr(line, ':', len);
    /* No name, or whitespace in it (which also refuses obsolete line folding). */
    if (colon == NULL || colon == line || memchr(line, ' ', (size_t)(colon - line)) != NULL ||
        memchr(line, '\t', (size_t)(colon - line)) != NULL)
        return 400;
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    trim(&value, &value_len);

    if (equals_ci(line, name_len, "Content-Length")) {
        if (value_len == 0)
            return 400;
        size_t n = 0;
        for (size_t i = 0; i < value_len; i++) {
            if (!isdigit((unsigned char)value[i]))
                return 400;
            if (n > TEST_SERVER_MAX_BODY)
                return 413;
            n = n * 10 + (size_t)(value[i] - '0');
        }
        if (n > TEST_SERVER_MAX_BODY)
            return 413;
        if (h->has_content_length && n != h->content_length)
            return 400;
        h->has_content_length = true;
        h->content_length = n;
    } else if (equals_ci(line, name_len, "Transfer-Encoding")) {
        if (!equals_ci(value, value_len, "chunked"))
            return 501;
        h->chunked = true;
    } else if (equals_ci(line, name_len, "Connection")) {
        /* A comma-separated list of options. */
        while (value_len > 0) {
            const char *comma = memchr(value, ',', value_len);
            size_t token_len = comma != NULL ? (size_t)(comma - value) : value_len;
            const char *token = value;
            size_t trimmed_len = token_len;
            trim(&token, &trimmed_len);
            h->connection_close |= equals_ci(token, trimmed_len, "close");
            h->connection_keep_alive |= equals_ci(token, trimmed_len, "keep-alive");
            size_t step = comma != NULL ? token_len + 1 : token_len;
            value += step;
            value_len -= step;
        }
    } else if (equals_ci(line, name_len, "Expect")) {
        h->expect_continue = equals_ci(value, value_len, "100-continue");
    }
    return 0;
}

/* Parses the head of h->len bytes at the start of `data`. Returns 0, or the
 * status to reject the request with. */
static int parse_head(const char *data, head_t *h)
{
    const char *end = data + h->len - 2; /* the blank line's CRLF */
    const char *line = data;
    const char *crlf = memmem(line, (size_t)(end - line), "\r\n", 2);
    int status = parse_request_line(line, (size_t)(crlf - line), h);
    for (line = crlf + 2; status == 0 && line < end; line = crlf + 2) {
        crlf = memmem(line, (size_t)(end - line), "\r\n", 2);
        status = parse_header(line, (size_t)(crlf - line), h);
    }
    if (status == 0 && h->chunked && h->has_content_length)
        return 400; /* ambiguous framing: the request smuggling pattern */
    return status;
}

/* Reads a chunked body whose first chunk-size line starts at `pos`,
 * de-chunking it into c->body; sets *out_end past the trailers. Returns 0, -1
 * if the connection ended first, or the status to reject the request with. */
static int read_chunked(conn_t *c, size_t pos, size_t *out_end)
{
    for (;;) {
        size_t line_len;
        int status = read_line(c, pos, &line_len);
        if (status != 0)
            return status;
        const char *line = c->in.data + pos;
        size_t size = 0;
        size_t i = 0;
        for (; i < line_len && hex_value(line[i]) >= 0; i++) {
            if (size > TEST_SERVER_MAX_BODY)
                return 413;
            size = size * 16 + (size_t)hex_value(line[i]);
        }
        /* Hex digits, then nothing or chunk extensions (ignored). */
        if (i == 0 || (i < line_len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
            return 400;
        pos += line_len + 2;
        if (size == 0)
            break;
        if (size > TEST_SERVER_MAX_BODY - c->body.len)
            return 413;
        status = read_to(c, pos + size + 2);
        if (status != 0)
            return status;
        if (memcmp(c->in.data + pos + size, "\r\n", 2) != 0)
            return 400;
        test_server__buf_append(&c->body, c->in.data + pos, size);
        pos += size + 2;
    }

    /* Trailer lines, up to a blank one. */
    for (;;) {
        size_t line_len;
        int status = read_line(c, pos, &line_len);
        if (status != 0)
            return status;
        pos += line_len + 2;
        if (line_len == 0)
            break;
    }
    *out_end = pos;
    return 0;
}

int test_server__read_request(conn_t *c, request_t *out_req)
{
    head_t h = {0};
    int status = read_head(c, &h.len);
    if (status != 0)
        return status;
    status = parse_head(c->in.data, &h);
    if (status != 0)
        return status;

    /* The client waits for this before sending the body, unless it has begun
     * already. */
    if (h.expect_continue && (h.chunked || h.content_length > 0) && c->in.len == h.len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!test_server__send(c, cont, sizeof(cont) - 1))
            return -1;
    }

    size_t end = h.len + h.content_length;
    c->body.len = 0;
    status = h.chunked ? read_chunked(c, h.len, &end) : read_to(c, end);
    if (status != 0)
        return status;

    /* c->in no longer moves until test_server__request_done. */
    request_t *r = out_req;
    *r = (request_t){
        .raw = c->in.data,
        .raw_len = end,
        .minor_version = h.minor_version,
        .head = strcmp(h.method, "HEAD") == 0,
        .keep_alive = h.minor_version == 1 ? !h.connection_close
                                           : h.connection_keep_alive && !h.connection_close,
        .body = h.chunked ? c->body.data : c->in.data + h.len,
        .body_len = h.chunked ? c->body.len : h.content_length,
    };
    memcpy(r->method, h.method, sizeof(r->method));
    r->target_copy = strndup(c->in.data + h.target_off, h.target_len);
    if (r->target_copy == NULL)
        test_server__die("strndup");
    r->path = r->target_copy;
    char *question = strchr(r->target_copy, '?');
    if (question != NULL)
        *question = '\0';
    r->query = question != NULL ? question + 1 : "";
    return 0;
}

void test_server__request_done(conn_t *c, request_t *req)
{
    free(req->target_copy);
    c->in.len -= req->raw_len;
    memmove(c->in.data, c->in.data + req->raw_len, c->in.len);
}

/* ---- The query string ------------------------------------------------------ */

/* Finds parameter `name` in req's query: returns its value and sets
 * *out_len, or returns NULL. */
static const char *query_find(const request_t *req, const char *name, size_t *out_len)
{
    size_t name_len = strlen(name);
    for (const char *p = req->query; *p != '\0';) {
        const char *end = strchrnul(p, '&');
        if ((size_t)(end - p) > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            *out_len = (size_t)(end - p) - name_len - 1;
            return p + name_len + 1;
        }
        p = *end == '&' ? end + 1 : end;
    }
    return NULL;
}

long test_server__query_num(const request_t *req, const char *name, long dflt)
{
    size_t len;
    const char *value = query_find(req, name, &len);
    if (value == NULL || len == 0)
        return dflt;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)value[i]))
            return dflt;
        int d = value[i] - '0';
        n = n > (LONG_MAX - d) / 10 ? LONG_MAX : n * 10 + d;
    }
    return n;
}

char *test_server__query_str(const request_t *req, const char *name)
{
    size_t len;
    const char *value = query_find(req, name, &len);
    if (value == NULL)
        return NULL;
    char *out = malloc(len + 1);
    if (out == NULL)
        test_server__die("malloc");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (value[i] == '%' && i + 2 < len && (hi = hex_value(value[i + 1])) >= 0 &&
            (lo = hex_value(value[i + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = value[i];
        }
    }
    out[n] = '\0';
    return out;
}
