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

#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
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

typedef enum signer_e { BY_TEST_CA, BY_OTHER_CA, BY_ITSELF } signer_t;

static const struct leaf_spec_s {
    cert_spec_t cert;
    signer_t signer;
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

/* Makes the certificate `spec` describes for `key`, signed by issuer_key in
 * the name of `issuer`, or self-signed when issuer is NULL. */
static X509 *make_cert(const cert_spec_t *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       time_t now)
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
         X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256());
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* ---- Files --------------------------------------------------------------------- */

/* Writes file `index` as `name` + `suffix` in the directory, with `cert` or
 * `key` in it. Keys get mode 0600. */
static bool write_pem(certs_t *c, int index, const char *name, const char *suffix, X509 *cert,
                      EVP_PKEY *key)
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
    bool ok = cert != NULL ? PEM_write_X509(f, cert)
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

/* A CA: its key and self-signed certificate, and ca_file written. */
typedef struct ca_s {
    EVP_PKEY *key;
    X509 *cert;
} ca_t;

static bool make_ca(certs_t *c, int index, const cert_spec_t *spec, time_t now, ca_t *out_ca)
{
    out_ca->key = new_p256_key();
    out_ca->cert = out_ca->key != NULL ? make_cert(spec, out_ca->key, NULL, NULL, now) : NULL;
    if (out_ca->cert == NULL) {
        complain("cannot make the CA %s", spec->cn);
        return false;
    }
    return write_pem(c, index, spec->name, ".pem", out_ca->cert, NULL);
}

static bool make_leaf(certs_t *c, tls_cert_kind_t kind, const ca_t *ca, const ca_t *other_ca,
                      time_t now)
{
    const struct leaf_spec_s *spec = &leaf_specs[kind];
    const ca_t *signer = spec->signer == BY_TEST_CA    ? ca
                         : spec->signer == BY_OTHER_CA ? other_ca
                                                       : NULL;
    EVP_PKEY *key = new_p256_key();
    X509 *cert = NULL;
    if (key != NULL)
        cert = make_cert(&spec->cert, key, signer != NULL ? signer->cert : NULL,
                         signer != NULL ? signer->key : NULL, now);
    bool ok = cert != NULL;
    if (!ok)
        complain("cannot make the %s certificate", spec->cert.name);
    int index = FILE_FIRST_LEAF + 2 * (int)kind;
    ok = ok && write_pem(c, index, spec->cert.name, ".pem", cert, NULL) &&
         write_pem(c, index + 1, spec->cert.name, ".key", NULL, key);
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
    ca_t ca = {0}, other_ca = {0};
    time_t now = time(NULL);
    bool ok = make_dir(c, dir) && make_ca(c, FILE_CA, &ca_spec, now, &ca) &&
              make_ca(c, FILE_OTHER_CA, &other_ca_spec, now, &other_ca);
    for (int kind = 0; ok && kind < TLS_CERT_NUM_KINDS; kind++)
        ok = make_leaf(c, (tls_cert_kind_t)kind, &ca, &other_ca, now);
    X509_free(ca.cert);
    EVP_PKEY_free(ca.key);
    X509_free(other_ca.cert);
    EVP_PKEY_free(other_ca.key);
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
