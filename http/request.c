/* Checking what a caller asks to send, and writing the request head. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool gust__is_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (!is_tchar(*p))
            return false;
    }
    return true;
}

/* Visible characters, space, tab and obs-text; never CR, LF or another
 * control character, which would let a value end the header or the head. */
bool gust__is_field_value(const char *s)
{
    if (s == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < ' ' && *p != '\t') || *p == 0x7f)
            return false;
    }
    return true;
}

bool gust__method_is_idempotent(const char *method)
{
    static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof(idempotent) / sizeof(idempotent[0]); i++) {
        if (strcmp(method, idempotent[i]) == 0)
            return true;
    }
    return false;
}

static bool has_header(const gust_header_t *headers, size_t num, const char *name)
{
    for (size_t i = 0; i < num; i++) {
        if (strcasecmp(headers[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Methods whose empty body is still announced (as curl and browsers do), so
 * servers that demand a length do not answer 411. */
static bool announces_empty_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

/* Appends unless an earlier append failed; *ok turns false when out of
 * memory, so a head is written with one check at its end. */
static void put(buf_t *out, bool *ok, const char *s, size_t n)
{
    *ok = *ok && gust__buf_append(out, s, n);
}

static void put_str(buf_t *out, bool *ok, const char *s)
{
    put(out, ok, s, strlen(s));
}

static void put_header(buf_t *out, bool *ok, const char *name, const char *value)
{
    put_str(out, ok, name);
    put(out, ok, ": ", 2);
    put_str(out, ok, value);
    put(out, ok, "\r\n", 2);
}

/* The client's User-Agent, Accept-Encoding (when decompressing) and default
 * headers, each unless the request's own headers set it. */
static void put_client_headers(const gust_client_t *client, bool decompress,
                               const gust_header_t *headers, size_t num_headers, buf_t *out,
                               bool *ok)
{
    if (client->user_agent != NULL && !has_header(headers, num_headers, "User-Agent"))
        put_header(out, ok, "User-Agent", client->user_agent);
    if (decompress && !has_header(headers, num_headers, "Accept-Encoding"))
        put_header(out, ok, "Accept-Encoding", "gzip, deflate");
    for (size_t i = 0; i < client->opts.num_headers; i++) {
        if (!has_header(headers, num_headers, client->headers[i].name))
            put_header(out, ok, client->headers[i].name, client->headers[i].value);
    }
}

bool gust__request_default_lines(gust_client_t *client)
{
    bool ok = true;
    for (int decompress = 0; decompress < 2; decompress++) {
        buf_t *lines = &client->default_lines[decompress];
        /* The NUL the buffer keeps: an empty set of lines still has data. */
        put(lines, &ok, "", 0);
        put_client_headers(client, decompress, NULL, 0, lines, &ok);
    }
    return ok;
}

bool gust__request_head_append(const call_t *call, buf_t *out)
{
    const gust_client_t *client = call->client;
    size_t start = out->len;
    bool ok = true;
    put_str(out, &ok, call->method);
    put(out, &ok, " ", 1);
    put_str(out, &ok, call->url.target);
    put(out, &ok, " HTTP/1.1\r\n", 11);
    if (!has_header(call->headers, call->num_headers, "Host"))
        put_header(out, &ok, "Host", call->url.authority);
    for (size_t i = 0; i < call->num_headers; i++)
        put_header(out, &ok, call->headers[i].name, call->headers[i].value);
    if (call->num_headers == 0) {
        const buf_t *lines = &client->default_lines[call->decompress];
        put(out, &ok, lines->data, lines->len);
    } else {
        put_client_headers(client, call->decompress, call->headers, call->num_headers, out, &ok);
    }
    char length[24];
    if (call->body_read != NULL && call->body_read_len < 0) {
        put_header(out, &ok, "Transfer-Encoding", "chunked");
    } else if (call->body_read != NULL) {
        snprintf(length, sizeof(length), "%zd", call->body_read_len);
        put_header(out, &ok, "Content-Length", length);
    } else if (call->body_len > 0 || announces_empty_body(call->method)) {
        snprintf(length, sizeof(length), "%zu", call->body_len);
        put_header(out, &ok, "Content-Length", length);
    }
    put(out, &ok, "\r\n", 2);
    if (!ok)
        out->len = start;
    return ok;
}
