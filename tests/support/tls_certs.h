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
 * Two root CAs are made: the test CA (certs->ca_file), which a test's client
 * trusts, and an unrelated CA (certs->other_ca_file), which it does not; and
 * three intermediate CAs, which the test CA signs (below). Each leaf has its
 * own key. Unless the table says otherwise, a key is EC P-256 and a
 * signature ECDSA (RSA, for an RSA issuer) with SHA-256. Every certificate
 * is X.509 v3 with a random 63-bit serial, a subjectKeyIdentifier and
 * (except where self-signed) an authorityKeyIdentifier. "Now" is the time
 * tls_certs_make runs; everything valid is valid from now - 1 day to now +
 * 30 days.
 *
 *   kind                       subject CN          SAN                               issuer
 *   -------------------------  ------------------  --------------------------------  ------------
 *   TLS_CERT_GOOD              localhost           DNS:localhost IP:127.0.0.1 IP:::1 test CA
 *   TLS_CERT_EXPIRED           localhost           the same; valid from now - 10     test CA
 *                                                  days to now - 1 day
 *   TLS_CERT_WRONG_NAME        wrong.example       DNS:wrong.example                 test CA
 *   TLS_CERT_SELF_SIGNED       localhost           DNS:localhost IP:127.0.0.1 IP:::1 itself
 *   TLS_CERT_UNKNOWN_CA        localhost           DNS:localhost IP:127.0.0.1 IP:::1 unrelated CA
 *   TLS_CERT_CLIENT            TLS_CERTS_CLIENT_CN none                              test CA
 *   TLS_CERT_RSA_2048          localhost           as GOOD; an RSA-2048 key          test CA
 *   TLS_CERT_VIA_INTERMEDIATE  localhost           as GOOD                           RSA interm.
 *   TLS_CERT_SHA1              localhost           as GOOD; signed with SHA-1        test CA
 *   TLS_CERT_MD5               localhost           as GOOD; signed with MD5          RSA interm.
 *   TLS_CERT_RSA_1024          localhost           as GOOD; an RSA-1024 key          test CA
 *   TLS_CERT_WEAK_KEY_CA       localhost           as GOOD                           weak-key i.
 *   TLS_CERT_SHA1_CA           localhost           as GOOD                           SHA-1 interm.
 *
 *   intermediate CA        subject CN                  key        the test CA signed it with
 *   ---------------------  --------------------------  ---------  --------------------------
 *   RSA intermediate       gust RSA intermediate       RSA-2048   ECDSA, SHA-256
 *   weak-key intermediate  gust weak-key intermediate  RSA-1024   ECDSA, SHA-256
 *   SHA-1 intermediate     gust SHA-1 intermediate     P-256      ECDSA, SHA-1
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
 * Certificates are PEM "CERTIFICATE": the leaf, then its issuer if that is
 * an intermediate (what a server sends); keys PEM PKCS#8 "PRIVATE KEY", mode
 * 0600. */
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
    TLS_CERT_RSA_2048,
    TLS_CERT_VIA_INTERMEDIATE,
    TLS_CERT_SHA1,
    TLS_CERT_MD5,
    TLS_CERT_RSA_1024,
    TLS_CERT_WEAK_KEY_CA,
    TLS_CERT_SHA1_CA,
} tls_cert_kind_t;

enum { TLS_CERT_NUM_KINDS = TLS_CERT_SHA1_CA + 1 };

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
 * BoringSSL's errors on stderr and nothing left behind. Takes some tens of
 * milliseconds (the RSA keys). Any thread. */
tls_certs_t *tls_certs_make(const char *dir);

/* tls_certs_free removes the files tls_certs_make wrote (and the directory if
 * it made it) and frees `certs`. NULL does nothing. */
void tls_certs_free(tls_certs_t *certs);

/* tls_cert_kind_name returns "good", "expired", "wrong-name", "self-signed",
 * "unknown-ca", "client", "rsa-2048", "via-intermediate", "sha1", "md5",
 * "rsa-1024", "weak-key-ca" or "sha1-ca" (static), or "?" for anything
 * else. */
const char *tls_cert_kind_name(tls_cert_kind_t kind);

#endif
