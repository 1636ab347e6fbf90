/* Security regressions, one list: each test is a hole a client of the open
 * internet must not have. Some repeat checks of tests/http (faults.txt,
 * redirect_test, tls_test) so that this file alone says what is guarded.
 * Each test runs in a process of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/http/client_util.h"
#include "tests/support/http_server.h"
#include "tests/support/tls_certs.h"
#include "tests/support/wait.h"

/* Sends `req` and fails the test unless it fails with `err`; returns how
 * long it took. */
static uint64_t expect_error(gust_client_t *client, const gust_request_t *req, int err)
{
    outcome_t out = send_wait(client, req);
    ASSERT_ERROR(out, err);
    /* The message shows control characters as '?': it cannot forge log lines. */
    ASSERT_PTR_EQ(strpbrk(out.message, "\r\n"), NULL);
    uint64_t elapsed_ns = out.elapsed_ns;
    outcome_clear(&out);
    return elapsed_ns;
}

/* A GET of `path` on `server` that must fail with `err`. */
static void expect_get_error(gust_client_t *client, const test_server_t *server, const char *path,
                             int err)
{
    char url[512];
    test_server_url(server, url, sizeof(url), "%s", path);
    gust_request_t req = {.url = url};
    expect_error(client, &req, err);
}

/* Fails the test unless `req` fails with `err` before anything reaches the
 * server. */
static void assert_refused_unsent(gust_client_t *client, test_server_t *server,
                                  const gust_request_t *req, int err)
{
    expect_error(client, req, err);
    ASSERT_UEQ(test_server_connections_accepted(server), 0);
    ASSERT_UEQ(test_server_requests_served(server), 0);
}

/* CR or LF in the method, the target, a header name or a header value
 * would let a caller's data add headers or whole requests. */
static void crlf_injection_refused(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/echo");

    gust_request_t method = {.method = "GET /x HTTP/1.1\r\nX-Injected: 1\r\n", .url = url};
    assert_refused_unsent(client, server, &method, GUST_ERR_BAD_REQUEST);

    char target[256];
    test_server_url(server, target, sizeof(target), "/echo\r\nX-Injected: 1");
    gust_request_t in_target = {.url = target};
    assert_refused_unsent(client, server, &in_target, GUST_ERR_URL);
    test_server_url(server, target, sizeof(target), "/echo HTTP/1.1\nX-Injected: 1");
    assert_refused_unsent(client, server, &in_target, GUST_ERR_URL);

    static const gust_header_t bad_headers[] = {
        {"X-Ok\r\nX-Injected", "1"},  {"X-Ok\n", "1"},  {"X-Ok", "a\r\nX-Injected: 1"},
        {"X-Ok", "a\nX-Injected: 1"}, {"X-Ok", "a\rb"},
    };
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        gust_request_t req = {.url = url, .headers = &bad_headers[i], .num_headers = 1};
        assert_refused_unsent(client, server, &req, GUST_ERR_BAD_REQUEST);
    }

    /* The same holds for the headers every request of a client gets. */
    gust_client_opts_t opts = gust_client_opts_default();
    opts.headers = &bad_headers[2];
    opts.num_headers = 1;
    gust_client_t *with_bad_default = gust_client_new(NULL, &opts);
    if (with_bad_default != NULL) {
        gust_request_t req = {.url = url};
        assert_refused_unsent(with_bad_default, server, &req, GUST_ERR_BAD_REQUEST);
        gust_client_free(with_bad_default);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* A redirect to another origin must not carry the first origin's
 * credentials along. */
static void credentials_dropped_across_origins(void)
{
    test_server_t *first = test_server_start(NULL);
    test_server_t *second = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const gust_header_t headers[] = {
        {"Authorization", "Bearer secret"},
        {"Cookie", "session=1"},
        {"Proxy-Authorization", "Basic cHJveHk="},
    };
    char url[512];
    /* The Location is a plain query value: nothing in it needs %-escaping. */
    test_server_url(first, url, sizeof(url), "/redirect?code=302&to=%s/echo",
                    test_server_origin(second));
    gust_request_t req = {.url = url, .headers = headers, .num_headers = 3};
    outcome_t out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    echo_t e = echo_parse(&out);
    for (size_t i = 0; i < 3; i++) {
        char *value = echo_header(&e, headers[i].name);
        if (value != NULL)
            CHECK_FAIL_("%s reached another origin: %s", headers[i].name, value);
    }
    echo_clear(&e);
    outcome_clear(&out);
    ASSERT_UEQ(test_server_requests_served(second), 1);
    gust_client_free(client);
    test_server_stop(second);
    test_server_stop(first);
}

/* A server must not make the client read local files (or speak other
 * schemes) by redirecting it. */
static void redirect_to_file_refused(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const char *const targets[] = {"file:///etc/passwd", "file://localhost/etc/passwd",
                                          "FILE:///etc/passwd"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/redirect?code=302&to=%s", targets[i]);
        expect_get_error(client, server, path, GUST_ERR_REDIRECT_REFUSED);
    }
    gust_request_t direct = {.url = "file://localhost/etc/passwd"};
    expect_error(client, &direct, GUST_ERR_SCHEME);
    gust_client_free(client);
    test_server_stop(server);
}

/* http-parser's URL offsets are 16 bits: past 65,535 bytes they wrap, and
 * a URL whose host an allow-list reads as *.example.com connected to
 * 127.0.0.1, and a long one went out cut. Neither may leave the client. */
static void over_long_url_refused(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    enum { HOST_PAD = 65524, WRAP_LEN = 16 + HOST_PAD + 14, CUT_LEN = 100000 };
    char *wraps = malloc(WRAP_LEN + 1);
    ASSERT_NOT_NULL(wraps);
    memset(wraps, 'a', WRAP_LEN);
    memcpy(wraps, "http://127.0.0.1", 16);
    memcpy(wraps + 16 + HOST_PAD, ".example.com/x", 15);
    gust_request_t wrapped_host = {.url = wraps};
    assert_refused_unsent(client, server, &wrapped_host, GUST_ERR_URL_TOO_LONG);

    char *cut = malloc(CUT_LEN + 1);
    ASSERT_NOT_NULL(cut);
    test_server_url(server, cut, CUT_LEN, "/echo?q=");
    size_t prefix_len = strlen(cut);
    memset(cut + prefix_len, 'a', CUT_LEN - prefix_len);
    cut[CUT_LEN] = '\0';
    gust_request_t cut_query = {.url = cut};
    assert_refused_unsent(client, server, &cut_query, GUST_ERR_URL_TOO_LONG);
    free(cut);
    free(wraps);
    gust_client_free(client);
    test_server_stop(server);
}

/* A TLS server of the test CA, with `kind` of leaf. */
static test_server_t *tls_server(const tls_certs_t *certs, tls_cert_kind_t kind)
{
    test_server_opts_t o = test_server_opts_default();
    o.cert_file = certs->leaf[kind].cert_file;
    o.key_file = certs->leaf[kind].key_file;
    return test_server_start(&o);
}

/* With default options a self-signed certificate, and one from a CA the
 * system does not know, fail: verification is on unless asked off. */
static void verification_on_by_default(void)
{
    tls_certs_t *certs = tls_certs_make(NULL);
    ASSERT_NOT_NULL(certs);
    ASSERT_FALSE(gust_client_opts_default().insecure);
    gust_client_t *client = new_client(NULL, NULL);
    static const struct {
        tls_cert_kind_t kind;
        int err;
    } cases[] = {
        {TLS_CERT_SELF_SIGNED, GUST_ERR_CERT_SELF_SIGNED},
        {TLS_CERT_GOOD, GUST_ERR_CERT_UNKNOWN_CA},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_server_t *server = tls_server(certs, cases[i].kind);
        expect_get_error(client, server, "/bytes?n=10", cases[i].err);
        ASSERT_UEQ(test_server_requests_served(server), 0);
        test_server_stop(server);
    }
    gust_client_free(client);
    tls_certs_free(certs);
}

/* A connection made without verification stays with insecure requests: a
 * verifying request to the same origin makes its own, and fails. */
static void insecure_connection_not_reused_for_verifying(void)
{
    tls_certs_t *certs = tls_certs_make(NULL);
    ASSERT_NOT_NULL(certs);
    test_server_t *server = tls_server(certs, TLS_CERT_SELF_SIGNED);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=10");

    gust_request_t insecure = {.url = url, .insecure = true};
    outcome_t out = send_wait(client, &insecure);
    ASSERT_RESPONSE(out, 200);
    outcome_clear(&out);
    /* The insecure connection is idle and alive now. */
    gust_request_t verifying = {.url = url};
    expect_error(client, &verifying, GUST_ERR_CERT_SELF_SIGNED);
    ASSERT_UEQ(test_server_requests_served(server), 1);
    ASSERT_UEQ(test_server_connections_accepted(server), 2);
    gust_client_free(client);
    test_server_stop(server);
    tls_certs_free(certs);
}

/* A GiB of zeros gzip'd to a MiB stops at the decoded cap, and the default
 * cap is finite. */
static void decompression_bomb_stops_at_the_cap(void)
{
    ASSERT_UGT(gust_client_opts_default().max_decoded_bytes, 0);
    ASSERT_ULE(gust_client_opts_default().max_decoded_bytes, (size_t)1 << 30);
    test_server_t *server = test_server_start(NULL);
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_decoded_bytes = 16u << 20;
    gust_client_t *client = new_client(NULL, &opts);
    expect_get_error(client, server, "/gzip-bomb?mb=1024", GUST_ERR_DECODED_TOO_LARGE);
    gust_client_free(client);
    test_server_stop(server);
}

/* Headers that never end are refused at the header cap: the client stops
 * reading long before the server's 100 MiB are sent. */
static void endless_headers_stop_at_the_cap(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    expect_get_error(client, server, "/endless-headers?mb=100", GUST_ERR_HEADER_TOO_LARGE);
    gust_client_free(client);
    /* The client closed the socket unread: the server's next send fails.
     * What the socket buffers took is counted too, a few MiB at most. */
    sleep_ms(200);
    unsigned long sent = test_server_bytes_sent(server);
    fprintf(stderr, "    the server sent %lu bytes of headers\n", sent);
    ASSERT_ULT(sent, 16ul << 20);
    test_server_stop(server);
}

/* A server that trickles a byte a second keeps every read timeout happy;
 * only the total timeout ends it. */
static void trickle_hits_the_total_timeout(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    test_server_url(server, url, sizeof(url), "/one-byte-per-second");
    gust_request_t req = {.url = url, .total_timeout_ns = 2500 * MS};
    uint64_t elapsed_ns = expect_error(client, &req, GUST_ERR_TOTAL_TIMEOUT);
    ASSERT_UGE(elapsed_ns, 2500 * MS);
    ASSERT_ULT(elapsed_ns, 10000 * MS);
    gust_client_free(client);
    test_server_stop(server);
}

int main(void)
{
    static const test_t tests[] = {
        {.name = "CR/LF injection refused", .fn = crlf_injection_refused},
        {.name = "credentials dropped across origins", .fn = credentials_dropped_across_origins},
        {.name = "redirect to file:// refused", .fn = redirect_to_file_refused},
        {.name = "over-long URL refused", .fn = over_long_url_refused},
        {.name = "verification on by default", .fn = verification_on_by_default},
        {.name = "insecure connection not reused for verifying",
         .fn = insecure_connection_not_reused_for_verifying},
        {.name = "decompression bomb stops at the cap", .fn = decompression_bomb_stops_at_the_cap},
        {.name = "endless headers stop at the cap", .fn = endless_headers_stop_at_the_cap},
        {.name = "trickle hits the total timeout", .fn = trickle_hits_the_total_timeout},
    };
    return run_tests(tests, sizeof(tests) / sizeof(tests[0]), 30);
}
