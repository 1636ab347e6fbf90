/* Checking what a caller asks to send, and writing the request head. */
#include <stdio.h>
#include <stdlib.h>
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

static void put_header(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s: %s\r\n", name, value);
}

char *gust__request_head(const call_t *call, size_t *out_len)
{
    const gust_client_t *client = call->client;
    char *head = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&head, &len);
    if (out == NULL)
        return NULL;
    fprintf(out, "%s %s HTTP/1.1\r\n", call->method, call->url.target);
    if (!has_header(call->headers, call->num_headers, "Host"))
        put_header(out, "Host", call->url.authority);
    for (size_t i = 0; i < call->num_headers; i++)
        put_header(out, call->headers[i].name, call->headers[i].value);
    if (client->user_agent != NULL && !has_header(call->headers, call->num_headers, "User-Agent"))
        put_header(out, "User-Agent", client->user_agent);
    if (call->decompress && !has_header(call->headers, call->num_headers, "Accept-Encoding"))
        put_header(out, "Accept-Encoding", "gzip, deflate");
    for (size_t i = 0; i < client->opts.num_headers; i++) {
        if (!has_header(call->headers, call->num_headers, client->headers[i].name))
            put_header(out, client->headers[i].name, client->headers[i].value);
    }
    if (call->body_read != NULL && call->body_read_len < 0)
        put_header(out, "Transfer-Encoding", "chunked");
    else if (call->body_read != NULL)
        fprintf(out, "Content-Length: %zd\r\n", call->body_read_len);
    else if (call->body_len > 0 || announces_empty_body(call->method))
        fprintf(out, "Content-Length: %zu\r\n", call->body_len);
    fputs("\r\n", out);
    if (fclose(out) != 0) {
        free(head);
        return NULL;
    }
    *out_len = len;
    return head;
}
