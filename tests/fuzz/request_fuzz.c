/* Request building (http/request.c) from hostile methods, URLs, header
 * names and values.
 *
 * Input: a flags byte (decompression, a User-Agent and a default header on
 * the client, the body's framing), then NUL-separated fields: the method,
 * the URL, then names and values in turns. A request passes the checks
 * gust_http_send makes (a token method, a URL that parses, token names,
 * values without control characters but tab, no Content-Length or
 * Transfer-Encoding of the caller's: see http/client.h) or is refused. The
 * invariants:
 * - a field with CR, LF or another control character, an empty method or an
 *   empty name is refused;
 * - the head built for an accepted request is well-formed HTTP/1.1 (checked
 *   by the strict reader below, not by the code under test) and says
 *   exactly the method, the target and the headers asked for, with the
 *   client's own (Host, User-Agent, Accept-Encoding, defaults, framing)
 *   where the caller did not set them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"
#include "tests/fuzz/grammar.h"
#include "tests/fuzz/input.h"
#include "tests/support/check.h"

#define MAX_FIELDS 20

enum {
    FLAG_DECOMPRESS = 1,
    FLAG_USER_AGENT = 2,
    FLAG_DEFAULT_HEADER = 4,
    FLAG_BODY = 8,          /* a body of known length */
    FLAG_BODY_STREAM = 16,  /* a body from a callback */
    FLAG_BODY_CHUNKED = 32, /* of unknown length */
};

static ssize_t no_body(void *arg, void *buf, size_t cap)
{
    (void)arg, (void)buf, (void)cap;
    return 0;
}

static bool has_control(const char *s, bool tab_allowed)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < ' ' && !(tab_allowed && *p == '\t')) || *p == 0x7f)
            return true;
    }
    return false;
}

/* A header as read back: name and value without surrounding whitespace. */
typedef struct field_s {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} field_t;

static field_t field(const char *name, const char *value)
{
    size_t len = strlen(value);
    while (len > 0 && is_ows(*value))
        value++, len--;
    while (len > 0 && is_ows(value[len - 1]))
        len--;
    field_t f = {name, strlen(name), value, len};
    return f;
}

/* Reads a request head by RFC 9112, strictly: request-line, then
 * field-lines, then CRLF, and nothing after it. Fails the check on any
 * deviation. */
static size_t read_head(const char *head, size_t len, field_t *request_line, field_t *fields,
                        size_t max_fields)
{
    const char *p = head, *end = head + len;
    const char *method = p;
    while (p < end && is_tchar((uint8_t)*p))
        p++;
    ASSERT_TRUE(p > method && p < end && *p == ' ');
    const char *target = ++p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    ASSERT_TRUE(p > target);
    ASSERT_TRUE(end - p >= 11 && memcmp(p, " HTTP/1.1\r\n", 11) == 0);
    request_line->name = method;
    request_line->name_len = (size_t)(target - 1 - method);
    request_line->value = target;
    request_line->value_len = (size_t)(p - target);
    p += 11;
    size_t num = 0;
    while (end - p >= 2 && memcmp(p, "\r\n", 2) != 0) {
        ASSERT_ULT(num, max_fields);
        field_t *f = &fields[num++];
        f->name = p;
        while (p < end && is_tchar((uint8_t)*p))
            p++;
        f->name_len = (size_t)(p - f->name);
        ASSERT_TRUE(f->name_len > 0 && p < end && *p == ':');
        p++;
        while (p < end && is_ows(*p))
            p++;
        f->value = p;
        while (p < end && is_value_byte((uint8_t)*p))
            p++;
        ASSERT_TRUE(end - p >= 2 && memcmp(p, "\r\n", 2) == 0);
        f->value_len = (size_t)(p - f->value);
        while (f->value_len > 0 && is_ows(f->value[f->value_len - 1]))
            f->value_len--;
        p += 2;
    }
    ASSERT_TRUE(end - p == 2 && memcmp(p, "\r\n", 2) == 0);
    return num;
}

static bool same_text(const char *a, size_t a_len, const char *b, size_t b_len, bool any_case)
{
    return a_len == b_len && (any_case ? strncasecmp(a, b, a_len) : memcmp(a, b, a_len)) == 0;
}

static bool caller_has(const call_t *call, const char *name)
{
    for (size_t i = 0; i < call->num_headers; i++) {
        if (strcasecmp(call->headers[i].name, name) == 0)
            return true;
    }
    return false;
}

/* What the head must carry, in order. */
static size_t expected_fields(const call_t *call, field_t *out, char *length_text)
{
    const gust_client_t *client = call->client;
    size_t num = 0;
    if (!caller_has(call, "Host"))
        out[num++] = field("Host", call->url.authority);
    for (size_t i = 0; i < call->num_headers; i++)
        out[num++] = field(call->headers[i].name, call->headers[i].value);
    if (client->user_agent != NULL && !caller_has(call, "User-Agent"))
        out[num++] = field("User-Agent", client->user_agent);
    if (call->decompress && !caller_has(call, "Accept-Encoding"))
        out[num++] = field("Accept-Encoding", "gzip, deflate");
    for (size_t i = 0; i < client->opts.num_headers; i++) {
        if (!caller_has(call, client->headers[i].name))
            out[num++] = field(client->headers[i].name, client->headers[i].value);
    }
    if (call->body_read != NULL && call->body_read_len < 0) {
        out[num++] = field("Transfer-Encoding", "chunked");
    } else if (call->body_read != NULL || call->body_len > 0 || strcmp(call->method, "POST") == 0 ||
               strcmp(call->method, "PUT") == 0 || strcmp(call->method, "PATCH") == 0) {
        size_t length = call->body_read != NULL ? (size_t)call->body_read_len : call->body_len;
        sprintf(length_text, "%zu", length);
        out[num++] = field("Content-Length", length_text);
    }
    return num;
}

/* Appends the head behind the one before it on the connection, as
 * pipelining does: those bytes must stay as they were. */
static void check_head(const call_t *call)
{
    static const char before[] = "GET /earlier HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t before_len = sizeof(before) - 1;
    buf_t out = {malloc(before_len), before_len, before_len};
    ASSERT_NOT_NULL(out.data);
    memcpy(out.data, before, before_len);
    ASSERT_TRUE(gust__request_head_append(call, &out));
    ASSERT_TRUE(memcmp(out.data, before, before_len) == 0);
    const char *head = out.data + before_len;
    size_t len = out.len - before_len;
    ASSERT_NULL(memchr(head, '\0', len));

    field_t line, got[MAX_FIELDS + 8], want[MAX_FIELDS + 8];
    char length_text[32];
    size_t num_got = read_head(head, len, &line, got, MAX_FIELDS + 8);
    size_t num_want = expected_fields(call, want, length_text);
    ASSERT_TRUE(same_text(line.name, line.name_len, call->method, strlen(call->method), false));
    ASSERT_TRUE(
        same_text(line.value, line.value_len, call->url.target, strlen(call->url.target), false));
    ASSERT_UEQ(num_got, num_want);
    for (size_t i = 0; i < num_got; i++) {
        if (!same_text(got[i].name, got[i].name_len, want[i].name, want[i].name_len, true) ||
            !same_text(got[i].value, got[i].value_len, want[i].value, want[i].value_len, false))
            CHECK_FAIL_("header %zu: got %.*s: %.*s, want %.*s: %.*s", i, (int)got[i].name_len,
                        got[i].name, (int)got[i].value_len, got[i].value, (int)want[i].name_len,
                        want[i].name, (int)want[i].value_len, want[i].value);
    }
    free(out.data);
}

/* The checks gust_http_send makes before building anything. */
static bool accepted(const call_t *call)
{
    if (!gust__is_token(call->method))
        return false;
    for (size_t i = 0; i < call->num_headers; i++) {
        const gust_header_t *h = &call->headers[i];
        if (!gust__is_token(h->name) || !gust__is_field_value(h->value) ||
            strcasecmp(h->name, "Content-Length") == 0 ||
            strcasecmp(h->name, "Transfer-Encoding") == 0)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, size};
    uint8_t flags = take_byte(&in);
    /* The fields, each NUL-terminated in a copy of the input. */
    char *text = malloc(in.len + 1);
    ASSERT_NOT_NULL(text);
    memcpy(text, in.data, in.len);
    text[in.len] = '\0';
    const char *fields[2 + 2 * MAX_FIELDS];
    size_t num_fields = 0;
    for (const char *p = text; p <= text + in.len && num_fields < 2 + 2 * MAX_FIELDS;
         p += strlen(p) + 1)
        fields[num_fields++] = p;
    while (num_fields < 2)
        fields[num_fields++] = "";

    static const gust_header_t defaults[] = {{"X-Default", "yes"}};
    gust_client_t client = {0};
    client.user_agent = (flags & FLAG_USER_AGENT) != 0 ? "gust/fuzz" : NULL;
    client.headers = (gust_header_t *)defaults;
    client.opts.num_headers = (flags & FLAG_DEFAULT_HEADER) != 0 ? 1 : 0;
    /* As gust_client_new does: the lines a request without headers gets. */
    ASSERT_TRUE(gust__request_default_lines(&client));
    gust_header_t headers[MAX_FIELDS];
    call_t call = {
        .client = &client,
        .method = (char *)fields[0],
        .headers = headers,
        .num_headers = (num_fields - 2) / 2,
        .decompress = (flags & FLAG_DECOMPRESS) != 0,
        .body_len = (flags & FLAG_BODY) != 0 ? 5 : 0,
        .body_read = (flags & FLAG_BODY_STREAM) != 0 ? no_body : NULL,
        .body_read_len = (flags & FLAG_BODY_CHUNKED) != 0 ? -1 : 7,
    };
    for (size_t i = 0; i < call.num_headers; i++) {
        headers[i].name = fields[2 + 2 * i];
        headers[i].value = fields[3 + 2 * i];
    }

    bool refused = !accepted(&call) || gust_url_parse(fields[1], &call.url, NULL) != 0;
    bool hostile =
        *call.method == '\0' || has_control(call.method, false) || has_control(fields[1], false);
    for (size_t i = 0; i < call.num_headers; i++)
        hostile |= *headers[i].name == '\0' || has_control(headers[i].name, false) ||
                   has_control(headers[i].value, true);
    if (hostile)
        ASSERT_TRUE(refused);
    if (!refused) {
        check_head(&call);
        gust_url_clear(&call.url);
    }
    free(client.default_lines[0].data);
    free(client.default_lines[1].data);
    free(text);
    return 0;
}
