/* URLs: a table of inputs and the exact parts or error each must give. */
#include "http/url.h"

#include "runtime/err.h"
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
    return 0;
}
