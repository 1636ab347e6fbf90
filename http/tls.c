/* HTTPS through BoringSSL: the client's contexts, a connection's handshake
 * and its reads and writes.
 *
 * A client has up to two contexts, made on first use: one that verifies
 * (the system bundle, or the CA file or directory of the options) and one
 * that does not, for requests that asked for `insecure`. Which one a
 * connection used is part of its origin's key, so a connection made without
 * verification is never handed to a request that wants it.
 *
 * Verification also refuses weak chains: a signature with MD5 or SHA-1 on
 * any certificate below the trust anchor, an RSA key under 2048 bits or an
 * EC key under 224 anywhere in the chain (CERT_WEAK). A handshake that
 * fails is a certificate error only when verification ran and failed;
 * otherwise it is TLS_HANDSHAKE, with what the server did in words.
 *
 * Sessions are resumed through the origin entry, which every worker shares:
 * the newest session a server gave is kept there (under the origin's lock)
 * and offered by the next connection to it. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/obj.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gust/err.h"
#include "http/internal.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* The origin a connection belongs to, for the session callback. */
static int conn_index = -1;
static pthread_once_t conn_index_once = PTHREAD_ONCE_INIT;

static void make_conn_index(void)
{
    conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* BoringSSL calls this with a session a server issued (for TLS 1.3, after
 * the handshake, when its ticket arrives). Returning 1 keeps the reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    conn_t *conn = SSL_get_ex_data(ssl, conn_index);
    if (conn == NULL || !SSL_SESSION_is_resumable(session))
        return 0;
    origin_t *origin = conn->origin;
    pthread_mutex_lock(&origin->tls_lock);
    SSL_SESSION *old = origin->tls_session;
    origin->tls_session = session;
    pthread_mutex_unlock(&origin->tls_lock);
    SSL_SESSION_free(old);
    return 1;
}

/* ---- Weak certificates ---- */

/* The smallest keys a verified chain may hold. */
enum { MIN_RSA_BITS = 2048, MIN_EC_BITS = 224 };

/* Why the verify callback refused a chain, for gust__tls_handshake: the
 * callback runs inside SSL_do_handshake, on the thread that reads this
 * right after. */
static _Thread_local char weak_why[192];

/* The name of `cert`'s signature digest if it is one that collisions can be
 * made for, else NULL. */
static const char *weak_digest(const X509 *cert)
{
    int digest = NID_undef, pkey;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest, &pkey))
        return NULL;
    switch (digest) {
    case NID_md4:
        return "MD4";
    case NID_md5:
        return "MD5";
    case NID_sha1:
        return "SHA-1";
    default:
        return NULL;
    }
}

/* Writes to weak_why why `cert`, at `depth` in the chain (0: the server's
 * own) for `host`, is too weak to trust; false if it is not. The
 * signature of the chain's top, the trust anchor, is not checked: nothing
 * relies on it. */
static bool weak_cert(X509 *cert, int depth, bool anchor, const char *host)
{
    char subject[96] = "";
    char whose[160];
    if (depth == 0) {
        snprintf(whose, sizeof(whose), "certificate for %s", host);
    } else {
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, subject,
                                  sizeof(subject));
        snprintf(whose, sizeof(whose), "CA certificate \"%s\" in the chain for %s", subject, host);
    }
    const char *digest = anchor ? NULL : weak_digest(cert);
    if (digest != NULL) {
        snprintf(weak_why, sizeof(weak_why), "%s is signed with %s", whose, digest);
        return true;
    }
    EVP_PKEY *key = X509_get_pubkey(cert);
    int type = key != NULL ? EVP_PKEY_id(key) : EVP_PKEY_NONE;
    unsigned bits = key != NULL ? EVP_PKEY_bits(key) : 0;
    EVP_PKEY_free(key);
    if ((type == EVP_PKEY_RSA && bits < MIN_RSA_BITS) ||
        (type == EVP_PKEY_EC && bits < MIN_EC_BITS)) {
        snprintf(weak_why, sizeof(weak_why), "%s has a %u-bit %s key", whose, bits,
                 type == EVP_PKEY_RSA ? "RSA" : "EC");
        return true;
    }
    return false;
}

/* BoringSSL's chain check calls this for each certificate, the trust
 * anchor first, with `ok` its verdict so far; a weak one fails the chain
 * with X509_V_ERR_APPLICATION_VERIFICATION, which nothing else sets. */
static int on_verify(int ok, X509_STORE_CTX *store)
{
    if (!ok)
        return 0;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const conn_t *conn = ssl != NULL ? SSL_get_ex_data(ssl, conn_index) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    bool anchor = depth == (int)sk_X509_num(X509_STORE_CTX_get0_chain(store)) - 1;
    if (conn == NULL || cert == NULL || !weak_cert(cert, depth, anchor, conn->origin->host))
        return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* *why = what failed and, if BoringSSL has one, its reason. */
static void describe_ssl_error(char *why, size_t len, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(why, len, "%s%s", what, path);
    else
        snprintf(why, len, "%s%s: %s", what, path, ERR_reason_error_string(e));
    ERR_clear_error();
}

static SSL_CTX *make_ctx(const gust_client_opts_t *opts, bool insecure, char *why, size_t why_len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
        const char *file = opts->ca_file;
        if (file == NULL && opts->ca_dir == NULL)
            file = SYSTEM_CA_BUNDLE;
        if (!SSL_CTX_load_verify_locations(ctx, file, opts->ca_dir)) {
            describe_ssl_error(why, why_len, "cannot load the CA certificates from ",
                               file != NULL ? file : opts->ca_dir);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (opts->client_cert_file != NULL) {
        const char *key_file =
            opts->client_key_file != NULL ? opts->client_key_file : opts->client_cert_file;
        const char *failed = NULL, *path = key_file;
        if (!SSL_CTX_use_certificate_chain_file(ctx, opts->client_cert_file)) {
            failed = "cannot load the client certificate from ";
            path = opts->client_cert_file;
        } else if (!SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) ||
                   !SSL_CTX_check_private_key(ctx)) {
            failed = "cannot use the client key from "; /* missing, or not the certificate's */
        }
        if (failed != NULL) {
            describe_ssl_error(why, why_len, failed, path);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    return ctx;
}

/* The socket under TLS. BoringSSL's own socket BIO writes without
 * MSG_NOSIGNAL, so a server that closed would raise SIGPIPE and kill the
 * program embedding gust; this one sends with MSG_NOSIGNAL. */
static int bio_write(BIO *bio, const char *buf, int len)
{
    const conn_t *conn = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n = send(conn->fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(bio);
    return (int)n;
}

static int bio_read(BIO *bio, char *buf, int len)
{
    conn_t *conn = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n = recv(conn->fd, buf, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(bio);
    if (n > 0 && conn->tls_first_len < sizeof(conn->tls_first)) {
        size_t room = sizeof(conn->tls_first) - conn->tls_first_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(conn->tls_first + conn->tls_first_len, buf, take);
        conn->tls_first_len += (uint8_t)take;
    }
    return (int)n;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)bio, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is buffered here */
}

static BIO_METHOD *make_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "gust socket");
    if (m != NULL &&
        (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
         !BIO_meth_set_ctrl(m, bio_ctrl))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* The client's context for `insecure`, made on first use. */
static SSL_CTX *client_ctx(gust_client_t *client, bool insecure, char *why, size_t why_len)
{
    pthread_once(&conn_index_once, make_conn_index);
    SSL_CTX **slot = insecure ? &client->tls_insecure : &client->tls_verify;
    pthread_mutex_lock(&client->tls_lock);
    if (client->tls_bio == NULL)
        client->tls_bio = make_bio_method();
    if (*slot == NULL && client->tls_bio != NULL)
        *slot = make_ctx(&client->opts, insecure, why, why_len);
    else if (client->tls_bio == NULL)
        snprintf(why, why_len, "out of memory");
    SSL_CTX *ctx = client->tls_bio != NULL ? *slot : NULL;
    pthread_mutex_unlock(&client->tls_lock);
    return ctx;
}

int gust__tls_check_opts(const gust_client_opts_t *opts, char *why, size_t why_len)
{
    /* Load the files once now, so a wrong path fails gust_client_new rather
     * than every request. */
    SSL_CTX *ctx = make_ctx(opts, opts->insecure, why, why_len);
    if (ctx == NULL)
        return GUST_ERR_TLS;
    SSL_CTX_free(ctx);
    return 0;
}

void gust__tls_client_free(gust_client_t *client)
{
    SSL_CTX_free(client->tls_verify);
    SSL_CTX_free(client->tls_insecure);
    if (client->tls_bio != NULL)
        BIO_meth_free(client->tls_bio);
}

void gust__tls_origin_free(origin_t *origin)
{
    SSL_SESSION_free(origin->tls_session);
}

int gust__tls_start(conn_t *conn, char *why, size_t why_len)
{
    origin_t *origin = conn->origin;
    SSL_CTX *ctx = client_ctx(conn->session->client, origin->insecure, why, why_len);
    if (ctx == NULL)
        return GUST_ERR_TLS;
    conn->ssl = SSL_new(ctx);
    BIO *bio = conn->ssl != NULL ? BIO_new(conn->session->client->tls_bio) : NULL;
    if (bio == NULL || !SSL_set_ex_data(conn->ssl, conn_index, conn)) {
        BIO_free(bio);
        snprintf(why, why_len, "out of memory");
        return GUST_ERR_NOMEM;
    }
    BIO_set_data(bio, conn);
    BIO_set_init(bio, 1);
    SSL_set_bio(conn->ssl, bio, bio); /* one reference serves both ways */
    SSL_set_connect_state(conn->ssl);
    addr_list_t literal;
    bool is_ip = gust__ip_literal(origin->host, &literal);
    /* SNI carries names only (RFC 6066); the certificate check takes either. */
    if (!is_ip && !SSL_set_tlsext_host_name(conn->ssl, origin->host)) {
        snprintf(why, why_len, "cannot set the server name");
        return GUST_ERR_TLS;
    }
    if (!origin->insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(conn->ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, origin->host)
                       : X509_VERIFY_PARAM_set1_host(param, origin->host, strlen(origin->host));
        if (!ok) {
            snprintf(why, why_len, "cannot set the name to verify");
            return GUST_ERR_TLS;
        }
    }
    pthread_mutex_lock(&origin->tls_lock);
    if (origin->tls_session != NULL)
        SSL_set_session(conn->ssl, origin->tls_session);
    pthread_mutex_unlock(&origin->tls_lock);
    return 0;
}

/* Each verification failure its own error, with OpenSSL's reason. */
static int verify_error(long result)
{
    switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return GUST_ERR_CERT_UNKNOWN_CA;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return GUST_ERR_CERT_HOSTNAME;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return GUST_ERR_CERT_EXPIRED;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return GUST_ERR_CERT_SELF_SIGNED;
    case X509_V_ERR_APPLICATION_VERIFICATION: /* on_verify's */
        return GUST_ERR_CERT_WEAK;
    default:
        return GUST_ERR_CERT_INVALID;
    }
}

/* Whether `e`, a packed BoringSSL error, is the TLS layer's `reason`. */
static bool is_ssl_reason(uint32_t e, int reason)
{
    return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == reason;
}

/* `e` in words: the alert the server sent, or BoringSSL's reason. */
static const char *reason_text(uint32_t e)
{
    int reason = ERR_GET_REASON(e);
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET)
        return SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET);
    const char *text = ERR_reason_error_string(e);
    return text != NULL ? text : "unknown error";
}

/* Whether `first` (n > 0 bytes) may begin a TLS record: a content type
 * (change_cipher_spec, alert, handshake, application_data), then major
 * version 3. */
static bool may_be_tls(const uint8_t *first, size_t n)
{
    return first[0] >= 20 && first[0] <= 23 && (n < 2 || first[1] == 3);
}

/* Why a handshake failed that verification did not fail, from what the
 * server sent (`first`, n bytes) and BoringSSL's first error `e`. */
static void describe_handshake_failure(const uint8_t *first, size_t n, uint32_t e, bool closed,
                                       char *why, size_t why_len)
{
    static const char http[] = "HTTP/";
    if (n > 0 && !may_be_tls(first, n)) {
        if (memcmp(first, http, n < sizeof(http) - 1 ? n : sizeof(http) - 1) == 0) {
            snprintf(why, why_len, "handshake: the server speaks plain HTTP, not TLS");
        } else {
            char hex[3 * 5] = "";
            for (size_t i = 0; i < n && i < 5; i++)
                snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x%s", first[i],
                         i + 1 < n ? " " : "");
            snprintf(why, why_len, "handshake: the server's first bytes (%s) are not TLS", hex);
        }
    } else if (is_ssl_reason(e, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) ||
               is_ssl_reason(e, SSL_R_UNSUPPORTED_PROTOCOL)) {
        /* It refused 1.2 and 1.3 (the alert), or chose an older one. */
        snprintf(why, why_len,
                 "handshake: the server offers only TLS versions older than 1.2 (protocol "
                 "version)");
    } else if (e == 0 && closed) {
        snprintf(why, why_len, "handshake: connection closed by the server");
    } else if (e == 0) {
        snprintf(why, why_len, "handshake: %s", errno != 0 ? strerror(errno) : "failed");
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
        snprintf(why, why_len, "handshake: the server sent the alert \"%s\"", reason_text(e));
    } else {
        snprintf(why, why_len, "handshake: %s", reason_text(e));
    }
}

int gust__tls_handshake(conn_t *conn, char *why, size_t why_len)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(conn->ssl);
    if (rc == 1) {
        const unsigned char *proto = NULL;
        unsigned len = 0;
        SSL_get0_alpn_selected(conn->ssl, &proto, &len);
        if (len != 0 && (len != 8 || memcmp(proto, "http/1.1", 8) != 0)) {
            snprintf(why, why_len, "handshake: the server chose the protocol %.*s, not http/1.1",
                     (int)len, (const char *)proto);
            return GUST_ERR_TLS_HANDSHAKE;
        }
        return 0;
    }
    int e = SSL_get_error(conn->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 1;
    /* A certificate error only when verification ran and failed: before
     * it runs, the verify result is no verdict ("invalid certificate
     * verification context"). */
    if (is_ssl_reason(ERR_peek_last_error(), SSL_R_CERTIFICATE_VERIFY_FAILED)) {
        long verify = SSL_get_verify_result(conn->ssl);
        ERR_clear_error();
        if (verify == X509_V_ERR_APPLICATION_VERIFICATION)
            snprintf(why, why_len, "%s", weak_why);
        else
            snprintf(why, why_len, "certificate verify failed: %s",
                     X509_verify_cert_error_string(verify));
        return verify_error(verify);
    }
    bool closed = e == SSL_ERROR_SYSCALL && (rc == 0 || errno == 0);
    describe_handshake_failure(conn->tls_first, conn->tls_first_len, (uint32_t)ERR_peek_error(),
                               closed, why, why_len);
    ERR_clear_error();
    return GUST_ERR_TLS_HANDSHAKE;
}

/* An SSL_read's or SSL_write's result `n` as recv or send would give it. */
static ssize_t as_syscall(conn_t *conn, int n, bool reading)
{
    if (n > 0)
        return n;
    switch (SSL_get_error(conn->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* the server's close_notify */
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        if (reading && ERR_peek_error() == 0 && (n == 0 || errno == 0)) {
            /* The TCP connection ended without close_notify. The parser
             * still decides: a response whose length was known and fully
             * read is fine, a cut-off one is an error. */
            return 0;
        }
        return -1;
    default:
        conn->tls_error = (uint32_t)ERR_peek_error();
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

int gust__tls_read_error(const conn_t *conn, char *why, size_t why_len)
{
    if (is_ssl_reason(conn->tls_error, SSL_R_NO_RENEGOTIATION)) {
        /* Renegotiation is off (BoringSSL's default for a client): a new
         * handshake inside the connection would change who the server is
         * after its certificate was checked. */
        snprintf(why, why_len, "TLS: the server asked to renegotiate, which gust refuses");
        return GUST_ERR_TLS_RENEGOTIATION;
    }
    snprintf(why, why_len, "TLS read: %s",
             conn->tls_error != 0 ? reason_text(conn->tls_error) : "protocol error");
    return GUST_ERR_TLS;
}

ssize_t gust__tls_read(conn_t *conn, void *buf, size_t len)
{
    ERR_clear_error();
    return as_syscall(conn, SSL_read(conn->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len),
                      true);
}

bool gust__tls_close_notified(const conn_t *conn)
{
    return (SSL_get_shutdown(conn->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

bool gust__tls_pending(const conn_t *conn)
{
    return SSL_pending(conn->ssl) > 0;
}

ssize_t gust__tls_write(conn_t *conn, const void *buf, size_t len)
{
    ERR_clear_error();
    return as_syscall(conn, SSL_write(conn->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len),
                      false);
}

void gust__tls_free(conn_t *conn)
{
    if (conn->ssl == NULL)
        return;
    /* Our close_notify, best effort: the socket is non-blocking and about
     * to close; a server may not wait for it (RFC 8446 allows that). */
    if (SSL_is_init_finished(conn->ssl))
        SSL_shutdown(conn->ssl);
    SSL_free(conn->ssl);
    conn->ssl = NULL;
}
