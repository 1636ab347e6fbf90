/* Redirects: which method and body each status resends (seen through
 * /echo), chains and their limit, refused targets, credentials across
 * origins, how a relative Location resolves, and what a streamed request's
 * on_head and on_body see of the hops. */
#include <stdio.h>
#include <string.h>

#include "tests/http/client_util.h"
#include "tests/http/raw_server.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

/* Percent-encodes `s` for the server's `to` parameter. */
static void encode(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        ASSERT_ULT(n + 4, cap);
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/:", c) != NULL)
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = '\0';
}

/* The URL of /redirect?code=<code>&to=<to> on `server`. */
static void redirect_url(const test_server_t *server, char *buf, size_t len, int code,
                         const char *to)
{
    char encoded[1024];
    encode(encoded, sizeof(encoded), to);
    test_server_url(server, buf, len, "/redirect?code=%d&to=%s", code, encoded);
}

typedef struct method_case_s {
    int code;
    const char *method;       /* sent with a body "payload" */
    const char *final_method; /* on the echo */
    bool keeps_body;
} method_case_t;

static const method_case_t method_cases[] = {
    {301, "POST", "GET", false},   {302, "POST", "GET", false}, {303, "POST", "GET", false},
    {303, "PUT", "GET", false},    {307, "POST", "POST", true}, {308, "POST", "POST", true},
    {301, "PUT", "PUT", true},     {302, "PUT", "PUT", true},   {307, "PUT", "PUT", true},
    {308, "PATCH", "PATCH", true},
};

/* Which method and body reach the target. */
static void test_methods(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    for (size_t i = 0; i < sizeof(method_cases) / sizeof(method_cases[0]); i++) {
        const method_case_t *c = &method_cases[i];
        fprintf(stderr, "  %d after %s -> %s%s\n", c->code, c->method, c->final_method,
                c->keeps_body ? " with the body" : " without a body");
        char url[512];
        redirect_url(server, url, sizeof(url), c->code, "/echo");
        gust_header_t headers[] = {{"Content-Type", "text/plain"}, {"X-Keep", "kept"}};
        gust_request_t req = {
            .method = c->method,
            .url = url,
            .headers = headers,
            .num_headers = 2,
            .body = "payload",
            .body_len = 7,
        };
        outcome_t out = send_wait(client, &req);
        ASSERT_RESPONSE(out, 200);
        ASSERT_UEQ(gust_response_num_redirects(out.resp), 1);
        echo_t e = echo_parse(&out);
        char line[64];
        snprintf(line, sizeof(line), "%s /echo HTTP/1.1", c->final_method);
        ASSERT_STR_EQ(e.request_line, line);
        char *length = echo_header(&e, "Content-Length");
        char *type = echo_header(&e, "Content-Type");
        char *keep = echo_header(&e, "X-Keep");
        ASSERT_STR_EQ(keep, "kept");
        if (c->keeps_body) {
            ASSERT_STR_EQ(length, "7");
            ASSERT_STR_EQ(type, "text/plain");
            ASSERT_UEQ(e.body_len, 7);
            ASSERT_EQ(memcmp(e.body, "payload", 7), 0);
        } else {
            /* A GET with no body announces none. */
            ASSERT_NULL(length);
            ASSERT_NULL(type);
            ASSERT_NULL(echo_header(&e, "Transfer-Encoding"));
            ASSERT_UEQ(e.body_len, 0);
        }
        free(length);
        free(type);
        free(keep);
        echo_clear(&e);
        outcome_clear(&out);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* Statuses that are not followed even with a Location. */
static void test_not_followed(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const int codes[] = {300, 304, 305, 399};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char url[512];
        redirect_url(server, url, sizeof(url), codes[i], "/echo");
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, codes[i]);
        ASSERT_UEQ(gust_response_num_redirects(out.resp), 0);
        ASSERT_STR_EQ(gust_response_header(out.resp, "Location"), "/echo");
        ASSERT_STR_EQ(gust_response_url(out.resp), url);
        outcome_clear(&out);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* Chains: followed up to max_redirects, refused past it. */
static void test_chains(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256], final_url[256];
    test_server_url(server, final_url, sizeof(final_url), "/redirect-chain?n=0");

    test_server_url(server, url, sizeof(url), "/redirect-chain?n=%d", 5);
    outcome_t out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    assert_body(&out, "done");
    ASSERT_UEQ(gust_response_num_redirects(out.resp), 5);
    ASSERT_STR_EQ(gust_response_url(out.resp), final_url);
    outcome_clear(&out);

    /* The client's default limit is 10: 10 hops are fine, 11 are not. */
    test_server_url(server, url, sizeof(url), "/redirect-chain?n=%d", 10);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    ASSERT_UEQ(gust_response_num_redirects(out.resp), 10);
    outcome_clear(&out);
    test_server_url(server, url, sizeof(url), "/redirect-chain?n=%d", 11);
    out = get_wait(client, url);
    ASSERT_ERROR(out, GUST_ERR_TOO_MANY_REDIRECTS);
    ASSERT_CONTAINS(out.message, test_server_origin(server));
    ASSERT_CONTAINS(out.message, "/redirect-chain?n=");
    fprintf(stderr, "  -> %s: %s\n", gust_err_name(out.err), out.message);
    outcome_clear(&out);

    /* The request's own limit. */
    test_server_url(server, url, sizeof(url), "/redirect-chain?n=%d", 3);
    gust_request_t req = {.url = url, .max_redirects = 3};
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    ASSERT_UEQ(gust_response_num_redirects(out.resp), 3);
    outcome_clear(&out);
    test_server_url(server, url, sizeof(url), "/redirect-chain?n=%d", 4);
    out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_TOO_MANY_REDIRECTS);
    outcome_clear(&out);

    /* -1: the first 3xx comes back as it is. */
    req.max_redirects = -1;
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 302);
    assert_body(&out, "redirecting");
    ASSERT_STR_EQ(gust_response_header(out.resp, "Location"), "/redirect-chain?n=3");
    ASSERT_UEQ(gust_response_num_redirects(out.resp), 0);
    ASSERT_STR_EQ(gust_response_url(out.resp), url);
    outcome_clear(&out);
    gust_client_free(client);

    /* A client with max_redirects 0 follows none. */
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_redirects = 0;
    client = new_client(NULL, &opts);
    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 302);
    outcome_clear(&out);
    gust_client_free(client);
    test_server_stop(server);
}

/* Targets that are not http or https, or not URLs. */
static void test_refused(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const char *const targets[] = {
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "javascript:alert(1)",
        "http://",
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char url[512];
        redirect_url(server, url, sizeof(url), 302, targets[i]);
        outcome_t out = get_wait(client, url);
        ASSERT_ERROR(out, GUST_ERR_REDIRECT_REFUSED);
        ASSERT_CONTAINS(out.message, url);
        fprintf(stderr, "  -> %s: %s\n", gust_err_name(out.err), out.message);
        outcome_clear(&out);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* 307 and 308 cannot resend a body read from a callback; 303 sends none. */
typedef struct src_s {
    const char *data;
    size_t off;
} src_t;

static ssize_t read_src(void *arg, void *buf, size_t cap)
{
    src_t *src = arg;
    size_t n = strlen(src->data + src->off);
    n = n < cap ? n : cap;
    memcpy(buf, src->data + src->off, n);
    src->off += n;
    return (ssize_t)n;
}

static void test_body_from_callback(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    static const struct {
        int code;
        int err;
    } cases[] = {
        {307, GUST_ERR_REDIRECT_REFUSED}, {308, GUST_ERR_REDIRECT_REFUSED}, {303, 0}, {302, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[512];
        redirect_url(server, url, sizeof(url), cases[i].code, "/echo");
        src_t src = {.data = "streamed"};
        gust_request_t req = {
            .method = "POST",
            .url = url,
            .body_read = read_src,
            .body_read_arg = &src,
            .body_len = 8,
        };
        outcome_t out = send_wait(client, &req);
        if (cases[i].err != 0) {
            ASSERT_ERROR(out, cases[i].err);
            ASSERT_CONTAINS(out.message, url);
        } else {
            ASSERT_RESPONSE(out, 200);
            echo_t e = echo_parse(&out);
            ASSERT_STR_EQ(e.request_line, "GET /echo HTTP/1.1");
            ASSERT_UEQ(e.body_len, 0);
            ASSERT_NULL(echo_header(&e, "Content-Length"));
            ASSERT_NULL(echo_header(&e, "Transfer-Encoding"));
            echo_clear(&e);
        }
        outcome_clear(&out);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* Credentials stay with their origin; other headers follow the redirect. */
static void test_credentials(void)
{
    test_server_t *first = test_server_start(NULL);
    test_server_t *second = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    gust_header_t headers[] = {
        {"Authorization", "Bearer secret"},
        {"Cookie", "session=1"},
        {"Proxy-Authorization", "Basic cHJveHk="},
        {"X-Keep", "kept"},
        {"Accept", "text/plain"},
    };
    enum { NUM_HEADERS = sizeof(headers) / sizeof(headers[0]) };

    /* Same origin: all kept. */
    char url[512];
    redirect_url(first, url, sizeof(url), 302, "/echo");
    gust_request_t req = {.url = url, .headers = headers, .num_headers = NUM_HEADERS};
    outcome_t out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    echo_t e = echo_parse(&out);
    for (size_t i = 0; i < NUM_HEADERS; i++) {
        char *v = echo_header(&e, headers[i].name);
        ASSERT_STR_EQ(v, headers[i].value);
        free(v);
    }
    echo_clear(&e);
    outcome_clear(&out);

    /* Another port is another origin: credentials dropped, the rest kept,
     * and Host names the new origin. */
    char target[256];
    test_server_url(second, target, sizeof(target), "/echo");
    redirect_url(first, url, sizeof(url), 302, target);
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    ASSERT_STR_EQ(gust_response_url(out.resp), target);
    e = echo_parse(&out);
    ASSERT_STR_EQ(e.request_line, "GET /echo HTTP/1.1");
    ASSERT_NULL(echo_header(&e, "Authorization"));
    ASSERT_NULL(echo_header(&e, "Cookie"));
    ASSERT_NULL(echo_header(&e, "Proxy-Authorization"));
    char *keep = echo_header(&e, "X-Keep");
    char *accept = echo_header(&e, "Accept");
    char *host = echo_header(&e, "Host");
    ASSERT_STR_EQ(keep, "kept");
    ASSERT_STR_EQ(accept, "text/plain");
    ASSERT_STR_EQ(host, test_server_origin(second) + strlen("http://"));
    free(keep);
    free(accept);
    free(host);
    echo_clear(&e);
    outcome_clear(&out);
    ASSERT_UEQ(test_server_requests_served(second), 1);

    /* A Host the caller set names the first origin: it goes too. */
    gust_header_t with_host[] = {{"Host", "example.test"}, {"Authorization", "Bearer secret"}};
    gust_request_t host_req = {.url = url, .headers = with_host, .num_headers = 2};
    out = send_wait(client, &host_req);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    host = echo_header(&e, "Host");
    ASSERT_STR_EQ(host, test_server_origin(second) + strlen("http://"));
    ASSERT_NULL(echo_header(&e, "Authorization"));
    free(host);
    echo_clear(&e);
    outcome_clear(&out);

    /* Credentials sent to the second origin in the first place stay on
     * the way back to it: a redirect to the same origin keeps them. */
    redirect_url(second, url, sizeof(url), 307, "/echo");
    out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    e = echo_parse(&out);
    char *auth = echo_header(&e, "Authorization");
    ASSERT_STR_EQ(auth, "Bearer secret");
    free(auth);
    echo_clear(&e);
    outcome_clear(&out);

    gust_client_free(client);
    test_server_stop(second);
    test_server_stop(first);
}

/* Relative Locations resolve against the URL that answered. */
static void test_relative(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char network_path[256];
    snprintf(network_path, sizeof(network_path), "//127.0.0.1:%u/echo?via=network-path",
             test_server_port(server));
    const struct {
        const char *to;
        const char *final_target; /* what the final request asked for */
        int status;
    } cases[] = {
        {"echo", "/echo", 200},
        {"/echo", "/echo", 200},
        {"/echo?a=1&b=2", "/echo?a=1&b=2", 200},
        {"echo?q", "/echo?q", 200},
        /* A query alone replaces the query: /redirect?x=1 has no `to`. */
        {"?x=1", "/redirect?x=1", 400},
        {network_path, "/echo?via=network-path", 200},
        {"http://127.0.0.1:PORT/echo?abs", "/echo?abs", 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char to[256];
        const char *port = strstr(cases[i].to, "PORT");
        if (port != NULL)
            snprintf(to, sizeof(to), "%.*s%u%s", (int)(port - cases[i].to), cases[i].to,
                     test_server_port(server), port + 4);
        else
            snprintf(to, sizeof(to), "%s", cases[i].to);
        fprintf(stderr, "  Location: %s\n", to);
        char url[512], final_url[512];
        redirect_url(server, url, sizeof(url), 302, to);
        test_server_url(server, final_url, sizeof(final_url), "%s", cases[i].final_target);
        outcome_t out = get_wait(client, url);
        ASSERT_RESPONSE(out, cases[i].status);
        ASSERT_UEQ(gust_response_num_redirects(out.resp), 1);
        ASSERT_STR_EQ(gust_response_url(out.resp), final_url);
        if (cases[i].status == 200) {
            echo_t e = echo_parse(&out);
            char line[300];
            snprintf(line, sizeof(line), "GET %s HTTP/1.1", cases[i].final_target);
            ASSERT_STR_EQ(e.request_line, line);
            echo_clear(&e);
        }
        outcome_clear(&out);
    }
    gust_client_free(client);
    test_server_stop(server);
}

/* The total timeout runs across every hop. */
static void test_total_timeout_across_hops(void)
{
    test_server_t *server = test_server_start(NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[512];
    redirect_url(server, url, sizeof(url), 302, "/delay?ms=1000");
    gust_request_t req = {.url = url, .total_timeout_ns = 300 * MS};
    outcome_t out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_TOTAL_TIMEOUT);
    ASSERT_UGE(out.elapsed_ns, 300 * MS);
    /* The message names the hop that was running. */
    ASSERT_CONTAINS(out.message, "/delay?ms=1000");
    outcome_clear(&out);
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- Streaming across hops: only the final body reaches on_body ---- */

/* "redirecting", gzip'd. */
static const char gzip_redirecting[] =
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x2b\x4a\x4d\xc9\x2c"
    "\x4a\x4d\x2e\xc9\xcc\x4b\x07\x00\x12\xd9\x83\x42\x0b\x00\x00"
    "\x00";

/* How a hop sends its body "redirecting", and whether the client can read
 * it to the end and keep the connection. */
typedef struct hop_kind_s {
    const char *name;
    bool drained;
} hop_kind_t;

static const hop_kind_t hop_kinds[] = {
    {"plain", true},         /* Content-Length */
    {"chunked", true},       /* in two chunks */
    {"gzip", true},          /* Content-Encoding: gzip */
    {"big", false},          /* Content-Length: 1 MiB, past READER_DRAIN_MAX */
    {"long-chunked", false}, /* chunked, 100 KiB */
    {"endless", false},      /* close-delimited, and the server keeps the connection 3 s */
};

static const int hop_codes[] = {301, 302, 303, 307, 308};

/* Sends a redirect with status `code` to `location`, its body sent the way
 * `kind` says; returns whether the connection goes on. */
static bool send_hop(raw_conn_t *conn, int code, const char *kind, const char *location)
{
    char head[512];
    snprintf(head, sizeof(head), "HTTP/1.1 %d Moved\r\nLocation: %s\r\n", code, location);
    if (!raw_send(conn, head))
        return false;
    if (strcmp(kind, "plain") == 0)
        return raw_send(conn, "Content-Length: 11\r\n\r\nredirecting");
    if (strcmp(kind, "chunked") == 0)
        return raw_send(conn,
                        "Transfer-Encoding: chunked\r\n\r\n7\r\nredirec\r\n4\r\nting\r\n0\r\n\r\n");
    if (strcmp(kind, "gzip") == 0) {
        snprintf(head, sizeof(head), "Content-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                 sizeof(gzip_redirecting) - 1);
        return raw_send(conn, head) &&
               raw_write(conn, gzip_redirecting, sizeof(gzip_redirecting) - 1);
    }
    if (strcmp(kind, "big") == 0) {
        enum { BIG = 1 << 20 };
        char *big = malloc(BIG);
        ASSERT_NOT_NULL(big);
        memset(big, 'r', BIG);
        snprintf(head, sizeof(head), "Content-Length: %d\r\n\r\n", BIG);
        bool sent = raw_send(conn, head) && raw_write(conn, big, BIG);
        free(big);
        return sent;
    }
    if (strcmp(kind, "long-chunked") == 0) {
        char chunk[1024 + 16];
        memset(chunk, 'r', sizeof(chunk));
        memcpy(chunk, "400\r\n", 5);
        memcpy(chunk + 5 + 1024, "\r\n", 2);
        if (!raw_send(conn, "Transfer-Encoding: chunked\r\n\r\n"))
            return false;
        for (int i = 0; i < 100; i++) {
            if (!raw_write(conn, chunk, 5 + 1024 + 2))
                return false;
        }
        return raw_send(conn, "0\r\n\r\n");
    }
    ASSERT_STR_EQ(kind, "endless");
    (void)(raw_send(conn, "\r\nredirecting") && raw_sleep(conn, 3000));
    return false;
}

/* /<code>/<kind>: a redirect to /final; /chain/<i>: a redirect of each
 * status in turn, with bodies of each kind that keeps the connection, to
 * /chain/<i+1>, and /final after the last; /final: 200 "done", chunked. */
static bool hops_handler(void *arg, raw_conn_t *conn, const raw_request_t *req)
{
    (void)arg;
    int code, i;
    char kind[32];
    if (sscanf(req->target, "/chain/%d", &i) == 1 && i < 5) {
        char next[32];
        snprintf(next, sizeof(next), "/chain/%d", i + 1);
        return send_hop(conn, hop_codes[i], hop_kinds[i % 3].name, next);
    }
    if (sscanf(req->target, "/%d/%31s", &code, kind) == 2)
        return send_hop(conn, code, kind, "/final");
    return raw_send(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "2\r\ndo\r\n2\r\nne\r\n0\r\n\r\n");
}

/* What a streamed request saw. */
typedef struct seen_s {
    char body[64];
    size_t body_len;
    unsigned heads;
    int head_status;
    char head_url[256];
    unsigned head_redirects;
    size_t body_len_at_head;
    int head_result; /* what on_head returns */
} seen_t;

static int see_head(void *arg, const gust_response_t *head)
{
    seen_t *seen = arg;
    seen->heads++;
    seen->head_status = gust_response_status(head);
    snprintf(seen->head_url, sizeof(seen->head_url), "%s", gust_response_url(head));
    seen->head_redirects = gust_response_num_redirects(head);
    seen->body_len_at_head = seen->body_len;
    return seen->head_result;
}

static int see_body(void *arg, const void *chunk, size_t len)
{
    seen_t *seen = arg;
    ASSERT_ULE(seen->body_len + len, sizeof(seen->body) - 1);
    memcpy(seen->body + seen->body_len, chunk, len);
    seen->body_len += len;
    seen->body[seen->body_len] = '\0';
    return 0;
}

/* Streams `path` and checks that on_head saw the final 200 once, before any
 * body, and on_body "done" alone, over `connections` new connections. */
static void stream_through_hops(gust_runtime_t *runtime, raw_server_t *server, const char *path,
                                unsigned redirects, unsigned connections)
{
    gust_client_t *client = new_client(runtime, NULL);
    char url[256], final[256];
    raw_server_url(server, url, sizeof(url), path);
    raw_server_url(server, final, sizeof(final), redirects == 1 ? "/final" : "/chain/5");
    seen_t seen = {0};
    gust_request_t req = {
        .url = url,
        .on_body = see_body,
        .on_body_arg = &seen,
        .on_head = see_head,
        .on_head_arg = &seen,
    };
    unsigned accepted = raw_server_accepted(server);
    outcome_t out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 200);
    ASSERT_STR_EQ(seen.body, "done");
    ASSERT_UEQ(seen.heads, 1);
    ASSERT_EQ(seen.head_status, 200);
    ASSERT_STR_EQ(seen.head_url, final);
    ASSERT_UEQ(seen.head_redirects, redirects);
    ASSERT_UEQ(seen.body_len_at_head, 0);
    ASSERT_UEQ(gust_response_num_redirects(out.resp), redirects);
    ASSERT_ULT(out.elapsed_ns, 2000 * MS); /* a close-delimited hop is not read to its end */
    outcome_clear(&out);
    ASSERT_UEQ(client_stats(client).connections_opened, connections);
    ASSERT_UEQ(raw_server_accepted(server) - accepted, connections);
    gust_client_free(client);
}

/* Every redirect status, with each kind of body: on_body sees the final
 * body alone, and on_head the final head once. A body short enough is read
 * to its end and the connection serves the next hop; a long one, or one
 * that ends with the connection, is left with its connection. One worker:
 * the next hop surely finds the connection kept. */
static void test_streamed_hops(void)
{
    raw_server_t *server = raw_server_start(hops_handler, NULL);
    gust_runtime_t *runtime = new_runtime(1, 1);
    for (size_t c = 0; c < sizeof(hop_codes) / sizeof(hop_codes[0]); c++) {
        for (size_t k = 0; k < sizeof(hop_kinds) / sizeof(hop_kinds[0]); k++) {
            char path[64];
            snprintf(path, sizeof(path), "/%d/%s", hop_codes[c], hop_kinds[k].name);
            fprintf(stderr, "  %s\n", path);
            stream_through_hops(runtime, server, path, 1, hop_kinds[k].drained ? 1 : 2);
        }
    }
    /* 301, 302, 303, 307, 308 in a row, all on one connection. */
    stream_through_hops(runtime, server, "/chain/0", 5, 1);
    gust_runtime_free(runtime);
    raw_server_stop(server);
}

/* A redirect that is not followed is the final response: its head and body
 * stream. A buffered request keeps the final body alone. on_head's non-zero
 * return cancels the request before any body. */
static void test_streamed_not_followed(void)
{
    raw_server_t *server = raw_server_start(hops_handler, NULL);
    gust_client_t *client = new_client(NULL, NULL);
    char url[256];
    raw_server_url(server, url, sizeof(url), "/302/chunked");
    seen_t seen = {0};
    gust_request_t req = {
        .url = url,
        .max_redirects = -1,
        .on_body = see_body,
        .on_body_arg = &seen,
        .on_head = see_head,
        .on_head_arg = &seen,
    };
    outcome_t out = send_wait(client, &req);
    ASSERT_RESPONSE(out, 302);
    ASSERT_UEQ(seen.heads, 1);
    ASSERT_EQ(seen.head_status, 302);
    ASSERT_STR_EQ(seen.body, "redirecting");
    outcome_clear(&out);

    out = get_wait(client, url);
    ASSERT_RESPONSE(out, 200);
    assert_body(&out, "done");
    outcome_clear(&out);

    seen = (seen_t){.head_result = 1};
    req.max_redirects = 0;
    out = send_wait(client, &req);
    ASSERT_ERROR(out, GUST_ERR_CANCELLED);
    ASSERT_UEQ(seen.heads, 1);
    ASSERT_EQ(seen.head_status, 200);
    ASSERT_UEQ(seen.body_len, 0);
    outcome_clear(&out);
    gust_client_free(client);
    raw_server_stop(server);
}

int main(void)
{
    static const test_t tests[] = {
        {.name = "method and body per status", .fn = test_methods},
        {.name = "3xx that are not followed", .fn = test_not_followed},
        {.name = "chains and max_redirects", .fn = test_chains},
        {.name = "refused targets", .fn = test_refused},
        {.name = "bodies from a callback", .fn = test_body_from_callback},
        {.name = "credentials across origins", .fn = test_credentials},
        {.name = "relative Locations", .fn = test_relative},
        {.name = "total timeout across hops", .fn = test_total_timeout_across_hops},
        {.name = "streamed bodies across hops", .fn = test_streamed_hops},
        {.name = "streamed redirects not followed; on_head cancels",
         .fn = test_streamed_not_followed},
    };
    return run_tests(tests, sizeof(tests) / sizeof(tests[0]), 20);
}
