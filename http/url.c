/* URL parsing on top of http-parser's URL parser; see http/url.h. */
#include "gust/url.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"

/* One allocation holds the four strings, host first (see place), after a
 * count of the gust_url_t that share them. */
typedef struct strings_head_s {
    atomic_uint shares;
} strings_head_t;

static strings_head_t *strings_head(const gust_url_t *url)
{
    return (strings_head_t *)(url->host - sizeof(strings_head_t));
}

void gust_url_share(const gust_url_t *url, gust_url_t *out)
{
    /* Relaxed: the caller holds a share already, and whoever passes *out to
     * another thread orders the access. */
    atomic_fetch_add_explicit(&strings_head(url)->shares, 1, memory_order_relaxed);
    *out = *url;
}

void gust_url_clear(gust_url_t *url)
{
    /* acq_rel: every sharer's last read happens before the free. */
    if (url->host != NULL &&
        atomic_fetch_sub_explicit(&strings_head(url)->shares, 1, memory_order_acq_rel) == 1)
        free(strings_head(url));
    memset(url, 0, sizeof(*url));
}

static bool has_field(const struct http_parser_url *parsed, enum http_parser_url_fields field)
{
    return (parsed->field_set & (1u << field)) != 0;
}

/* A part of the text http-parser found. */
typedef struct span_s {
    const char *ptr;
    int len;
} span_t;

static span_t field(const char *text, const struct http_parser_url *parsed,
                    enum http_parser_url_fields which)
{
    span_t span = {text + parsed->field_data[which].off, parsed->field_data[which].len};
    return span;
}

/* Bytes the parser accepts in some places but no request may carry. */
static bool has_forbidden_byte(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return true;
    }
    return false;
}

/* Zone identifiers ("fe80::1%25eth0") fail here too: getaddrinfo would not
 * read them percent-encoded. */
static bool is_ipv6_address(span_t host)
{
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if ((size_t)host.len >= sizeof(text))
        return false;
    memcpy(text, host.ptr, (size_t)host.len);
    text[host.len] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

/* Writes ":port" (7 bytes at most) and returns its length; printf would
 * cost more than the rest of parsing a URL. */
static int format_port(char *buf, unsigned port)
{
    char digits[5];
    int n = 0;
    do {
        digits[n++] = (char)('0' + port % 10);
        port /= 10;
    } while (port != 0);
    buf[0] = ':';
    for (int i = 0; i < n; i++)
        buf[1 + i] = digits[n - 1 - i];
    return n + 1;
}

/* The parts' total length. */
static size_t length_of(const span_t *parts, size_t num)
{
    size_t len = 0;
    for (size_t i = 0; i < num; i++)
        len += (size_t)parts[i].len;
    return len;
}

/* Writes the parts joined, and a NUL, at *at, which moves past them;
 * returns where they start. */
static char *place(char **at, const span_t *parts, size_t num)
{
    char *start = *at;
    for (size_t i = 0; i < num; i++) {
        memcpy(*at, parts[i].ptr, (size_t)parts[i].len);
        *at += parts[i].len;
    }
    *(*at)++ = '\0';
    return start;
}

static int fail(const char **out_reason, const char *reason, int err)
{
    if (out_reason != NULL)
        *out_reason = reason;
    return err;
}

/* fail() for a part longer than its limit: the reason names both. */
static int fail_too_long(const char **out_reason, const char *what, size_t len, size_t max)
{
    /* Per thread: the reason outlives the call, as a static one does. */
    static _Thread_local char reason[96];
    snprintf(reason, sizeof(reason), "%s of %zu bytes is longer than the limit of %zu", what, len,
             max);
    return fail(out_reason, reason, GUST_ERR_URL_TOO_LONG);
}

int gust_url_parse(const char *text, gust_url_t *out, const char **out_reason)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || *text == '\0')
        return fail(out_reason, "empty URL", GUST_ERR_URL);
    /* Before http-parser, whose 16-bit offsets would cut a longer one. */
    size_t text_len = strnlen(text, GUST_URL_MAX_LEN + 1);
    if (text_len > GUST_URL_MAX_LEN)
        return fail_too_long(out_reason, "URL", strlen(text), GUST_URL_MAX_LEN);
    if (has_forbidden_byte(text))
        return fail(out_reason, "control character or space in URL", GUST_ERR_URL);
    struct http_parser_url parsed;
    http_parser_url_init(&parsed);
    if (http_parser_parse_url(text, text_len, 0, &parsed) != 0)
        return fail(out_reason, "malformed URL", GUST_ERR_URL);
    if (!has_field(&parsed, UF_SCHEMA))
        return fail(out_reason, "URL has no scheme", GUST_ERR_URL);

    span_t scheme = field(text, &parsed, UF_SCHEMA);
    bool https;
    if (scheme.len == 4 && strncasecmp(scheme.ptr, "http", 4) == 0)
        https = false;
    else if (scheme.len == 5 && strncasecmp(scheme.ptr, "https", 5) == 0)
        https = true;
    else
        return fail(out_reason, "scheme is not http or https", GUST_ERR_SCHEME);
    span_t host = has_field(&parsed, UF_HOST) ? field(text, &parsed, UF_HOST) : (span_t){"", 0};
    if (host.len == 0)
        return fail(out_reason, "URL has no host", GUST_ERR_URL);
    if (host.len > GUST_URL_MAX_HOST_LEN)
        return fail_too_long(out_reason, "host", (size_t)host.len, GUST_URL_MAX_HOST_LEN);
    /* http-parser reports a bracketed host without its brackets, and lets
     * through an empty "@" before the host, which it does not call userinfo. */
    bool ipv6 = host.ptr > text && host.ptr[-1] == '[';
    const char *before_host = ipv6 ? host.ptr - 1 : host.ptr;
    if (has_field(&parsed, UF_USERINFO) || (before_host > text && before_host[-1] == '@'))
        return fail(out_reason, "credentials in URL are not supported", GUST_ERR_URL);
    if (has_field(&parsed, UF_PORT) && parsed.port == 0)
        return fail(out_reason, "port 0", GUST_ERR_URL);
    if (ipv6 && !is_ipv6_address(host))
        return fail(out_reason, "bracketed host is not an IPv6 address", GUST_ERR_URL);

    uint16_t default_port = https ? 443 : 80;
    uint16_t port = has_field(&parsed, UF_PORT) ? parsed.port : default_port;
    span_t path = {"/", 1};
    if (has_field(&parsed, UF_PATH))
        path = field(text, &parsed, UF_PATH);
    span_t query = {"", 0};
    if (has_field(&parsed, UF_QUERY)) {
        /* The query field starts after '?'; keep the '?'. */
        query = field(text, &parsed, UF_QUERY);
        query.ptr--;
        query.len++;
    }

    char port_text[8];
    span_t port_part = {port_text, format_port(port_text, port)};
    span_t open_bracket = {"[", ipv6 ? 1 : 0};
    span_t close_bracket = {"]", ipv6 ? 1 : 0};
    span_t no_port = {"", 0};
    span_t scheme_part = https ? (span_t){"https://", 8} : (span_t){"http://", 7};
    span_t authority[] = {open_bracket, host, close_bracket,
                          port != default_port ? port_part : no_port};
    span_t target[] = {path, query};
    span_t origin[] = {scheme_part, open_bracket, host, close_bracket, port_part};
    /* One allocation for the four strings: a request parses one URL per
     * hop, and each malloc counts at that rate. */
    strings_head_t *head = malloc(sizeof(*head) + (size_t)host.len + length_of(authority, 4) +
                                  length_of(target, 2) + length_of(origin, 5) + 4);
    if (head == NULL)
        return fail(out_reason, "out of memory", GUST_ERR_NOMEM);
    atomic_init(&head->shares, 1);
    char *at = (char *)(head + 1);
    out->https = https;
    out->port = port;
    out->host = place(&at, &host, 1);
    out->authority = place(&at, authority, 4);
    out->target = place(&at, target, 2);
    out->origin = place(&at, origin, 5);
    return 0;
}
