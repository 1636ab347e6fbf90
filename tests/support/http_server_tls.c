/* The test server's TLS, with BoringSSL: the server's SSL_CTX, the handshake
 * on a connection's blocking socket, the TLS transport behind c->io, and a
 * HelloRequest sealed by hand for /hello-request. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/err.h>
#include <openssl/nid.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/support/http_server_internal.h"

/* Sessions resumed with a ticket or from the cache must come from this
 * server: a context is required once client certificates are asked for. */
static const char SESSION_ID_CONTEXT[] = "gust test server";

/* The ALPN protocol the server picks when a client offers it. */
static const char ALPN_HTTP_1_1[] = "http/1.1";

/* SSL_write takes an int; larger sends go in pieces. */
enum { MAX_WRITE = 1 << 30 };

/* Prints what failed and BoringSSL's errors, then aborts. */
static _Noreturn void die_tls(const char *what, const char *file)
{
    fprintf(stderr, "test server: %s %s:\n", what, file != NULL ? file : "");
    ERR_print_errors_fp(stderr);
    fflush(stderr);
    abort();
}

/* ---- The context ---------------------------------------------------------------- */

/* Selects http/1.1 if the client offers it; otherwise the handshake goes on
 * without ALPN. */
static int select_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                       unsigned in_len, void *arg)
{
    (void)ssl, (void)arg;
    size_t want_len = sizeof(ALPN_HTTP_1_1) - 1;
    /* `in` is the client's list: each name prefixed with its length byte. */
    for (unsigned i = 0; i < in_len; i += 1u + in[i]) {
        if (in[i] == want_len && i + 1 + want_len <= in_len &&
            memcmp(in + i + 1, ALPN_HTTP_1_1, want_len) == 0) {
            *out = in + i + 1;
            *out_len = in[i];
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

struct ssl_ctx_st *test_server__tls_new_ctx(const test_server_opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL)
        die_tls("SSL_CTX_new", NULL);
    uint16_t max = o->tls_max_version != 0 ? (uint16_t)o->tls_max_version : TLS1_3_VERSION;
    if (!SSL_CTX_set_min_proto_version(ctx, max < TLS1_2_VERSION ? TLS1_VERSION : TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, max))
        die_tls("SSL_CTX_set_min/max_proto_version", NULL);
    if (!SSL_CTX_use_certificate_chain_file(ctx, o->cert_file))
        die_tls("cannot load the certificate", o->cert_file);
    if (!SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) ||
        !SSL_CTX_check_private_key(ctx))
        die_tls("cannot load the key (or it does not match the certificate)", o->key_file);

    /* Resumption: BoringSSL's server session cache (TLS 1.2 session IDs) is
     * on by default, and so are tickets (TLS 1.2 and 1.3), whose keys it
     * makes and rotates itself. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    if (!SSL_CTX_set_session_id_context(ctx, (const uint8_t *)SESSION_ID_CONTEXT,
                                        sizeof(SESSION_ID_CONTEXT) - 1))
        die_tls("SSL_CTX_set_session_id_context", NULL);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);

    if (o->client_ca_file != NULL) {
        /* Ask for a certificate, naming the CAs, and verify one that comes;
         * a client that sends none is still served. */
        if (!SSL_CTX_load_verify_locations(ctx, o->client_ca_file, NULL))
            die_tls("cannot load the client CAs", o->client_ca_file);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca_file);
        if (names == NULL)
            die_tls("cannot read the client CA names", o->client_ca_file);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

void test_server__tls_free_ctx(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

/* ---- The transport --------------------------------------------------------------- */

static long tls_read(conn_t *c, void *buf, size_t len)
{
    int n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    /* The end of the stream only with close_notify; a cut is an error. */
    long result = SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    ERR_clear_error();
    return result;
}

static long tls_write(conn_t *c, const void *data, size_t len)
{
    /* Blocking and without SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write writes
     * all it is given or fails. */
    int n = SSL_write(c->ssl, data, len > MAX_WRITE ? MAX_WRITE : (int)len);
    if (n > 0)
        return n;
    ERR_clear_error();
    return -1;
}

static bool tls_buffered(const conn_t *c)
{
    return SSL_has_pending(c->ssl);
}

static const conn_io_t tls_io = {
    .read = tls_read,
    .write = tls_write,
    .buffered = tls_buffered,
};

/* ---- A connection ------------------------------------------------------------------ */

bool test_server__tls_accept(conn_t *c)
{
    /* BoringSSL writes to the socket without MSG_NOSIGNAL: a client that
     * has gone must give this thread EPIPE, not the process SIGPIPE. The
     * signal is synchronous, so it stays with this thread, and pends there
     * harmlessly while blocked. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);

    c->ssl = SSL_new(c->server->tls_ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd))
        die_tls("SSL_new", NULL);
    /* Blocking: a client that stays silent holds it until test_server_stop
     * shuts the socket down. */
    if (SSL_accept(c->ssl) != 1) {
        ERR_clear_error();
        return false;
    }
    test_server_t *s = c->server;
    /* Relaxed: see the counters in struct test_server_s. */
    atomic_fetch_add_explicit(&s->tls_handshakes, 1, memory_order_relaxed);
    if (SSL_session_reused(c->ssl))
        atomic_fetch_add_explicit(&s->tls_resumed, 1, memory_order_relaxed);
    c->io = &tls_io;
    return true;
}

void test_server__tls_end(conn_t *c)
{
    if (c->ssl == NULL)
        return;
    /* Sends close_notify without waiting for the client's. */
    if (c->io == &tls_io && !c->skip_close_notify)
        SSL_shutdown(c->ssl);
    ERR_clear_error();
    SSL_free(c->ssl);
    c->ssl = NULL;
    c->io = &test_server__plain_io;
}

bool test_server__tls_peer_cn(const conn_t *c, char *buf, size_t len)
{
    if (c->ssl == NULL || len > INT_MAX)
        return false;
    X509 *peer = SSL_get_peer_certificate(c->ssl);
    if (peer == NULL)
        return false;
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, (int)len);
    X509_free(peer);
    return n >= 0 && (size_t)n < len;
}

bool test_server__tls_describe(const conn_t *c, char *buf, size_t len)
{
    if (c->ssl == NULL)
        return false;
    const uint8_t *alpn;
    unsigned alpn_len;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
    snprintf(buf, len, "version: %s\nalpn: %.*s\nsni: %s\nresumed: %d\ncipher: %s\n",
             SSL_get_version(c->ssl), (int)alpn_len, alpn_len > 0 ? (const char *)alpn : "",
             sni != NULL ? sni : "", SSL_session_reused(c->ssl),
             cipher != NULL ? SSL_CIPHER_standard_name(cipher) : "");
    return true;
}

/* ---- Renegotiation ------------------------------------------------------------------ */

/* Writes `v` big-endian into the `len` bytes at `out`. */
static void put_be(uint8_t *out, size_t len, uint64_t v)
{
    for (size_t i = len; i-- > 0; v >>= 8)
        out[i] = (uint8_t)v;
}

bool test_server__tls_hello_request(conn_t *c)
{
    if (c->ssl == NULL || SSL_version(c->ssl) != TLS1_2_VERSION)
        return false;
    /* The TLS 1.2 AEAD ciphers (RFC 5288, RFC 7905): the key block holds
     * the client's key, the server's, the client's IV, the server's; GCM
     * puts 8 bytes of nonce before the ciphertext, ChaCha20-Poly1305 XORs
     * the sequence number into its IV. */
    static const struct {
        int nid;
        const EVP_AEAD *(*aead)(void);
        size_t key_len, iv_len;
    } ciphers[] = {
        {NID_aes_128_gcm, EVP_aead_aes_128_gcm, 16, 4},
        {NID_aes_256_gcm, EVP_aead_aes_256_gcm, 32, 4},
        {NID_chacha20_poly1305, EVP_aead_chacha20_poly1305, 32, 12},
    };
    int nid = SSL_CIPHER_get_cipher_nid(SSL_get_current_cipher(c->ssl));
    size_t i = 0;
    while (i < sizeof(ciphers) / sizeof(ciphers[0]) && ciphers[i].nid != nid)
        i++;
    if (i == sizeof(ciphers) / sizeof(ciphers[0]))
        return false;
    const EVP_AEAD *aead = ciphers[i].aead();
    size_t key_len = ciphers[i].key_len, iv_len = ciphers[i].iv_len;
    uint8_t block[2 * (32 + 12)];
    if (SSL_get_key_block_len(c->ssl) != 2 * (key_len + iv_len) ||
        !SSL_generate_key_block(c->ssl, block, 2 * (key_len + iv_len)))
        die_tls("SSL_generate_key_block", NULL);
    const uint8_t *key = block + key_len, *iv = block + 2 * key_len + iv_len;

    static const uint8_t hello_request[4] = {0}; /* type 0, length 0 */
    uint64_t seq = SSL_get_write_sequence(c->ssl);
    uint8_t nonce[12], explicit_nonce[8];
    put_be(explicit_nonce, sizeof(explicit_nonce), seq);
    memcpy(nonce, iv, iv_len);
    if (iv_len == 4) {
        memcpy(nonce + 4, explicit_nonce, 8);
    } else {
        for (size_t j = 0; j < 8; j++)
            nonce[4 + j] ^= explicit_nonce[j];
    }
    /* The additional data: sequence number, type, version, length. */
    uint8_t ad[13];
    put_be(ad, 8, seq);
    ad[8] = SSL3_RT_HANDSHAKE;
    put_be(ad + 9, 2, TLS1_2_VERSION);
    put_be(ad + 11, 2, sizeof(hello_request));

    uint8_t record[5 + 8 + sizeof(hello_request) + EVP_AEAD_MAX_OVERHEAD];
    size_t head = iv_len == 4 ? 5 + 8 : 5, sealed_len;
    memcpy(record + 5, explicit_nonce, head - 5);
    EVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(&ctx, aead, key, key_len, EVP_AEAD_DEFAULT_TAG_LENGTH, NULL))
        die_tls("EVP_AEAD_CTX_init", NULL);
    bool ok = EVP_AEAD_CTX_seal(&ctx, record + head, &sealed_len, sizeof(record) - head, nonce,
                                EVP_AEAD_nonce_length(aead), hello_request, sizeof(hello_request),
                                ad, sizeof(ad));
    EVP_AEAD_CTX_cleanup(&ctx);
    if (!ok)
        die_tls("EVP_AEAD_CTX_seal", NULL);
    record[0] = SSL3_RT_HANDSHAKE;
    put_be(record + 1, 2, TLS1_2_VERSION);
    put_be(record + 3, 2, head - 5 + sealed_len);
    size_t len = head + sealed_len;
    return test_server__plain_io.write(c, record, len) == (long)len;
}
