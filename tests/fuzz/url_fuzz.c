/* URL parsing (http/url.h). The input is the URL text up to its first NUL;
 * after the NUL, each 5 bytes (a big-endian u16 start, a u8 length, a u16
 * count) repeat a piece of the text, text[start, start + length) clamped to
 * it, count more times right after itself. So a few bytes stand for a URL
 * of up to MAX_TEXT_LEN bytes, well past the 65,535 where http-parser's
 * 16-bit offsets wrap, which libFuzzer (4,096 bytes by default) would not
 * otherwise write.
 *
 * A URL that parses must have been written "http://" or "https://", then
 * the authority (a host, bracketed when it is an IPv6 literal, an optional
 * port, no userinfo), then the request target up to any fragment; its parts
 * must agree with that text byte for byte (so no part was cut) and with each
 * other, and a URL rebuilt from its parts must parse to the same parts.
 * Whatever parses carries no control character or space and is within
 * GUST_URL_MAX_LEN; whatever is longer is refused as too long. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "gust/url.h"
#include "tests/fuzz/input.h"
#include "tests/support/check.h"

enum { MAX_TEXT_LEN = 1 << 17 };

static void check_no_forbidden_byte(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        ASSERT_TRUE(*p > ' ' && *p != 0x7f);
}

/* The URL text: the input up to its first NUL, with the pieces the bytes
 * after it repeat (see the top). The caller frees it. */
static char *expand(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size);
    char *text = malloc(MAX_TEXT_LEN + 1);
    ASSERT_NOT_NULL(text);
    memcpy(text, data, len);
    fuzz_input_t in = {data + len, size - len};
    (void)take_byte(&in); /* the NUL */
    while (in.len > 0) {
        size_t start = take_u16(&in);
        size_t piece_len = take_byte(&in);
        size_t count = take_u16(&in);
        start = start < len ? start : len;
        piece_len = piece_len < len - start ? piece_len : len - start;
        if (piece_len == 0)
            continue;
        size_t room = (MAX_TEXT_LEN - len) / piece_len;
        count = count < room ? count : room;
        size_t end = start + piece_len;
        memmove(text + end + count * piece_len, text + end, len - end);
        for (size_t i = 1; i <= count; i++)
            memcpy(text + start + i * piece_len, text + start, piece_len);
        len += count * piece_len;
    }
    text[len] = '\0';
    return text;
}

/* The authority as written: after "scheme://", up to the path, query or
 * fragment. Returns where the target starts in `text`. */
static const char *check_authority_text(const char *text, const gust_url_t *url)
{
    const char *start = strstr(text, "://");
    ASSERT_NOT_NULL(start);
    char *written = strndup(start + 3, strcspn(start + 3, "/?#"));
    ASSERT_NOT_NULL(written);
    ASSERT_NULL(strchr(written, '@'));

    /* host or [host], then :digits if a port was written. */
    bool ipv6 = written[0] == '[';
    ASSERT_TRUE(ipv6 == (strchr(url->host, ':') != NULL));
    size_t host_len = strlen(url->host);
    size_t host_end = host_len + (ipv6 ? 2 : 0);
    ASSERT_UGE(strlen(written), host_end);
    ASSERT_TRUE(strncmp(written + (ipv6 ? 1 : 0), url->host, host_len) == 0);
    if (ipv6)
        ASSERT_TRUE(written[host_len + 1] == ']');
    const char *port = written + host_end;
    if (*port != '\0') {
        ASSERT_TRUE(*port == ':');
        port++;
        ASSERT_UGT(strlen(port), 0);
        ASSERT_UEQ(strspn(port, "0123456789"), strlen(port));
        ASSERT_UEQ(strtoul(port, NULL, 10), url->port);
    }
    size_t written_len = strlen(written);
    free(written);
    return start + 3 + written_len;
}

/* The target as written: path and query up to any fragment, with "/" in
 * front when the path is empty. */
static void check_target_text(const char *written, const gust_url_t *url)
{
    size_t len = strcspn(written, "#");
    size_t slash = written[0] != '/' ? 1 : 0;
    /* http-parser reports an empty query as none: its '?' goes. */
    if (len > 0 && strcspn(written, "?") == len - 1 && strchr(url->target, '?') == NULL)
        len--;
    ASSERT_UEQ(strlen(url->target), slash + len);
    ASSERT_TRUE(strncmp(url->target + slash, written, len) == 0);
}

static char *print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    ASSERT_NOT_NULL(s);
    return s;
}

/* What the parts must say of each other. */
static void check_parts(const gust_url_t *url)
{
    ASSERT_UGT(strlen(url->host), 0);
    ASSERT_UNE(url->port, 0);
    ASSERT_TRUE(url->target[0] == '/');
    check_no_forbidden_byte(url->host);
    check_no_forbidden_byte(url->target);
    bool ipv6 = strchr(url->host, ':') != NULL;
    unsigned default_port = url->https ? 443 : 80;
    char *host = print("%s%s%s", ipv6 ? "[" : "", url->host, ipv6 ? "]" : "");
    char *authority =
        url->port != default_port ? print("%s:%u", host, url->port) : print("%s", host);
    char *origin = print("%s://%s:%u", url->https ? "https" : "http", host, url->port);
    ASSERT_STR_EQ(url->authority, authority);
    ASSERT_STR_EQ(url->origin, origin);
    free(host);
    free(authority);
    free(origin);
}

/* All the parts in one line, to compare two URLs at once. */
static char *describe(const gust_url_t *url)
{
    return print("https=%d port=%u host=%s authority=%s target=%s origin=%s", url->https, url->port,
                 url->host, url->authority, url->target, url->origin);
}

static void check_round_trip(const gust_url_t *url)
{
    char *text = print("%s://%s%s", url->https ? "https" : "http", url->authority, url->target);
    gust_url_t again;
    const char *reason = NULL;
    int err = gust_url_parse(text, &again, &reason);
    /* A "/" added before a query can take a URL at the limit past it. */
    if (strlen(text) > GUST_URL_MAX_LEN) {
        ASSERT_EQ(err, GUST_ERR_URL_TOO_LONG);
        free(text);
        return;
    }
    if (err != 0)
        CHECK_FAIL_("rebuilt \"%s\" does not parse: %s", text, reason);
    char *want = describe(url), *got = describe(&again);
    ASSERT_STR_EQ(got, want);
    free(want);
    free(got);
    gust_url_clear(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = expand(data, size);
    gust_url_t url;
    const char *reason = NULL;
    int err = gust_url_parse(text, &url, &reason);
    if (err == 0) {
        ASSERT_ULE(strlen(text), GUST_URL_MAX_LEN);
        ASSERT_ULE(strlen(url.host), GUST_URL_MAX_HOST_LEN);
        ASSERT_TRUE(strncasecmp(text, "http://", 7) == 0 || strncasecmp(text, "https://", 8) == 0);
        ASSERT_TRUE(url.https == (strncasecmp(text, "https", 5) == 0));
        check_no_forbidden_byte(text);
        check_target_text(check_authority_text(text, &url), &url);
        check_parts(&url);
        check_round_trip(&url);
        gust_url_clear(&url);
    } else {
        ASSERT_TRUE(err == GUST_ERR_URL || err == GUST_ERR_SCHEME || err == GUST_ERR_URL_TOO_LONG);
        if (strlen(text) > GUST_URL_MAX_LEN)
            ASSERT_EQ(err, GUST_ERR_URL_TOO_LONG);
        ASSERT_NOT_NULL(reason);
        /* Nothing to free on error: a second clear of a zeroed url is fine. */
        gust_url_clear(&url);
    }
    free(text);
    return 0;
}
