/* TLS in the test server and the nginx fixture, checked with BoringSSL's
 * blocking client:
 *
 *   - certificates: each generated leaf verified with X509_verify_cert
 *     against the test CA, with a DNS name or an IP address to match and a
 *     purpose, and the exact X509 error each case gives (a table);
 *   - handshakes: a test server serving each kind of leaf, and a client
 *     trusting the test CA that checks the name (SSL_set1_host) or the IP
 *     (X509_VERIFY_PARAM_set1_ip_asc): the same errors, now from
 *     SSL_get_verify_result;
 *   - HTTPS: GETs, a pipelined pair and a POST echoed over TLS 1.2 and 1.3,
 *     ALPN, SNI, /tls-info, and a clean close_notify at the end;
 *   - resumption over TLS 1.3 (ticket), TLS 1.2 (ticket) and TLS 1.2
 *     (session ID): the second connection resumes, and the server's counters
 *     say so;
 *   - mutual TLS: /client-cert with the client certificate (also resumed),
 *     without one, and with one the server does not trust;
 *   - the end of the stream: /no-close-notify and /truncated-tls end without
 *     close_notify, after all and half of the body, /close-delimited with
 *     and without it;
 *   - clients that reset their connections mid-response, which must not
 *     raise SIGPIPE in the server's threads;
 *   - handshake_stall: the client's handshake times out; a server stops at
 *     once with a handshake waiting for its ClientHello;
 *   - nginx over TLS: a GET and a resumption (skipped if nginx is missing).
 *
 * Every socket has a receive timeout, so a server that hangs fails the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/support/check.h"
#include "tests/support/fds.h"
#include "tests/support/http_server.h"
#include "tests/support/nginx.h"
#include "tests/support/tls_certs.h"
#include "tests/support/wait.h"

#ifndef OPENSSL_IS_BORINGSSL
#error "<openssl/ssl.h> is not BoringSSL's header"
#endif

/* How long a read may wait for a server before the test fails. */
enum { RECV_TIMEOUT_MS = 10000 };

/* ---- Helpers ------------------------------------------------------------------------ */

/* The name of an X509 verify result this test expects. */
static const char *verify_name(long code)
{
#define NAME_CASE(x)                                                                               \
    case x:                                                                                        \
        return #x
    switch (code) {
        NAME_CASE(X509_V_OK);
        NAME_CASE(X509_V_ERR_CERT_HAS_EXPIRED);
        NAME_CASE(X509_V_ERR_HOSTNAME_MISMATCH);
        NAME_CASE(X509_V_ERR_IP_ADDRESS_MISMATCH);
        NAME_CASE(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
        NAME_CASE(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        NAME_CASE(X509_V_ERR_INVALID_PURPOSE);
    default:
        return "(another X509_V_ERR)";
    }
#undef NAME_CASE
}

#define ASSERT_VERIFY(got, want)                                                                   \
    do {                                                                                           \
        long got_ = (got), want_ = (want);                                                         \
        if (got_ != want_)                                                                         \
            CHECK_FAIL_("%s == %s (%s %ld \"%s\" == %s %ld)", #got, #want, verify_name(got_),      \
                        got_, X509_verify_cert_error_string(got_), verify_name(want_), want_);     \
    } while (0)

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    ASSERT_NOT_NULL(f);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ASSERT_NOT_NULL(cert);
    return cert;
}

/* Bytes [0, len) of the test server's pattern: byte i is 'a' + i % 26. */
static bool is_pattern(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != (char)('a' + i % 26))
            return false;
    }
    return true;
}

/* ---- Certificates ----------------------------------------------------------------- */

static const struct verify_case_s {
    tls_cert_kind_t kind;
    const char *host; /* a DNS name to match, or NULL */
    const char *ip;   /* an IP address to match, or NULL */
    int purpose;
    long want;
} verify_cases[] = {
    {TLS_CERT_GOOD, "localhost", NULL, X509_PURPOSE_SSL_SERVER, X509_V_OK},
    {TLS_CERT_GOOD, NULL, "127.0.0.1", X509_PURPOSE_SSL_SERVER, X509_V_OK},
    {TLS_CERT_GOOD, NULL, "::1", X509_PURPOSE_SSL_SERVER, X509_V_OK},
    {TLS_CERT_GOOD, "LocalHost", NULL, X509_PURPOSE_SSL_SERVER, X509_V_OK},
    {TLS_CERT_GOOD, "wrong.example", NULL, X509_PURPOSE_SSL_SERVER, X509_V_ERR_HOSTNAME_MISMATCH},
    {TLS_CERT_GOOD, NULL, "127.0.0.2", X509_PURPOSE_SSL_SERVER, X509_V_ERR_IP_ADDRESS_MISMATCH},
    /* A host check does not look at IP SANs: an IP literal needs set1_ip. */
    {TLS_CERT_GOOD, "127.0.0.1", NULL, X509_PURPOSE_SSL_SERVER, X509_V_ERR_HOSTNAME_MISMATCH},
    {TLS_CERT_GOOD, NULL, NULL, X509_PURPOSE_SSL_CLIENT, X509_V_ERR_INVALID_PURPOSE},
    {TLS_CERT_EXPIRED, "localhost", NULL, X509_PURPOSE_SSL_SERVER, X509_V_ERR_CERT_HAS_EXPIRED},
    {TLS_CERT_WRONG_NAME, "localhost", NULL, X509_PURPOSE_SSL_SERVER, X509_V_ERR_HOSTNAME_MISMATCH},
    {TLS_CERT_WRONG_NAME, NULL, "127.0.0.1", X509_PURPOSE_SSL_SERVER,
     X509_V_ERR_IP_ADDRESS_MISMATCH},
    {TLS_CERT_WRONG_NAME, "wrong.example", NULL, X509_PURPOSE_SSL_SERVER, X509_V_OK},
    {TLS_CERT_SELF_SIGNED, "localhost", NULL, X509_PURPOSE_SSL_SERVER,
     X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
    {TLS_CERT_UNKNOWN_CA, "localhost", NULL, X509_PURPOSE_SSL_SERVER,
     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
    {TLS_CERT_CLIENT, NULL, NULL, X509_PURPOSE_SSL_CLIENT, X509_V_OK},
    {TLS_CERT_CLIENT, NULL, NULL, X509_PURPOSE_SSL_SERVER, X509_V_ERR_INVALID_PURPOSE},
};

static void verify_certs(const tls_certs_t *certs)
{
    X509_STORE *store = X509_STORE_new();
    ASSERT_NOT_NULL(store);
    X509 *ca = read_cert(certs->ca_file);
    ASSERT_TRUE(X509_STORE_add_cert(store, ca));
    X509_free(ca);

    for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
        const struct verify_case_s *vc = &verify_cases[i];
        X509 *leaf = read_cert(certs->leaf[vc->kind].cert_file);
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        ASSERT_NOT_NULL(ctx);
        ASSERT_TRUE(X509_STORE_CTX_init(ctx, store, leaf, NULL));
        ASSERT_TRUE(X509_STORE_CTX_set_purpose(ctx, vc->purpose));
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        if (vc->host != NULL)
            ASSERT_TRUE(X509_VERIFY_PARAM_set1_host(param, vc->host, strlen(vc->host)));
        if (vc->ip != NULL)
            ASSERT_TRUE(X509_VERIFY_PARAM_set1_ip_asc(param, vc->ip));
        int ok = X509_verify_cert(ctx);
        long err = X509_STORE_CTX_get_error(ctx);
        const char *name = "-", *name_kind = "";
        if (vc->host != NULL)
            name = vc->host, name_kind = "(host)";
        else if (vc->ip != NULL)
            name = vc->ip, name_kind = "(ip)";
        printf("verify %-11s %-13s %-7s as %s: %s (%s)\n", tls_cert_kind_name(vc->kind), name,
               name_kind, vc->purpose == X509_PURPOSE_SSL_SERVER ? "server" : "client",
               verify_name(err), X509_verify_cert_error_string(err));
        ASSERT_VERIFY(err, vc->want);
        ASSERT_EQ(ok, vc->want == X509_V_OK);
        X509_STORE_CTX_free(ctx);
        X509_free(leaf);
        ERR_clear_error();
    }
    X509_STORE_free(store);
}

/* ---- A blocking TLS client ---------------------------------------------------------- */

/* The newest session the client was given (a client's only session cache in
 * BoringSSL is its own: SSL_CTX_sess_set_new_cb). */
static SSL_SESSION *last_session;

static int keep_session(SSL *ssl, SSL_SESSION *session)
{
    (void)ssl;
    SSL_SESSION_free(last_session);
    last_session = session;
    return 1; /* ours now */
}

typedef struct client_opts_s {
    const char *ca_file;          /* to trust; NULL trusts nothing */
    uint16_t max_version;         /* 0: TLS 1.3 */
    bool no_ticket;               /* resume by session ID only */
    const tls_cert_files_t *cert; /* a client certificate, or NULL */
} client_opts_t;

static SSL_CTX *client_ctx(const client_opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    ASSERT_NOT_NULL(ctx);
    ASSERT_TRUE(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION));
    ASSERT_TRUE(
        SSL_CTX_set_max_proto_version(ctx, o->max_version != 0 ? o->max_version : TLS1_3_VERSION));
    if (o->ca_file != NULL)
        ASSERT_TRUE(SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (o->no_ticket)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (o->cert != NULL) {
        ASSERT_TRUE(SSL_CTX_use_certificate_chain_file(ctx, o->cert->cert_file));
        ASSERT_TRUE(SSL_CTX_use_PrivateKey_file(ctx, o->cert->key_file, SSL_FILETYPE_PEM));
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    SSL_CTX_sess_set_new_cb(ctx, keep_session);
    return ctx;
}

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct timeval timeout = {.tv_sec = RECV_TIMEOUT_MS / 1000,
                              .tv_usec = RECV_TIMEOUT_MS % 1000 * 1000};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    ASSERT_EQ(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

typedef struct tls_conn_s {
    int fd;
    SSL *ssl;
    long verify_result; /* SSL_get_verify_result after the handshake */
} tls_conn_t;

/* Connects to 127.0.0.1:port and runs the handshake, sending SNI `host` and
 * checking the server's certificate for `host` (a DNS name) or `ip`, and
 * offering `session`. Returns whether the handshake succeeded; either way
 * tls_close ends the connection. */
static bool tls_open(tls_conn_t *c, SSL_CTX *ctx, uint16_t port, const char *host, const char *ip,
                     SSL_SESSION *session)
{
    c->fd = tcp_connect(port);
    c->ssl = SSL_new(ctx);
    ASSERT_NOT_NULL(c->ssl);
    ASSERT_TRUE(SSL_set_fd(c->ssl, c->fd));
    if (host != NULL) {
        ASSERT_TRUE(SSL_set_tlsext_host_name(c->ssl, host));
        ASSERT_TRUE(SSL_set1_host(c->ssl, host));
    }
    if (ip != NULL)
        ASSERT_TRUE(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), ip));
    static const uint8_t alpn[] = "\x02h2\x08http/1.1";
    ASSERT_EQ(SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1), 0); /* 0 is success */
    if (session != NULL)
        ASSERT_TRUE(SSL_set_session(c->ssl, session));
    bool ok = SSL_connect(c->ssl) == 1;
    c->verify_result = SSL_get_verify_result(c->ssl);
    ERR_clear_error();
    return ok;
}

static void tls_close(tls_conn_t *c)
{
    SSL_free(c->ssl);
    ASSERT_EQ(close(c->fd), 0);
}

static void tls_send(tls_conn_t *c, const char *data)
{
    int len = (int)strlen(data);
    ASSERT_EQ(SSL_write(c->ssl, data, len), len);
}

/* How the server's stream ended. */
typedef enum stream_end_e {
    END_CLOSE_NOTIFY, /* SSL_ERROR_ZERO_RETURN */
    END_CUT,          /* TCP FIN without close_notify: SSL_ERROR_SYSCALL */
    END_ERROR,        /* SSL_ERROR_SSL: an alert, or bad data */
} stream_end_t;

static const char *const end_names[] = {"close_notify", "cut (no close_notify)", "TLS error"};

/* Everything read off a connection until it ended. */
typedef struct received_s {
    char *data; /* NUL-terminated */
    size_t len;
    stream_end_t end;
    char error[256]; /* BoringSSL's first error, for END_ERROR and END_CUT */
} received_t;

static received_t tls_recv_all(tls_conn_t *c)
{
    received_t r = {0};
    size_t cap = 1 << 16;
    r.data = malloc(cap);
    ASSERT_NOT_NULL(r.data);
    for (;;) {
        if (cap - r.len < 16384) {
            cap *= 2;
            r.data = realloc(r.data, cap);
            ASSERT_NOT_NULL(r.data);
        }
        int n = SSL_read(c->ssl, r.data + r.len, (int)(cap - r.len - 1));
        if (n > 0) {
            r.len += (size_t)n;
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
            CHECK_FAIL_("SSL_read: no data within %d ms", RECV_TIMEOUT_MS);
        if (ERR_peek_error() != 0)
            ERR_error_string_n(ERR_peek_error(), r.error, sizeof(r.error));
        else
            snprintf(r.error, sizeof(r.error), "no error queued, errno %d", errno);
        ERR_clear_error();
        ASSERT_TRUE(err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ||
                    err == SSL_ERROR_SSL);
        r.end = err == SSL_ERROR_ZERO_RETURN ? END_CLOSE_NOTIFY
                : err == SSL_ERROR_SYSCALL   ? END_CUT
                                             : END_ERROR;
        break;
    }
    r.data[r.len] = '\0';
    return r;
}

/* The body of an HTTP response in r (after the blank line). */
static const char *body_of(const received_t *r, size_t *out_len)
{
    const char *end = strstr(r->data, "\r\n\r\n");
    ASSERT_NOT_NULL(end);
    *out_len = r->len - (size_t)(end + 4 - r->data);
    return end + 4;
}

/* GETs `path` with `Connection: close` on a new connection verified for
 * localhost, offering `session`; returns all that came back. */
static received_t https_get(SSL_CTX *ctx, uint16_t port, const char *path, SSL_SESSION *session,
                            bool *out_resumed)
{
    tls_conn_t c;
    ASSERT_TRUE(tls_open(&c, ctx, port, "localhost", NULL, session));
    ASSERT_VERIFY(c.verify_result, X509_V_OK);
    if (out_resumed != NULL)
        *out_resumed = SSL_session_reused(c.ssl);
    char request[512];
    snprintf(request, sizeof(request),
             "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    tls_send(&c, request);
    received_t r = tls_recv_all(&c);
    tls_close(&c);
    return r;
}

static test_server_t *start_tls_server(const tls_certs_t *certs, tls_cert_kind_t kind,
                                       const char *client_ca_file)
{
    test_server_opts_t o = test_server_opts_default();
    o.cert_file = certs->leaf[kind].cert_file;
    o.key_file = certs->leaf[kind].key_file;
    o.client_ca_file = client_ca_file;
    return test_server_start(&o);
}

/* ---- Handshakes against each kind of certificate -------------------------------------- */

static const struct handshake_case_s {
    tls_cert_kind_t served;
    const char *host, *ip;
    long want;
} handshake_cases[] = {
    {TLS_CERT_GOOD, "localhost", NULL, X509_V_OK},
    {TLS_CERT_GOOD, NULL, "127.0.0.1", X509_V_OK},
    {TLS_CERT_GOOD, "wrong.example", NULL, X509_V_ERR_HOSTNAME_MISMATCH},
    {TLS_CERT_EXPIRED, "localhost", NULL, X509_V_ERR_CERT_HAS_EXPIRED},
    {TLS_CERT_WRONG_NAME, "localhost", NULL, X509_V_ERR_HOSTNAME_MISMATCH},
    {TLS_CERT_WRONG_NAME, NULL, "127.0.0.1", X509_V_ERR_IP_ADDRESS_MISMATCH},
    {TLS_CERT_SELF_SIGNED, "localhost", NULL, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
    {TLS_CERT_UNKNOWN_CA, "localhost", NULL, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
};

static void handshakes(const tls_certs_t *certs)
{
    SSL_CTX *ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file});
    for (size_t i = 0; i < sizeof(handshake_cases) / sizeof(handshake_cases[0]); i++) {
        const struct handshake_case_s *hc = &handshake_cases[i];
        test_server_t *s = start_tls_server(certs, hc->served, NULL);
        tls_conn_t c;
        bool ok = tls_open(&c, ctx, test_server_port(s), hc->host, hc->ip, NULL);
        printf("handshake with %-11s for %-13s: %s, %s (%s)\n", tls_cert_kind_name(hc->served),
               hc->host != NULL ? hc->host : hc->ip, ok ? "succeeded" : "failed",
               verify_name(c.verify_result), X509_verify_cert_error_string(c.verify_result));
        ASSERT_VERIFY(c.verify_result, hc->want);
        ASSERT_EQ(ok, hc->want == X509_V_OK);
        tls_close(&c);
        test_server_stop(s);
    }
    SSL_CTX_free(ctx);
}

/* ---- HTTPS ------------------------------------------------------------------------------ */

static void get_over_tls(const tls_certs_t *certs)
{
    test_server_t *s = start_tls_server(certs, TLS_CERT_GOOD, NULL);
    char want_origin[64];
    snprintf(want_origin, sizeof(want_origin), "https://127.0.0.1:%u",
             (unsigned)test_server_port(s));
    ASSERT_STR_EQ(test_server_origin(s), want_origin);

    static const struct {
        uint16_t max_version;
        const char *name;
    } versions[] = {{TLS1_2_VERSION, "TLSv1.2"}, {TLS1_3_VERSION, "TLSv1.3"}};
    for (size_t i = 0; i < 2; i++) {
        SSL_CTX *ctx = client_ctx(
            &(client_opts_t){.ca_file = certs->ca_file, .max_version = versions[i].max_version});

        /* A large body, so that it takes many records, then close_notify. */
        received_t r = https_get(ctx, test_server_port(s), "/bytes?n=300000", NULL, NULL);
        size_t body_len;
        const char *body = body_of(&r, &body_len);
        ASSERT_TRUE(strncmp(r.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
        ASSERT_UEQ(body_len, 300000);
        ASSERT_TRUE(is_pattern(body, body_len));
        ASSERT_EQ(r.end, END_CLOSE_NOTIFY);
        free(r.data);

        /* ALPN picked http/1.1 out of h2 and http/1.1; the SNI arrived. */
        r = https_get(ctx, test_server_port(s), "/tls-info", NULL, NULL);
        printf("%s /tls-info:\n%s", versions[i].name, body_of(&r, &body_len));
        char want[64];
        snprintf(want, sizeof(want), "version: %s\n", versions[i].name);
        ASSERT_NOT_NULL(strstr(r.data, want));
        ASSERT_NOT_NULL(strstr(r.data, "alpn: http/1.1\n"));
        ASSERT_NOT_NULL(strstr(r.data, "sni: localhost\n"));
        ASSERT_NOT_NULL(strstr(r.data, "resumed: 0\n"));
        free(r.data);

        /* A keep-alive request first, then the closing one, on one connection. */
        tls_conn_t c;
        ASSERT_TRUE(tls_open(&c, ctx, test_server_port(s), "localhost", NULL, NULL));
        const uint8_t *alpn;
        unsigned alpn_len;
        SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
        ASSERT_UEQ(alpn_len, 8);
        ASSERT_TRUE(memcmp(alpn, "http/1.1", 8) == 0);
        tls_send(&c,
                 "GET /bytes?n=5 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                 "GET /status?code=201 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        r = tls_recv_all(&c);
        ASSERT_NOT_NULL(strstr(r.data, "\r\n\r\nabcdeHTTP/1.1 201 Created\r\n"));
        ASSERT_EQ(r.end, END_CLOSE_NOTIFY);
        free(r.data);
        tls_close(&c);

        /* A request body of many records, echoed. */
        enum { BODY_LEN = 100000 };
        char *request = malloc(BODY_LEN + 256);
        ASSERT_NOT_NULL(request);
        int head_len = snprintf(request, 256,
                                "POST /echo-body HTTP/1.1\r\nHost: localhost\r\n"
                                "Content-Length: %d\r\nConnection: close\r\n\r\n",
                                BODY_LEN);
        for (size_t j = 0; j < BODY_LEN; j++)
            request[head_len + j] = (char)('a' + j % 26);
        request[head_len + BODY_LEN] = '\0';
        ASSERT_TRUE(tls_open(&c, ctx, test_server_port(s), "localhost", NULL, NULL));
        tls_send(&c, request);
        r = tls_recv_all(&c);
        const char *echoed = body_of(&r, &body_len);
        ASSERT_UEQ(body_len, BODY_LEN);
        ASSERT_TRUE(is_pattern(echoed, body_len));
        ASSERT_EQ(r.end, END_CLOSE_NOTIFY);
        free(r.data);
        free(request);
        tls_close(&c);
        SSL_CTX_free(ctx);
    }

    /* A plain server says so. */
    test_server_t *plain = test_server_start(NULL);
    ASSERT_TRUE(strncmp(test_server_origin(plain), "http://", 7) == 0);
    ASSERT_UEQ(test_server_tls_handshakes(plain), 0);
    test_server_stop(plain);
    test_server_stop(s);
}

/* ---- Resumption ------------------------------------------------------------------------ */

static void resumption(const tls_certs_t *certs)
{
    static const struct resume_case_s {
        const char *name;
        uint16_t max_version;
        bool no_ticket;
    } cases[] = {
        {"TLS 1.3 ticket", TLS1_3_VERSION, false},
        {"TLS 1.2 ticket", TLS1_2_VERSION, false},
        {"TLS 1.2 session ID", TLS1_2_VERSION, true},
    };
    test_server_t *s = start_tls_server(certs, TLS_CERT_GOOD, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SSL_CTX *ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file,
                                                   .max_version = cases[i].max_version,
                                                   .no_ticket = cases[i].no_ticket});
        unsigned long handshakes = test_server_tls_handshakes(s);
        unsigned long resumed = test_server_tls_resumed(s);
        SSL_SESSION_free(last_session);
        last_session = NULL;

        bool reused;
        received_t r = https_get(ctx, test_server_port(s), "/tls-info", NULL, &reused);
        ASSERT_FALSE(reused);
        free(r.data);
        /* The response has been read, so a TLS 1.3 ticket (sent before it)
         * has been too. */
        ASSERT_NOT_NULL(last_session);
        ASSERT_TRUE(SSL_SESSION_is_resumable(last_session));
        SSL_SESSION *session = last_session;
        SSL_SESSION_up_ref(session);

        r = https_get(ctx, test_server_port(s), "/tls-info", session, &reused);
        printf("resumption, %s: reused %d\n", cases[i].name, reused);
        ASSERT_TRUE(reused);
        ASSERT_NOT_NULL(strstr(r.data, "resumed: 1\n"));
        free(r.data);
        ASSERT_UEQ(test_server_tls_handshakes(s), handshakes + 2);
        ASSERT_UEQ(test_server_tls_resumed(s), resumed + 1);
        SSL_SESSION_free(session);
        SSL_CTX_free(ctx);
    }
    SSL_SESSION_free(last_session);
    last_session = NULL;
    test_server_stop(s);
}

/* ---- Mutual TLS -------------------------------------------------------------------------- */

static void mutual_tls(const tls_certs_t *certs)
{
    test_server_t *s = start_tls_server(certs, TLS_CERT_GOOD, certs->ca_file);
    uint16_t port = test_server_port(s);

    /* With the client certificate; again on a resumed session, which keeps it. */
    SSL_CTX *ctx = client_ctx(
        &(client_opts_t){.ca_file = certs->ca_file, .cert = &certs->leaf[TLS_CERT_CLIENT]});
    bool reused;
    received_t r = https_get(ctx, port, "/client-cert", NULL, &reused);
    ASSERT_TRUE(strncmp(r.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    size_t body_len;
    ASSERT_STR_EQ(body_of(&r, &body_len), TLS_CERTS_CLIENT_CN);
    free(r.data);
    ASSERT_NOT_NULL(last_session);
    r = https_get(ctx, port, "/client-cert", last_session, &reused);
    ASSERT_TRUE(reused);
    ASSERT_STR_EQ(body_of(&r, &body_len), TLS_CERTS_CLIENT_CN);
    free(r.data);
    SSL_CTX_free(ctx);
    SSL_SESSION_free(last_session);
    last_session = NULL;

    /* Without one: served, and told so. */
    ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file});
    r = https_get(ctx, port, "/client-cert", NULL, NULL);
    ASSERT_TRUE(strncmp(r.data, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    ASSERT_STR_EQ(body_of(&r, &body_len), "no client certificate");
    free(r.data);
    SSL_CTX_free(ctx);

    /* With one from a CA the server does not trust: refused. In TLS 1.3 the
     * client's handshake ends before the server has checked the
     * certificate, so the refusal (an alert) may come only on the first
     * read. */
    ctx = client_ctx(
        &(client_opts_t){.ca_file = certs->ca_file, .cert = &certs->leaf[TLS_CERT_UNKNOWN_CA]});
    tls_conn_t c;
    bool ok = tls_open(&c, ctx, port, "localhost", NULL, NULL);
    if (ok) {
        tls_send(&c, "GET /client-cert HTTP/1.1\r\nHost: localhost\r\n\r\n");
        r = tls_recv_all(&c);
        printf("mTLS with an untrusted client certificate: handshake succeeded, then %s: %s\n",
               end_names[r.end], r.error);
        ASSERT_UEQ(r.len, 0);
        ASSERT_EQ(r.end, END_ERROR);
        free(r.data);
    } else {
        printf("mTLS with an untrusted client certificate: handshake failed\n");
    }
    tls_close(&c);
    SSL_CTX_free(ctx);
    SSL_SESSION_free(last_session);
    last_session = NULL;
    test_server_stop(s);
}

/* ---- A client that leaves ---------------------------------------------------------------- */

/* Clients that reset their connections, while the server sends a large
 * response or waits for the next request, only end those connections: the
 * server's writes (its close_notify included) get ECONNRESET or EPIPE, not
 * the process SIGPIPE (main ignores SIGPIPE only after this). */
static void client_leaves(const tls_certs_t *certs)
{
    test_server_t *s = start_tls_server(certs, TLS_CERT_GOOD, NULL);
    SSL_CTX *ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file});
    static const char *const requests[] = {
        "GET /bytes?n=50000000 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /bytes?n=10 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    };
    for (int i = 0; i < 6; i++) {
        tls_conn_t c;
        ASSERT_TRUE(tls_open(&c, ctx, test_server_port(s), "localhost", NULL, NULL));
        tls_send(&c, requests[i % 2]);
        char buf[4096];
        ASSERT_GT(SSL_read(c.ssl, buf, sizeof(buf)), 0);
        /* A zero linger makes the close send a reset. */
        struct linger reset = {.l_onoff = 1, .l_linger = 0};
        ASSERT_EQ(setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
        tls_close(&c);
    }
    received_t r = https_get(ctx, test_server_port(s), "/bytes?n=10", NULL, NULL);
    ASSERT_TRUE(strncmp(r.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    free(r.data);
    SSL_CTX_free(ctx);
    /* Joins the connections that were sending, whose writes failed. */
    test_server_stop(s);
}

/* ---- How the stream ends ------------------------------------------------------------------- */

static const struct end_case_s {
    const char *path;
    size_t body_len; /* of what arrives */
    stream_end_t end;
} end_cases[] = {
    {"/bytes?n=1000", 1000, END_CLOSE_NOTIFY},
    {"/close-mid-body?n=1000", 500, END_CLOSE_NOTIFY},
    {"/no-close-notify?n=1000", 1000, END_CUT},
    {"/truncated-tls?n=1000", 500, END_CUT},
    {"/no-close-notify?n=200000", 200000, END_CUT},
    {"/close-delimited?n=1000", 1000, END_CLOSE_NOTIFY},
    {"/close-delimited?n=1000&close_notify=0", 1000, END_CUT},
};

static void stream_ends(const tls_certs_t *certs)
{
    test_server_t *s = start_tls_server(certs, TLS_CERT_GOOD, NULL);
    SSL_CTX *ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file});
    for (size_t i = 0; i < sizeof(end_cases) / sizeof(end_cases[0]); i++) {
        received_t r = https_get(ctx, test_server_port(s), end_cases[i].path, NULL, NULL);
        size_t body_len;
        const char *body = body_of(&r, &body_len);
        printf("%-26s %6zu body bytes, then %s%s%s\n", end_cases[i].path, body_len,
               end_names[r.end], r.end != END_CLOSE_NOTIFY ? ": " : "",
               r.end != END_CLOSE_NOTIFY ? r.error : "");
        ASSERT_UEQ(body_len, end_cases[i].body_len);
        ASSERT_TRUE(is_pattern(body, body_len));
        ASSERT_EQ(r.end, end_cases[i].end);
        free(r.data);
    }
    SSL_CTX_free(ctx);
    test_server_stop(s);
}

/* ---- A handshake that never ends ---------------------------------------------------------------
 */

static void handshake_stall(const tls_certs_t *certs)
{
    test_server_opts_t o = test_server_opts_default();
    o.handshake_stall = true;
    test_server_t *s = test_server_start(&o);
    ASSERT_TRUE(strncmp(test_server_origin(s), "https://127.0.0.1:", 18) == 0);
    SSL_CTX *ctx = client_ctx(&(client_opts_t){.ca_file = certs->ca_file});

    tls_conn_t c;
    c.fd = tcp_connect(test_server_port(s));
    struct timeval timeout = {.tv_usec = 200 * 1000};
    ASSERT_EQ(setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    c.ssl = SSL_new(ctx);
    ASSERT_NOT_NULL(c.ssl);
    ASSERT_TRUE(SSL_set_fd(c.ssl, c.fd));
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc = SSL_connect(c.ssl);
    int err = SSL_get_error(c.ssl, rc);
    int saved_errno = errno;
    long ms = elapsed_ms(&start);
    printf("stalled handshake: SSL_connect %d, SSL_get_error %d, errno %s, after %ld ms\n", rc, err,
           strerror(saved_errno), ms);
    ASSERT_NE(rc, 1);
    /* A receive timeout on a blocking socket reads as a retry in BoringSSL. */
    ASSERT_TRUE(err == SSL_ERROR_WANT_READ || err == SSL_ERROR_SYSCALL);
    ASSERT_GE(ms, 150);
    ASSERT_EQ(test_server_tls_handshakes(s), 0);
    ERR_clear_error();
    tls_close(&c);
    SSL_CTX_free(ctx);
    test_server_stop(s);

    /* A real TLS server stops at once with a handshake waiting for its
     * ClientHello (SSL_accept blocked in a read). */
    s = start_tls_server(certs, TLS_CERT_GOOD, NULL);
    int fd = tcp_connect(test_server_port(s));
    /* Let the server get into SSL_accept. */
    struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &start);
    test_server_stop(s);
    ms = elapsed_ms(&start);
    printf("stop with a handshake waiting: %ld ms\n", ms);
    ASSERT_LT(ms, 1000);
    ASSERT_EQ(close(fd), 0);
}

/* ---- nginx --------------------------------------------------------------------------------- */

static void nginx_over_tls(const tls_certs_t *certs)
{
    nginx_opts_t o = nginx_opts_default();
    o.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
    o.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
    nginx_t *server = nginx_start(&o);
    if (server == NULL && errno == ENOENT) {
        printf("nginx is not installed: skipping nginx over TLS\n");
        return;
    }
    ASSERT_NOT_NULL(server);
    char want_origin[64];
    snprintf(want_origin, sizeof(want_origin), "https://127.0.0.1:%u",
             (unsigned)nginx_port(server));
    ASSERT_STR_EQ(nginx_origin(server), want_origin);

    static const uint16_t versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    for (size_t i = 0; i < 2; i++) {
        SSL_CTX *ctx =
            client_ctx(&(client_opts_t){.ca_file = certs->ca_file, .max_version = versions[i]});
        SSL_SESSION_free(last_session);
        last_session = NULL;
        bool reused;
        received_t r = https_get(ctx, nginx_port(server), "/1k.bin", NULL, &reused);
        ASSERT_FALSE(reused);
        ASSERT_TRUE(strncmp(r.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
        size_t body_len;
        const char *body = body_of(&r, &body_len);
        char want[1024];
        nginx_pattern(want, sizeof(want));
        ASSERT_UEQ(body_len, sizeof(want));
        ASSERT_TRUE(memcmp(body, want, sizeof(want)) == 0);
        printf("nginx TLS 1.%d GET /1k.bin: %zu bytes, then %s\n", i == 0 ? 2 : 3, body_len,
               end_names[r.end]);
        free(r.data);

        ASSERT_NOT_NULL(last_session);
        SSL_SESSION *session = last_session;
        SSL_SESSION_up_ref(session);
        r = https_get(ctx, nginx_port(server), "/index.html", session, &reused);
        ASSERT_TRUE(reused);
        ASSERT_NOT_NULL(strstr(r.data, NGINX_INDEX_HTML));
        free(r.data);
        SSL_SESSION_free(session);
        SSL_CTX_free(ctx);
    }
    SSL_SESSION_free(last_session);
    last_session = NULL;
    nginx_stop(server);
}

int main(void)
{
    /* Progress lines reach the log even if a check aborts later. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds_at_start = count_fds();

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    tls_certs_t *certs = tls_certs_make(NULL);
    ASSERT_NOT_NULL(certs);
    printf("certificates made in %ld ms in %s\n", elapsed_ms(&start), certs->dir);

    client_leaves(certs);
    /* This test's client writes to servers that may have closed first (an
     * mTLS refusal): EPIPE for it, not a signal. */
    signal(SIGPIPE, SIG_IGN);

    verify_certs(certs);
    handshakes(certs);
    get_over_tls(certs);
    resumption(certs);
    mutual_tls(certs);
    stream_ends(certs);
    handshake_stall(certs);
    nginx_over_tls(certs);

    /* The files and the directory go with tls_certs_free. */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", certs->dir);
    tls_certs_free(certs);
    tls_certs_free(NULL);
    ASSERT_EQ(access(dir, F_OK), -1);
    ASSERT_EQ(count_fds(), fds_at_start);
    return 0;
}
