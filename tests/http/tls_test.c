/* HTTPS: verification and each of its failures (weak keys and signatures
 * among them), the insecure flag and its place in the pool key, session
 * resumption, keep-alive over TLS, client certificates, the handshake
 * timeout, close without close_notify, handshakes that fail for other
 * reasons than a certificate (a server that speaks HTTP, noise, closes,
 * knows only TLS 1.0 or 1.1), a server that asks to renegotiate, and nginx
 * with TLS. Certificates are made when the test runs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gust/client.h"
#include "gust/err.h"
#include "tests/http/client_util.h"
#include "tests/support/check.h"
#include "tests/support/http_server.h"
#include "tests/support/nginx.h"
#include "tests/support/rng.h"
#include "tests/support/tls_certs.h"

static tls_certs_t *certs;

static test_server_t *tls_server(tls_cert_kind_t kind)
{
    test_server_opts_t o = test_server_opts_default();
    o.cert_file = certs->leaf[kind].cert_file;
    o.key_file = certs->leaf[kind].key_file;
    o.client_ca_file = certs->ca_file;
    return test_server_start(&o);
}

static gust_client_t *client_with(const gust_client_opts_t *o)
{
    gust_client_t *client = gust_client_new(NULL, o);
    ASSERT_PTR_NE(client, NULL);
    return client;
}

static gust_client_opts_t trusting_opts(void)
{
    gust_client_opts_t o = gust_client_opts_default();
    o.ca_file = certs->ca_file;
    o.total_timeout_ns = 10000000000ull;
    return o;
}

/* GET `path` and expect either status 200 (err 0) or the error `err` whose
 * message contains `needle`. */
static void expect(gust_client_t *client, const char *url, int err, const char *needle)
{
    gust_response_t *resp = NULL;
    char *message = NULL;
    int got = gust_http_get(client, url, &resp, &message);
    if (got != err)
        CHECK_FAIL_("%s: got %s (%s), want %s", url, gust_err_name(got),
                    message != NULL ? message : "response", gust_err_name(err));
    if (err == 0) {
        ASSERT_EQ(gust_response_status(resp), 200);
    } else {
        ASSERT_PTR_NE(strstr(message, url), NULL);
        if (needle != NULL && strstr(message, needle) == NULL)
            CHECK_FAIL_("message \"%s\" lacks \"%s\"", message, needle);
    }
    gust_response_free(resp);
    free(message);
}

/* Writes `needle` to buf with its '*', if any, replaced by `host`; returns
 * buf, or NULL for a NULL needle. */
static const char *with_host(char *buf, size_t len, const char *needle, const char *host)
{
    if (needle == NULL)
        return NULL;
    const char *star = strchr(needle, '*');
    int n = star == NULL
                ? snprintf(buf, len, "%s", needle)
                : snprintf(buf, len, "%.*s%s%s", (int)(star - needle), needle, host, star + 1);
    ASSERT_TRUE(n >= 0 && (size_t)n < len);
    return buf;
}

/* GETs `url` `n` times, one after another: each must be answered, with
 * `len` body bytes (of the test server's pattern, unless `any_bytes`). */
static void get_times(gust_client_t *client, const char *url, int n, size_t len, bool any_bytes)
{
    for (int i = 0; i < n; i++) {
        gust_response_t *resp = NULL;
        char *message = NULL;
        int err = gust_http_get(client, url, &resp, &message);
        if (err != 0)
            CHECK_FAIL_("%s: request %d: %s", url, i, message);
        size_t got;
        const void *body = gust_response_body(resp, &got);
        ASSERT_UEQ(got, len);
        if (!any_bytes)
            assert_pattern(body, got, 0);
        gust_response_free(resp);
    }
}

static void verification(void)
{
    gust_client_opts_t o = trusting_opts();
    gust_client_t *client = client_with(&o);
    static const struct {
        tls_cert_kind_t kind;
        int err;
        const char *needle;
    } cases[] = {
        {TLS_CERT_GOOD, 0, NULL},
        {TLS_CERT_EXPIRED, GUST_ERR_CERT_EXPIRED, "expired"},
        {TLS_CERT_WRONG_NAME, GUST_ERR_CERT_HOSTNAME, "mismatch"},
        {TLS_CERT_SELF_SIGNED, GUST_ERR_CERT_SELF_SIGNED, "self signed"},
        {TLS_CERT_UNKNOWN_CA, GUST_ERR_CERT_UNKNOWN_CA, "issuer"},
        {TLS_CERT_RSA_2048, 0, NULL},
        {TLS_CERT_VIA_INTERMEDIATE, 0, NULL},
        /* Weak keys and signatures, on the server's certificate or its CA's. */
        {TLS_CERT_SHA1, GUST_ERR_CERT_WEAK, "certificate for * is signed with SHA-1"},
        {TLS_CERT_MD5, GUST_ERR_CERT_WEAK, "certificate for * is signed with MD5"},
        {TLS_CERT_RSA_1024, GUST_ERR_CERT_WEAK, "certificate for * has a 1024-bit RSA key"},
        {TLS_CERT_WEAK_KEY_CA, GUST_ERR_CERT_WEAK,
         "CA certificate \"gust weak-key intermediate\" in the chain for * has a 1024-bit RSA key"},
        {TLS_CERT_SHA1_CA, GUST_ERR_CERT_WEAK,
         "CA certificate \"gust SHA-1 intermediate\" in the chain for * is signed with SHA-1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_server_t *server = tls_server(cases[i].kind);
        char url[128], needle[160];
        const char *want = cases[i].needle;
        printf("verification: %s\n", tls_cert_kind_name(cases[i].kind));
        /* By IP and by name: both are checked against the certificate. */
        test_server_url(server, url, sizeof(url), "/bytes?n=10");
        expect(client, url, cases[i].err, with_host(needle, sizeof(needle), want, "127.0.0.1"));
        snprintf(url, sizeof(url), "https://localhost:%u/bytes?n=10", test_server_port(server));
        expect(client, url, cases[i].err, with_host(needle, sizeof(needle), want, "localhost"));
        test_server_stop(server);
    }
    gust_client_free(client);

    /* insecure skips the strength checks with the rest. */
    o.insecure = true;
    client = client_with(&o);
    static const tls_cert_kind_t weak[] = {TLS_CERT_SHA1, TLS_CERT_MD5, TLS_CERT_RSA_1024,
                                           TLS_CERT_WEAK_KEY_CA, TLS_CERT_SHA1_CA};
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        test_server_t *server = tls_server(weak[i]);
        char url[128];
        test_server_url(server, url, sizeof(url), "/bytes?n=10");
        expect(client, url, 0, NULL);
        test_server_stop(server);
    }
    gust_client_free(client);

    /* Without ca_file the system bundle does not know the test CA. */
    test_server_t *server = tls_server(TLS_CERT_GOOD);
    char url[128];
    test_server_url(server, url, sizeof(url), "/");
    gust_client_t *plain = client_with(NULL);
    expect(plain, url, GUST_ERR_CERT_UNKNOWN_CA, NULL);
    gust_client_free(plain);
    test_server_stop(server);
}

/* insecure is asked for per request or per client; an insecure connection
 * is never given to a request that verifies. */
static void insecure_and_the_pool_key(void)
{
    test_server_t *server = tls_server(TLS_CERT_SELF_SIGNED);
    char url[128];
    test_server_url(server, url, sizeof(url), "/bytes?n=10");
    gust_client_opts_t o = trusting_opts();
    gust_client_t *client = client_with(&o);

    gust_request_t insecure = {.url = url, .insecure = true};
    gust_response_t *resp = NULL;
    char *message = NULL;
    ASSERT_EQ(gust_http_request(client, &insecure, &resp, &message), 0);
    gust_response_free(resp);
    /* The insecure connection is idle now; a verifying request must not take
     * it, so it makes its own and fails verification. */
    expect(client, url, GUST_ERR_CERT_SELF_SIGNED, NULL);
    ASSERT_EQ(gust_http_request(client, &insecure, &resp, &message), 0);
    ASSERT_TRUE(gust_response_reused(resp));
    gust_response_free(resp);
    gust_client_free(client);

    o.insecure = true;
    client = client_with(&o);
    expect(client, url, 0, NULL);
    gust_client_free(client);
    test_server_stop(server);
}

/* GETs `path` `n` times, each `len` bytes of the pattern, from a new TLS
 * server through one client (at most `max_requests_per_conn` on a
 * connection; 0: no limit); returns the server, for its counts. */
static test_server_t *tls_gets(const char *path, int n, size_t len, unsigned max_requests_per_conn)
{
    test_server_t *server = tls_server(TLS_CERT_GOOD);
    char url[128];
    test_server_url(server, url, sizeof(url), "%s", path);
    gust_client_opts_t o = trusting_opts();
    o.max_requests_per_conn = max_requests_per_conn;
    gust_client_t *client = client_with(&o);
    get_times(client, url, n, len, false);
    gust_client_free(client);
    return server;
}

static void resumption_and_keepalive(void)
{
    /* 1,000 requests on one kept-alive TLS connection; the 1,001st on a
     * second one, which resumed the first's session (the server counts
     * it). */
    test_server_t *server = tls_gets("/bytes?n=100", 1001, 100, 1000);
    ASSERT_UEQ(test_server_connections_accepted(server), 2);
    ASSERT_UEQ(test_server_tls_handshakes(server), 2);
    ASSERT_UEQ(test_server_tls_resumed(server), 1);
    test_server_stop(server);
}

/* Bodies of many TLS records, decrypted straight into the response after
 * the first read (conn.c, conn_recv_body), three on one connection. */
static void large_bodies(void)
{
    test_server_t *server = tls_gets("/bytes?n=300000", 3, 300000, 0);
    ASSERT_UEQ(test_server_connections_accepted(server), 1);
    test_server_stop(server);
}

/* A body's rest and an answer nobody asked for in one TLS record: the read
 * into the body stops at its end, and the rest waits in the TLS layer, where
 * no event tells of it. The connection must close rather than hand those
 * bytes to the second request as its answer (an empty body). */
static void unasked_bytes_after_body(void)
{
    test_server_t *server = tls_gets("/unasked?n=6000", 2, 6000, 0);
    ASSERT_UEQ(test_server_connections_accepted(server), 2);
    test_server_stop(server);
}

static void client_certificate(void)
{
    test_server_t *server = tls_server(TLS_CERT_GOOD);
    char url[128];
    test_server_url(server, url, sizeof(url), "/client-cert");
    gust_client_opts_t o = trusting_opts();
    o.client_cert_file = certs->leaf[TLS_CERT_CLIENT].cert_file;
    o.client_key_file = certs->leaf[TLS_CERT_CLIENT].key_file;
    gust_client_t *client = client_with(&o);
    gust_response_t *resp = NULL;
    char *message = NULL;
    ASSERT_EQ(gust_http_get(client, url, &resp, &message), 0);
    ASSERT_EQ(gust_response_status(resp), 200);
    size_t len;
    const char *body = gust_response_body(resp, &len);
    ASSERT_PTR_NE(strstr(body, TLS_CERTS_CLIENT_CN), NULL);
    gust_response_free(resp);
    gust_client_free(client);

    /* A bad certificate or key fails the client, not each request, and
     * error_buf says which file and why. */
    char why[512] = "";
    o.error_buf = why;
    o.error_buf_len = sizeof(why);
    o.client_cert_file = "/nonexistent/cert.pem";
    errno = 0;
    ASSERT_PTR_EQ(gust_client_new(NULL, &o), NULL);
    ASSERT_EQ(errno, EINVAL);
    ASSERT_PTR_NE(strstr(why, "cannot load the client certificate from /nonexistent/cert.pem"),
                  NULL);
    o.client_cert_file = certs->leaf[TLS_CERT_CLIENT].cert_file;
    o.client_key_file = "/nonexistent/key.pem";
    ASSERT_PTR_EQ(gust_client_new(NULL, &o), NULL);
    ASSERT_PTR_NE(strstr(why, "cannot use the client key from /nonexistent/key.pem"), NULL);
    o.client_key_file = certs->leaf[TLS_CERT_GOOD].key_file;
    ASSERT_PTR_EQ(gust_client_new(NULL, &o), NULL);
    ASSERT_PTR_NE(strstr(why, "cannot use the client key from "), NULL);
    ASSERT_PTR_NE(strstr(why, "good.key: KEY_VALUES_MISMATCH"), NULL);
    o.client_cert_file = NULL;
    o.client_key_file = NULL;
    o.ca_file = "/nonexistent/ca.pem";
    ASSERT_PTR_EQ(gust_client_new(NULL, &o), NULL);
    ASSERT_PTR_NE(strstr(why, "cannot load the CA certificates from /nonexistent/ca.pem"), NULL);
    test_server_stop(server);
}

static void handshake_timeout(void)
{
    test_server_opts_t so = test_server_opts_default();
    so.handshake_stall = true;
    test_server_t *server = test_server_start(&so);
    char url[128];
    test_server_url(server, url, sizeof(url), "/");
    gust_client_opts_t o = trusting_opts();
    o.connect_timeout_ns = 200000000ull;
    gust_client_t *client = client_with(&o);
    expect(client, url, GUST_ERR_TLS_HANDSHAKE_TIMEOUT, "handshake");
    gust_client_free(client);
    test_server_stop(server);
}

static void close_without_close_notify(void)
{
    test_server_t *server = tls_server(TLS_CERT_GOOD);
    char url[128];
    gust_client_opts_t o = trusting_opts();
    gust_client_t *client = client_with(&o);
    /* The whole Content-Length body arrived: fine. */
    test_server_url(server, url, sizeof(url), "/no-close-notify?n=1000");
    expect(client, url, 0, NULL);
    /* Half of it: an error, never a short body. */
    test_server_url(server, url, sizeof(url), "/truncated-tls?n=1000");
    expect(client, url, GUST_ERR_CONN_CLOSED, NULL);
    /* A body that ends with the connection ends with close_notify; without
     * it the body may have been cut (RFC 9112 9.8). */
    test_server_url(server, url, sizeof(url), "/close-delimited?n=1000");
    get_times(client, url, 1, 1000, false);
    test_server_url(server, url, sizeof(url), "/close-delimited?n=1000&close_notify=0");
    expect(client, url, GUST_ERR_TLS_TRUNCATED, "without close_notify");
    gust_client_free(client);
    test_server_stop(server);
}

/* ---- Handshakes that fail before any certificate ---- */

/* What a server that does not speak TLS does with a ClientHello. */
typedef enum peer_act_e { PEER_SPEAKS_HTTP, PEER_SENDS_NOISE, PEER_CLOSES } peer_act_t;

/* A raw TCP server for one connection, on a thread of its own: it reads
 * the client's first TLS record (the ClientHello), then acts, then closes.
 * Every wait is bounded, so a client that never comes ends it too. */
typedef struct not_tls_peer_s {
    int listen_fd;
    uint16_t port;
    peer_act_t act;
    pthread_t thread;
} not_tls_peer_t;

enum { PEER_WAIT_MS = 10000 };

/* Reads until `want` bytes are in buf; false on end, error or timeout. */
static bool read_exactly(int fd, uint8_t *buf, size_t want)
{
    for (size_t got = 0; got < want;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n = poll(&p, 1, PEER_WAIT_MS) == 1 ? recv(fd, buf + got, want - got, 0) : -1;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static void *not_tls_peer_run(void *arg)
{
    not_tls_peer_t *peer = arg;
    struct pollfd p = {.fd = peer->listen_fd, .events = POLLIN};
    int fd = poll(&p, 1, PEER_WAIT_MS) == 1 ? accept(peer->listen_fd, NULL, NULL) : -1;
    if (fd < 0)
        return NULL;
    /* All of the ClientHello's record, so that the close is a FIN and not
     * a reset for unread bytes. */
    static uint8_t hello[5 + 16384];
    bool read_hello = read_exactly(fd, hello, 5) &&
                      read_exactly(fd, hello + 5, (size_t)(hello[3] << 8 | hello[4]) % 16385);
    if (read_hello && peer->act == PEER_SPEAKS_HTTP) {
        static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                     "Connection: close\r\n\r\n";
        (void)send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL);
    } else if (read_hello && peer->act == PEER_SENDS_NOISE) {
        uint8_t noise[64];
        uint64_t state = 1;
        for (size_t i = 0; i < sizeof(noise); i++)
            noise[i] = (uint8_t)rng_next(&state);
        (void)send(fd, noise, sizeof(noise), MSG_NOSIGNAL);
    }
    close(fd);
    return NULL;
}

static void not_tls_peer_start(not_tls_peer_t *peer, peer_act_t act)
{
    peer->act = act;
    peer->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_TRUE(peer->listen_fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ASSERT_EQ(bind(peer->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(listen(peer->listen_fd, 4), 0);
    ASSERT_EQ(getsockname(peer->listen_fd, (struct sockaddr *)&sin, &len), 0);
    peer->port = ntohs(sin.sin_port);
    ASSERT_EQ(pthread_create(&peer->thread, NULL, not_tls_peer_run, peer), 0);
}

static void not_tls_peer_stop(not_tls_peer_t *peer)
{
    ASSERT_EQ(pthread_join(peer->thread, NULL), 0);
    close(peer->listen_fd);
}

/* A handshake that fails is a certificate error only when verification
 * ran and failed; otherwise TLS_HANDSHAKE, with the cause. */
static void handshake_failures(void)
{
    gust_client_opts_t o = trusting_opts();
    gust_client_t *client = client_with(&o);
    static const struct {
        peer_act_t act;
        const char *needle;
    } peers[] = {
        {PEER_SPEAKS_HTTP, "handshake: the server speaks plain HTTP, not TLS"},
        {PEER_SENDS_NOISE, "handshake: the server's first bytes (1d 1d 57 9d 00) are not TLS"},
        {PEER_CLOSES, "handshake: connection closed by the server"},
    };
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        not_tls_peer_t peer;
        not_tls_peer_start(&peer, peers[i].act);
        char url[128];
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/", peer.port);
        expect(client, url, GUST_ERR_TLS_HANDSHAKE, peers[i].needle);
        not_tls_peer_stop(&peer);
    }

    /* TLS 1.0 and 1.1 only: gust asks for 1.2 or 1.3. */
    for (unsigned version = 0x0301; version <= 0x0302; version++) {
        test_server_opts_t so = test_server_opts_default();
        so.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
        so.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
        so.tls_max_version = version;
        test_server_t *server = test_server_start(&so);
        char url[128];
        test_server_url(server, url, sizeof(url), "/bytes?n=10");
        expect(client, url, GUST_ERR_TLS_HANDSHAKE,
               "handshake: the server offers only TLS versions older than 1.2 (protocol version)");
        test_server_stop(server);
    }

    /* TLS 1.2 itself is fine, but not a server that asks to renegotiate. */
    test_server_opts_t so = test_server_opts_default();
    so.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
    so.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
    so.tls_max_version = 0x0303;
    test_server_t *server = test_server_start(&so);
    char url[128];
    test_server_url(server, url, sizeof(url), "/bytes?n=10");
    expect(client, url, 0, NULL);
    test_server_url(server, url, sizeof(url), "/hello-request");
    expect(client, url, GUST_ERR_TLS_RENEGOTIATION, "the server asked to renegotiate");
    test_server_stop(server);
    gust_client_free(client);
}

static void against_nginx(void)
{
    nginx_opts_t no = nginx_opts_default();
    no.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
    no.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
    nginx_t *nginx = nginx_start(&no);
    if (nginx == NULL) {
        printf("nginx: not available, skipped\n");
        return;
    }
    char url[128];
    snprintf(url, sizeof(url), "%s/1k.bin", nginx_origin(nginx));
    gust_client_opts_t o = trusting_opts();
    gust_client_t *client = client_with(&o);
    get_times(client, url, 200, 1024, true);
    gust_client_stats_t stats;
    gust_client_stats(client, &stats);
    ASSERT_UEQ(stats.connections_opened, 1);
    gust_client_free(client);
    nginx_stop(nginx);
}

int main(void)
{
    certs = tls_certs_make(NULL);
    ASSERT_PTR_NE(certs, NULL);
    verification();
    insecure_and_the_pool_key();
    resumption_and_keepalive();
    large_bodies();
    unasked_bytes_after_body();
    client_certificate();
    handshake_timeout();
    close_without_close_notify();
    handshake_failures();
    against_nginx();
    tls_certs_free(certs);
    return 0;
}
