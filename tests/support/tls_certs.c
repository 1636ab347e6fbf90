/* tests/support/tls_certs.c: certificates made at run time (see tls_certs.h). */
#include "tests/support/tls_certs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Validity, in days from now, of everything that is not expired. */
enum { VALID_FROM_DAYS = -1, VALID_TO_DAYS = 30 };

/* The files: ca.pem, other-ca.pem, then a certificate and a key per leaf. */
enum { FILE_CA, FILE_OTHER_CA, FILE_FIRST_LEAF };
enum { NUM_FILES = FILE_FIRST_LEAF + 2 * TLS_CERT_NUM_KINDS };

/* The public struct first, so that tls_certs_free can get back to the rest. */
typedef struct certs_s {
    tls_certs_t pub;
    bool made_dir;
    bool written[NUM_FILES];
    char dir[PATH_MAX];
    char paths[NUM_FILES][PATH_MAX];
} certs_t;

/* What goes into one certificate. NULL strings leave their extension out;
 * the values are in the syntax of OpenSSL's x509v3_config. */
typedef struct cert_spec_s {
    const char *name; /* of its files */
    const char *cn;
    const char *basic_constraints;
    const char *key_usage;
    const char *ext_key_usage;
    const char *san;
    int from_days, to_days;
} cert_spec_t;

#define LOCAL_SAN "DNS:localhost,IP:127.0.0.1,IP:::1"
#define CA_CONSTRAINTS "critical,CA:TRUE"
#define CA_USAGE "critical,keyCertSign,cRLSign"
#define LEAF_CONSTRAINTS "critical,CA:FALSE"
#define LEAF_USAGE "critical,digitalSignature"

static const cert_spec_t ca_spec = {
    .name = "ca",
    .cn = TLS_CERTS_CA_CN,
    .basic_constraints = CA_CONSTRAINTS,
    .key_usage = CA_USAGE,
    .from_days = VALID_FROM_DAYS,
    .to_days = VALID_TO_DAYS,
};

static const cert_spec_t other_ca_spec = {
    .name = "other-ca",
    .cn = TLS_CERTS_OTHER_CA_CN,
    .basic_constraints = CA_CONSTRAINTS,
    .key_usage = CA_USAGE,
    .from_days = VALID_FROM_DAYS,
    .to_days = VALID_TO_DAYS,
};

/* A key's kind and a signature's digest; the first of each is the default. */
typedef enum key_kind_e { KEY_P256, KEY_RSA_2048, KEY_RSA_1024 } key_kind_t;
typedef enum digest_e { DIGEST_SHA256, DIGEST_SHA1, DIGEST_MD5 } digest_t;

/* The intermediate CAs, each signed by the test CA. */
typedef enum intermediate_e {
    RSA_INTERMEDIATE,
    WEAK_KEY_INTERMEDIATE,
    SHA1_INTERMEDIATE,
    NUM_INTERMEDIATES
} intermediate_t;

static const struct intermediate_spec_s {
    cert_spec_t cert;
    key_kind_t key;
    digest_t digest; /* of the test CA's signature on it */
} intermediate_specs[NUM_INTERMEDIATES] = {
    [RSA_INTERMEDIATE] = {{"rsa-intermediate", "gust RSA intermediate", CA_CONSTRAINTS, CA_USAGE,
                           NULL, NULL, VALID_FROM_DAYS, VALID_TO_DAYS},
                          KEY_RSA_2048,
                          DIGEST_SHA256},
    [WEAK_KEY_INTERMEDIATE] = {{"weak-key-intermediate", "gust weak-key intermediate",
                                CA_CONSTRAINTS, CA_USAGE, NULL, NULL, VALID_FROM_DAYS,
                                VALID_TO_DAYS},
                               KEY_RSA_1024,
                               DIGEST_SHA256},
    [SHA1_INTERMEDIATE] = {{"sha1-intermediate", "gust SHA-1 intermediate", CA_CONSTRAINTS,
                            CA_USAGE, NULL, NULL, VALID_FROM_DAYS, VALID_TO_DAYS},
                           KEY_P256,
                           DIGEST_SHA1},
};

typedef enum signer_e {
    BY_TEST_CA,
    BY_OTHER_CA,
    BY_ITSELF,
    /* BY_INTERMEDIATE + i: by intermediate i. */
    BY_INTERMEDIATE,
} signer_t;

static const struct leaf_spec_s {
    cert_spec_t cert;
    signer_t signer;
    key_kind_t key;
    digest_t digest;
} leaf_specs[TLS_CERT_NUM_KINDS] = {
    [TLS_CERT_GOOD] = {{"good", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth", LOCAL_SAN,
                        VALID_FROM_DAYS, VALID_TO_DAYS},
                       BY_TEST_CA},
    [TLS_CERT_EXPIRED] = {{"expired", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth",
                           LOCAL_SAN, -10, -1},
                          BY_TEST_CA},
    [TLS_CERT_WRONG_NAME] = {{"wrong-name", "wrong.example", LEAF_CONSTRAINTS, LEAF_USAGE,
                              "serverAuth", "DNS:wrong.example", VALID_FROM_DAYS, VALID_TO_DAYS},
                             BY_TEST_CA},
    [TLS_CERT_SELF_SIGNED] = {{"self-signed", "localhost", LEAF_CONSTRAINTS, NULL, "serverAuth",
                               LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                              BY_ITSELF},
    [TLS_CERT_UNKNOWN_CA] = {{"unknown-ca", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth",
                              LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                             BY_OTHER_CA},
    [TLS_CERT_CLIENT] = {{"client", TLS_CERTS_CLIENT_CN, LEAF_CONSTRAINTS, LEAF_USAGE, "clientAuth",
                          NULL, VALID_FROM_DAYS, VALID_TO_DAYS},
                         BY_TEST_CA},
    [TLS_CERT_RSA_2048] = {{"rsa-2048", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth",
                            LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                           BY_TEST_CA,
                           KEY_RSA_2048},
    [TLS_CERT_VIA_INTERMEDIATE] = {{"via-intermediate", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE,
                                    "serverAuth", LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                                   BY_INTERMEDIATE + RSA_INTERMEDIATE},
    [TLS_CERT_SHA1] = {{"sha1", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth", LOCAL_SAN,
                        VALID_FROM_DAYS, VALID_TO_DAYS},
                       BY_TEST_CA,
                       KEY_P256,
                       DIGEST_SHA1},
    [TLS_CERT_MD5] = {{"md5", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth", LOCAL_SAN,
                       VALID_FROM_DAYS, VALID_TO_DAYS},
                      BY_INTERMEDIATE + RSA_INTERMEDIATE,
                      KEY_P256,
                      DIGEST_MD5},
    [TLS_CERT_RSA_1024] = {{"rsa-1024", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth",
                            LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                           BY_TEST_CA,
                           KEY_RSA_1024},
    [TLS_CERT_WEAK_KEY_CA] = {{"weak-key-ca", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE,
                               "serverAuth", LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                              BY_INTERMEDIATE + WEAK_KEY_INTERMEDIATE},
    [TLS_CERT_SHA1_CA] = {{"sha1-ca", "localhost", LEAF_CONSTRAINTS, LEAF_USAGE, "serverAuth",
                           LOCAL_SAN, VALID_FROM_DAYS, VALID_TO_DAYS},
                          BY_INTERMEDIATE + SHA1_INTERMEDIATE},
};

const char *tls_cert_kind_name(tls_cert_kind_t kind)
{
    if ((unsigned)kind >= TLS_CERT_NUM_KINDS)
        return "?";
    return leaf_specs[kind].cert.name;
}

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a line, then BoringSSL's queued errors (emptying the queue), on
 * stderr. */
static void complain(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    fputs("tls_certs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ERR_print_errors_fp(stderr);
    fflush(stderr);
    errno = saved;
}

/* ---- Keys and certificates ------------------------------------------------- */

static EVP_PKEY *new_p256_key(void)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EVP_PKEY *key = EVP_PKEY_new();
    if (ec == NULL || key == NULL || !EC_KEY_generate_key(ec) || !EVP_PKEY_assign_EC_KEY(key, ec)) {
        EC_KEY_free(ec);
        EVP_PKEY_free(key);
        return NULL;
    }
    /* The key owns ec now. */
    return key;
}

static EVP_PKEY *new_rsa_key(int bits)
{
    RSA *rsa = RSA_new();
    BIGNUM *e = BN_new();
    EVP_PKEY *key = EVP_PKEY_new();
    bool ok = rsa != NULL && e != NULL && key != NULL && BN_set_word(e, RSA_F4) &&
              RSA_generate_key_ex(rsa, bits, e, NULL) && EVP_PKEY_assign_RSA(key, rsa);
    BN_free(e);
    if (!ok) {
        RSA_free(rsa);
        EVP_PKEY_free(key);
        return NULL;
    }
    /* The key owns rsa now. */
    return key;
}

static EVP_PKEY *new_key(key_kind_t kind)
{
    switch (kind) {
    case KEY_RSA_2048:
        return new_rsa_key(2048);
    case KEY_RSA_1024:
        return new_rsa_key(1024);
    default:
        return new_p256_key();
    }
}

/* BoringSSL signs with SHA-1 and MD5 when asked to, as here; whether it
 * should trust such a signature is for the code under test to decide. */
static const EVP_MD *digest_md(digest_t digest)
{
    switch (digest) {
    case DIGEST_SHA1:
        return EVP_sha1();
    case DIGEST_MD5:
        return EVP_md5();
    default:
        return EVP_sha256();
    }
}

/* Adds one extension, unless value is NULL. */
static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    if (value == NULL)
        return true;
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    bool ok = ext != NULL && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random serial in 1 .. 2^63 - 1 (positive in 8 DER bytes). */
static bool set_random_serial(X509 *cert)
{
    uint8_t bytes[8];
    RAND_bytes(bytes, sizeof(bytes));
    uint64_t serial = 0;
    for (size_t i = 0; i < sizeof(bytes); i++)
        serial = serial << 8 | bytes[i];
    serial &= INT64_MAX;
    if (serial == 0)
        serial = 1;
    return ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial);
}

/* Makes the certificate `spec` describes for `key`, signed with `digest` by
 * issuer_key in the name of `issuer`, or self-signed when issuer is NULL. */
static X509 *make_cert(const cert_spec_t *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       digest_t digest, time_t now)
{
    X509 *cert = X509_new();
    if (cert == NULL)
        return NULL;
    X509_NAME *subject = X509_get_subject_name(cert);
    bool ok =
        X509_set_version(cert, X509_VERSION_3) && set_random_serial(cert) &&
        X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                   (const unsigned char *)spec->cn, -1, -1, 0) &&
        X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subject) &&
        X509_time_adj_ex(X509_getm_notBefore(cert), spec->from_days, 0, &now) != NULL &&
        X509_time_adj_ex(X509_getm_notAfter(cert), spec->to_days, 0, &now) != NULL &&
        X509_set_pubkey(cert, key);

    /* The subjectKeyIdentifier is a hash of the public key set above; the
     * authorityKeyIdentifier copies the issuer's, which for a self-signed
     * certificate is the one added just before it. */
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    X509V3_set_ctx_nodb(&ctx);
    ok = ok && add_ext(cert, &ctx, NID_basic_constraints, spec->basic_constraints) &&
         add_ext(cert, &ctx, NID_key_usage, spec->key_usage) &&
         add_ext(cert, &ctx, NID_ext_key_usage, spec->ext_key_usage) &&
         add_ext(cert, &ctx, NID_subject_alt_name, spec->san) &&
         add_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
         (issuer == NULL || add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always")) &&
         X509_sign(cert, issuer_key != NULL ? issuer_key : key, digest_md(digest));
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* ---- Files --------------------------------------------------------------------- */

/* Writes file `index` as `name` + `suffix` in the directory, with `cert`
 * (then `issuer`, unless NULL) or `key` in it. Keys get mode 0600. */
static bool write_pem(certs_t *c, int index, const char *name, const char *suffix, X509 *cert,
                      X509 *issuer, EVP_PKEY *key)
{
    char *path = c->paths[index];
    int n = snprintf(path, PATH_MAX, "%s/%s%s", c->dir, name, suffix);
    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        complain("%s/%s%s: %s", c->dir, name, suffix, strerror(errno));
        return false;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key != NULL ? 0600 : 0644);
    if (fd < 0) {
        complain("cannot create %s: %s", path, strerror(errno));
        return false;
    }
    c->written[index] = true;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        complain("fdopen %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    bool ok = cert != NULL
                  ? PEM_write_X509(f, cert) && (issuer == NULL || PEM_write_X509(f, issuer))
                  : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        complain("cannot write %s: %s", path, strerror(errno));
    return ok;
}

static void remove_files(certs_t *c)
{
    for (int i = 0; i < NUM_FILES; i++) {
        if (c->written[i] && unlink(c->paths[i]) != 0)
            complain("cannot remove %s: %s", c->paths[i], strerror(errno));
    }
    if (c->made_dir && rmdir(c->dir) != 0)
        complain("cannot remove %s: %s", c->dir, strerror(errno));
}

static bool make_dir(certs_t *c, const char *dir)
{
    int n;
    if (dir != NULL) {
        n = snprintf(c->dir, sizeof(c->dir), "%s", dir);
    } else {
        const char *base = getenv("TEST_TMPDIR");
        if (base == NULL || *base == '\0')
            base = "/tmp";
        n = snprintf(c->dir, sizeof(c->dir), "%s/tls_certs.XXXXXX", base);
    }
    if (n < 0 || (size_t)n >= sizeof(c->dir)) {
        errno = ENAMETOOLONG;
        complain("directory name too long");
        return false;
    }
    if (dir == NULL) {
        if (mkdtemp(c->dir) == NULL) {
            complain("mkdtemp %s: %s", c->dir, strerror(errno));
            return false;
        }
        c->made_dir = true;
    }
    return true;
}

/* ---- Making them all ------------------------------------------------------------ */

/* A CA: its key and certificate. */
typedef struct ca_s {
    EVP_PKEY *key;
    X509 *cert;
} ca_t;

/* A CA's key and its certificate, signed with `digest` by `issuer`, or
 * self-signed if issuer is NULL. */
static bool make_ca(const cert_spec_t *spec, key_kind_t key, const ca_t *issuer, digest_t digest,
                    time_t now, ca_t *out_ca)
{
    out_ca->key = new_key(key);
    out_ca->cert = out_ca->key != NULL
                       ? make_cert(spec, out_ca->key, issuer != NULL ? issuer->cert : NULL,
                                   issuer != NULL ? issuer->key : NULL, digest, now)
                       : NULL;
    if (out_ca->cert == NULL) {
        complain("cannot make the CA %s", spec->cn);
        return false;
    }
    return true;
}

static void free_ca(ca_t *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
}

/* Every CA: the roots (written to their files) and the intermediates. */
typedef struct cas_s {
    ca_t test, other;
    ca_t intermediates[NUM_INTERMEDIATES];
} cas_t;

static bool make_cas(certs_t *c, time_t now, cas_t *cas)
{
    bool ok = make_ca(&ca_spec, KEY_P256, NULL, DIGEST_SHA256, now, &cas->test) &&
              write_pem(c, FILE_CA, ca_spec.name, ".pem", cas->test.cert, NULL, NULL) &&
              make_ca(&other_ca_spec, KEY_P256, NULL, DIGEST_SHA256, now, &cas->other) &&
              write_pem(c, FILE_OTHER_CA, other_ca_spec.name, ".pem", cas->other.cert, NULL, NULL);
    for (int i = 0; ok && i < NUM_INTERMEDIATES; i++) {
        const struct intermediate_spec_s *spec = &intermediate_specs[i];
        ok = make_ca(&spec->cert, spec->key, &cas->test, spec->digest, now, &cas->intermediates[i]);
    }
    return ok;
}

static void free_cas(cas_t *cas)
{
    free_ca(&cas->test);
    free_ca(&cas->other);
    for (int i = 0; i < NUM_INTERMEDIATES; i++)
        free_ca(&cas->intermediates[i]);
}

/* The CA that signs `spec`'s leaf; NULL if it signs itself. */
static const ca_t *signer_of(const struct leaf_spec_s *spec, const cas_t *cas)
{
    switch (spec->signer) {
    case BY_TEST_CA:
        return &cas->test;
    case BY_OTHER_CA:
        return &cas->other;
    case BY_ITSELF:
        return NULL;
    default:
        return &cas->intermediates[spec->signer - BY_INTERMEDIATE];
    }
}

static bool make_leaf(certs_t *c, tls_cert_kind_t kind, const cas_t *cas, time_t now)
{
    const struct leaf_spec_s *spec = &leaf_specs[kind];
    const ca_t *signer = signer_of(spec, cas);
    /* A server sends the intermediate after its own certificate. */
    X509 *intermediate = spec->signer >= BY_INTERMEDIATE ? signer->cert : NULL;
    EVP_PKEY *key = new_key(spec->key);
    X509 *cert = NULL;
    if (key != NULL)
        cert = make_cert(&spec->cert, key, signer != NULL ? signer->cert : NULL,
                         signer != NULL ? signer->key : NULL, spec->digest, now);
    bool ok = cert != NULL;
    if (!ok)
        complain("cannot make the %s certificate", spec->cert.name);
    int index = FILE_FIRST_LEAF + 2 * (int)kind;
    ok = ok && write_pem(c, index, spec->cert.name, ".pem", cert, intermediate, NULL) &&
         write_pem(c, index + 1, spec->cert.name, ".key", NULL, NULL, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

tls_certs_t *tls_certs_make(const char *dir)
{
    certs_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        complain("out of memory");
        return NULL;
    }
    cas_t cas = {0};
    time_t now = time(NULL);
    bool ok = make_dir(c, dir) && make_cas(c, now, &cas);
    for (int kind = 0; ok && kind < TLS_CERT_NUM_KINDS; kind++)
        ok = make_leaf(c, (tls_cert_kind_t)kind, &cas, now);
    free_cas(&cas);
    if (!ok) {
        remove_files(c);
        free(c);
        return NULL;
    }

    c->pub.dir = c->dir;
    c->pub.ca_file = c->paths[FILE_CA];
    c->pub.other_ca_file = c->paths[FILE_OTHER_CA];
    for (int kind = 0; kind < TLS_CERT_NUM_KINDS; kind++) {
        c->pub.leaf[kind].cert_file = c->paths[FILE_FIRST_LEAF + 2 * kind];
        c->pub.leaf[kind].key_file = c->paths[FILE_FIRST_LEAF + 2 * kind + 1];
    }
    return &c->pub;
}

void tls_certs_free(tls_certs_t *certs)
{
    if (certs == NULL)
        return;
    certs_t *c = (certs_t *)((char *)certs - offsetof(certs_t, pub));
    remove_files(c);
    free(c);
}
