/* The system libraries behind gust's Bazel targets: BoringSSL (not OpenSSL),
 * http-parser 2.9, liburcu's memb flavor and lock-free hash table, zlib. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <http_parser.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>
#include <zlib.h>

#include "tests/support/check.h"

#ifndef OPENSSL_IS_BORINGSSL
#error "<openssl/ssl.h> is not BoringSSL's header: OpenSSL's headers are on the include path"
#endif

static void boringssl_is_linked(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    ASSERT_NOT_NULL(ctx);
    SSL_CTX_free(ctx);
    /* BoringSSL reports itself as OpenSSL 1.1.1 for compatibility. */
    ASSERT_STR_EQ(OpenSSL_version(OPENSSL_VERSION), "BoringSSL");
}

static void http_parser_is_2_9(void)
{
    unsigned long version = http_parser_version();
    ASSERT_UEQ((version >> 16) & 255, 2);
    ASSERT_UEQ((version >> 8) & 255, 9);
    struct http_parser_url url;
    http_parser_url_init(&url);
    const char *text = "http://127.0.0.1:8080/a?b";
    ASSERT_EQ(http_parser_parse_url(text, strlen(text), 0, &url), 0);
    ASSERT_UEQ(url.port, 8080);
}

static void urcu_memb_and_lfht_link(void)
{
    urcu_memb_register_thread();
    struct cds_lfht *table = cds_lfht_new_flavor(16, 16, 0, CDS_LFHT_AUTO_RESIZE, &urcu_memb_flavor,
                                                 NULL);
    ASSERT_NOT_NULL(table);
    urcu_memb_read_lock();
    unsigned long count;
    long split_before, split_after;
    cds_lfht_count_nodes(table, &split_before, &count, &split_after);
    urcu_memb_read_unlock();
    ASSERT_UEQ(count, 0);
    ASSERT_EQ(cds_lfht_destroy(table, NULL), 0);
    urcu_memb_unregister_thread();
}

static void zlib_round_trips(void)
{
    const char text[] = "gust gust gust gust gust gust gust gust";
    unsigned char packed[128], unpacked[128];
    uLongf packed_len = sizeof(packed), unpacked_len = sizeof(unpacked);
    ASSERT_EQ(compress(packed, &packed_len, (const Bytef *)text, sizeof(text)), Z_OK);
    ASSERT_EQ(uncompress(unpacked, &unpacked_len, packed, packed_len), Z_OK);
    ASSERT_UEQ(unpacked_len, sizeof(text));
    ASSERT_STR_EQ((const char *)unpacked, text);
}

int main(void)
{
    boringssl_is_linked();
    http_parser_is_2_9();
    urcu_memb_and_lfht_link();
    zlib_round_trips();
    return 0;
}
