/* Certificates for TLS tests, made at run time with BoringSSL: nothing is
 * checked in, so nothing in the repository can expire.
 *
 *     tls_certs_t *certs = tls_certs_make(NULL);
 *     ASSERT_NOT_NULL(certs);
 *     opts.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
 *     opts.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
 *     // a client trusts certs->ca_file ...
 *     tls_certs_free(certs);
 *
 * Two CAs are made: the test CA (certs->ca_file), which a test's client
 * trusts, and an unrelated CA (certs->other_ca_file), which it does not. Each
 * leaf has its own key. Every key is EC P-256, every signature ECDSA with
 * SHA-256, every certificate X.509 v3 with a random 63-bit serial, a
 * subjectKeyIdentifier and (except where self-signed) an
 * authorityKeyIdentifier. "Now" is the time tls_certs_make runs; everything
 * valid is valid from now - 1 day to now + 30 days.
 *
 *   kind                   subject CN          SAN                               issuer
 *   ---------------------  ------------------  --------------------------------  -------------
 *   TLS_CERT_GOOD          localhost           DNS:localhost IP:127.0.0.1 IP:::1 test CA
 *   TLS_CERT_EXPIRED       localhost           the same; valid from now - 10     test CA
 *                                              days to now - 1 day
 *   TLS_CERT_WRONG_NAME    wrong.example       DNS:wrong.example                 test CA
 *   TLS_CERT_SELF_SIGNED   localhost           DNS:localhost IP:127.0.0.1 IP:::1 itself
 *   TLS_CERT_UNKNOWN_CA    localhost           DNS:localhost IP:127.0.0.1 IP:::1 unrelated CA
 *   TLS_CERT_CLIENT        TLS_CERTS_CLIENT_CN none                              test CA
 *
 * The CAs have basicConstraints critical CA:TRUE and keyUsage critical
 * keyCertSign, cRLSign. The server leaves have basicConstraints critical
 * CA:FALSE, keyUsage critical digitalSignature and extendedKeyUsage
 * serverAuth; the self-signed one has no keyUsage (a leaf must not claim
 * keyCertSign, and an issuer without it would not count as its own issuer).
 * The client leaf has extendedKeyUsage clientAuth.
 *
 * Files, in the directory: ca.pem, other-ca.pem, and <name>.pem and
 * <name>.key for each kind, with <name> as tls_cert_kind_name gives it.
 * Certificates are PEM "CERTIFICATE" (the leaf only: every leaf is signed
 * directly by its CA), keys PEM PKCS#8 "PRIVATE KEY", mode 0600. */
#ifndef GUST_TESTS_SUPPORT_TLS_CERTS_H
#define GUST_TESTS_SUPPORT_TLS_CERTS_H

/* Subject common names. */
#define TLS_CERTS_CA_CN "gust test CA"
#define TLS_CERTS_OTHER_CA_CN "gust unrelated CA"
#define TLS_CERTS_CLIENT_CN "gust test client"

/* The leaves, in the order of the table above. */
typedef enum tls_cert_kind_e {
    TLS_CERT_GOOD,
    TLS_CERT_EXPIRED,
    TLS_CERT_WRONG_NAME,
    TLS_CERT_SELF_SIGNED,
    TLS_CERT_UNKNOWN_CA,
    TLS_CERT_CLIENT,
} tls_cert_kind_t;

enum { TLS_CERT_NUM_KINDS = TLS_CERT_CLIENT + 1 };

/* A leaf's certificate and key files (absolute paths if the directory is). */
typedef struct tls_cert_files_s {
    const char *cert_file;
    const char *key_file;
} tls_cert_files_t;

/* What tls_certs_make made. Every string is owned by the object and lives
 * until tls_certs_free; read the fields, change none. */
typedef struct tls_certs_s {
    const char *dir;
    const char *ca_file;       /* the test CA's certificate: the trust anchor */
    const char *other_ca_file; /* the unrelated CA's, which signed TLS_CERT_UNKNOWN_CA */
    tls_cert_files_t leaf[TLS_CERT_NUM_KINDS];
} tls_certs_t;

/* tls_certs_make writes the CAs and every leaf into `dir`, which must exist
 * (files of the same names are replaced), or, if dir is NULL, into a new
 * directory mkdtemp'd under $TEST_TMPDIR (or /tmp). Returns the paths, which
 * the caller frees with tls_certs_free; NULL on failure, with a message and
 * BoringSSL's errors on stderr and nothing left behind. Takes a few
 * milliseconds. Any thread. */
tls_certs_t *tls_certs_make(const char *dir);

/* tls_certs_free removes the files tls_certs_make wrote (and the directory if
 * it made it) and frees `certs`. NULL does nothing. */
void tls_certs_free(tls_certs_t *certs);

/* tls_cert_kind_name returns "good", "expired", "wrong-name", "self-signed",
 * "unknown-ca" or "client" (static), or "?" for anything else. */
const char *tls_cert_kind_name(tls_cert_kind_t kind);

#endif
