/* URLs: a table of inputs and the exact parts or error each must give. */
#include "gust/url.h"

#include <stdlib.h>
#include <string.h>

#include "gust/err.h"
#include "tests/support/check.h"

typedef struct good_case_s {
    const char *text;
    bool https;
    unsigned port;
    const char *host;
    const char *authority;
    const char *target;
    const char *origin;
} good_case_t;

static const good_case_t good[] = {
    {"http://example.com", false, 80, "example.com", "example.com", "/", "http://example.com:80"},
    {"https://example.com/", true, 443, "example.com", "example.com", "/",
     "https://example.com:443"},
    {"http://127.0.0.1:8080/a/b?x=1&y=2#frag", false, 8080, "127.0.0.1", "127.0.0.1:8080",
     "/a/b?x=1&y=2", "http://127.0.0.1:8080"},
    {"HTTPS://Example.COM:443/p", true, 443, "Example.COM", "Example.COM", "/p",
     "https://Example.COM:443"},
    {"http://[::1]:9000/x", false, 9000, "::1", "[::1]:9000", "/x", "http://[::1]:9000"},
    {"https://[::1]/", true, 443, "::1", "[::1]", "/", "https://[::1]:443"},
    {"http://h?only=query", false, 80, "h", "h", "/?only=query", "http://h:80"},
};

typedef struct bad_case_s {
    const char *text;
    int err;
} bad_case_t;

static const bad_case_t bad[] = {
    {"", GUST_ERR_URL},
    {"example.com/path", GUST_ERR_URL},
    {"/relative", GUST_ERR_URL},
    {"ftp://example.com/", GUST_ERR_SCHEME},
    {"file:///etc/passwd", GUST_ERR_URL},
    {"http://", GUST_ERR_URL},
    {"http://user:secret@example.com/", GUST_ERR_URL},
    {"http://example.com/a b", GUST_ERR_URL},
    {"http://example.com/a\r\nX-Injected: 1", GUST_ERR_URL},
    {"http://example.com/\t", GUST_ERR_URL},
    {"http://example.com:0/", GUST_ERR_URL},
    {"http://example.com:99999/", GUST_ERR_URL},
    {"http://[::1/", GUST_ERR_URL},
    {"http://@example.com/", GUST_ERR_URL},
    {"http://[abc]/", GUST_ERR_URL},
    {"http://[1.2.3.4]/", GUST_ERR_URL},
    {"http://[fe80::1%25eth0]/", GUST_ERR_URL},
};

/* "http://" + `host_len` bytes of host + "/" + path bytes, `len` in all. */
static char *long_url(size_t host_len, size_t len)
{
    char *text = malloc(len + 1);
    ASSERT_NOT_NULL(text);
    memset(text, 'a', len);
    memcpy(text, "http://", 7);
    text[7 + host_len] = '/';
    text[len] = '\0';
    return text;
}

/* Lengths at and past the limits: http-parser's 16-bit offsets would cut
 * a URL past 65,535 bytes, so gust_url_parse refuses one long before. */
static void check_length_limits(void)
{
    static const struct {
        size_t host_len, len;
        int err;
        const char *reason;
    } cases[] = {
        {9, GUST_URL_MAX_LEN, 0, NULL},
        {9, GUST_URL_MAX_LEN + 1, GUST_ERR_URL_TOO_LONG,
         "URL of 32769 bytes is longer than the limit of 32768"},
        {9, 100000, GUST_ERR_URL_TOO_LONG, "URL of 100000 bytes is longer than the limit of 32768"},
        {65524, 65540, GUST_ERR_URL_TOO_LONG,
         "URL of 65540 bytes is longer than the limit of 32768"},
        {GUST_URL_MAX_HOST_LEN, 300, 0, NULL},
        {GUST_URL_MAX_HOST_LEN + 1, 300, GUST_ERR_URL_TOO_LONG,
         "host of 256 bytes is longer than the limit of 255"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = long_url(cases[i].host_len, cases[i].len);
        gust_url_t url;
        const char *reason = NULL;
        ASSERT_EQ(gust_url_parse(text, &url, &reason), cases[i].err);
        if (cases[i].err == 0) {
            ASSERT_UEQ(strlen(url.host), cases[i].host_len);
            ASSERT_UEQ(strlen(url.target), cases[i].len - 7 - cases[i].host_len);
        } else {
            ASSERT_STR_EQ(reason, cases[i].reason);
            ASSERT_NULL(url.host);
        }
        gust_url_clear(&url);
        free(text);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const good_case_t *c = &good[i];
        gust_url_t url;
        const char *reason = NULL;
        int rc = gust_url_parse(c->text, &url, &reason);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", c->text, reason);
        ASSERT_EQ(rc, 0);
        ASSERT_EQ(url.https, c->https);
        ASSERT_UEQ(url.port, c->port);
        ASSERT_STR_EQ(url.host, c->host);
        ASSERT_STR_EQ(url.authority, c->authority);
        ASSERT_STR_EQ(url.target, c->target);
        ASSERT_STR_EQ(url.origin, c->origin);
        /* A share outlives the parse it came from (ASan sees a string read
         * after its free, and a share never let go of). */
        gust_url_t shared;
        gust_url_share(&url, &shared);
        gust_url_clear(&url);
        gust_url_clear(&url); /* clearing twice is harmless */
        ASSERT_STR_EQ(shared.host, c->host);
        ASSERT_STR_EQ(shared.origin, c->origin);
        gust_url_clear(&shared);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const bad_case_t *c = &bad[i];
        gust_url_t url;
        const char *reason = NULL;
        int rc = gust_url_parse(c->text, &url, &reason);
        if (rc != c->err)
            fprintf(stderr, "case \"%s\"\n", c->text);
        ASSERT_EQ(rc, c->err);
        ASSERT_NOT_NULL(reason);
        ASSERT_NULL(url.host);
        ASSERT_NULL(url.target);
    }
    gust_url_t url;
    ASSERT_EQ(gust_url_parse(NULL, &url, NULL), GUST_ERR_URL);
    check_length_limits();
    return 0;
}
