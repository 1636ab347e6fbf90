/* The response reader on bytes from memory: the exact outcome of the cases
 * the fuzz targets found wrong once (bodies of 1xx, 204 and 304, status codes
 * below 100, a deflate body whose first piece is one byte, errors that
 * depended on where the bytes were split), and the response's own storage
 * (headers past the inline ones, a body sized from Content-Length). */
#include <string.h>
#include <zlib.h>

#include "gust/err.h"
#include "tests/fuzz/read.h"
#include "tests/support/check.h"

static reader_opts_t default_opts(void)
{
    reader_opts_t opts = {.max_header_bytes = 8192, .max_headers = 100, .decompress = true};
    return opts;
}

/* Reads `len` bytes with the default options, whole. */
static void read_whole(const char *bytes, size_t len, read_result_t *out)
{
    reader_opts_t opts = default_opts();
    read_response(&opts, false, bytes, len, NULL, 0, out);
}

/* The error of reading `len` bytes with `opts`, whole (cut 0) or in two
 * pieces split at `cut`. */
static int error_of(const reader_opts_t *opts, const char *bytes, size_t len, size_t cut)
{
    read_result_t r;
    read_response(opts, false, bytes, len, &cut, cut != 0 ? 1 : 0, &r);
    int err = r.err;
    read_result_clear(&r);
    return err;
}

/* Reads `text` whole and checks status, body and where the response ended. */
static void check_response(const char *text, int status, const char *body, size_t end)
{
    read_result_t r;
    read_whole(text, strlen(text), &r);
    ASSERT_EQ(r.err, 0);
    ASSERT_UEQ(r.used, end);
    ASSERT_EQ(r.status, status);
    ASSERT_UEQ(r.body_len, strlen(body));
    ASSERT_TRUE(r.body_len == 0 || memcmp(r.body, body, r.body_len) == 0);
    read_result_clear(&r);
}

static void test_no_body_statuses(void)
{
    /* The Content-Length of a 304 is the representation's, not a body. */
    const char *not_modified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    check_response(not_modified, 304, "", strlen(not_modified));
    /* Bytes after a 204's head belong to the next response. */
    const char *head = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    char no_content[128];
    snprintf(no_content, sizeof(no_content), "%sHELLO", head);
    check_response(no_content, 204, "", strlen(head));
    /* An interim answer's Content-Length does not eat the final head. */
    check_response("HTTP/1.1 103 Early Hints\r\nContent-Length: 4\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                   200, "ok", 87);
}

static void test_status_below_100(void)
{
    const char *text = "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n";
    read_result_t r;
    read_whole(text, strlen(text), &r);
    ASSERT_EQ(r.err, GUST_ERR_PARSE);
    ASSERT_STR_EQ(r.why, "status code below 100");
    read_result_clear(&r);
}

/* A deflate (zlib) body fed one byte at a time decodes as it does whole:
 * zlib or raw is told by two bytes that arrive apart. */
static void test_deflate_in_single_bytes(void)
{
    const char *plain = "hello, deflate in single bytes";
    unsigned char packed[128];
    uLongf packed_len = sizeof(packed);
    ASSERT_EQ(compress(packed, &packed_len, (const Bytef *)plain, strlen(plain)), Z_OK);
    char text[512];
    int head =
        snprintf(text, sizeof(text),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %lu\r\n\r\n",
                 (unsigned long)packed_len);
    memcpy(text + head, packed, packed_len);
    size_t len = (size_t)head + packed_len;
    size_t cuts[sizeof(text)];
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    reader_opts_t opts = default_opts();
    read_result_t r;
    read_response(&opts, false, text, len, cuts, len - 1, &r);
    ASSERT_EQ(r.err, 0);
    ASSERT_UEQ(r.used, len);
    ASSERT_UEQ(r.body_len, strlen(plain));
    ASSERT_EQ(memcmp(r.body, plain, r.body_len), 0);
    read_result_clear(&r);
}

/* One byte cannot be a whole deflate stream. */
static void test_deflate_of_one_byte(void)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 1\r\n\r\nx";
    reader_opts_t opts = default_opts();
    ASSERT_EQ(error_of(&opts, text, strlen(text), 0), GUST_ERR_DECODE);
}

/* A body over its cap that is also undecodable fails as undecodable,
 * however it was split: the part below the cap is read first. */
static void test_body_cap_after_decoding(void)
{
    char text[1024];
    int head =
        snprintf(text, sizeof(text),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 600\r\n\r\n");
    memset(text + head, 0xff, 600);
    size_t len = (size_t)head + 600;
    reader_opts_t opts = default_opts();
    opts.max_body_bytes = 512;
    ASSERT_EQ(error_of(&opts, text, len, 0), GUST_ERR_DECODE);
    ASSERT_EQ(error_of(&opts, text, len, (size_t)head + 10), GUST_ERR_DECODE);
}

/* Output zlib made before a data error counts against the decoded cap, so
 * the error does not depend on where the input was split. */
static void test_decoded_cap_before_data_error(void)
{
    char plain[300];
    memset(plain, 'a', sizeof(plain));
    unsigned char packed[64];
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)plain;
    zs.avail_in = sizeof(plain);
    zs.next_out = packed;
    zs.avail_out = sizeof(packed);
    ASSERT_EQ(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    size_t packed_len = sizeof(packed) - zs.avail_out;
    deflateEnd(&zs);
    char text[512];
    int head =
        snprintf(text, sizeof(text),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n",
                 packed_len + 4);
    memcpy(text + head, packed, packed_len);
    memset(text + head + packed_len, 0xff, 4);
    size_t len = (size_t)head + packed_len + 4;
    reader_opts_t opts = default_opts();
    opts.max_decoded_bytes = 256;
    ASSERT_EQ(error_of(&opts, text, len, 0), GUST_ERR_DECODED_TOO_LARGE);
    ASSERT_EQ(error_of(&opts, text, len, (size_t)head + packed_len), GUST_ERR_DECODED_TOO_LARGE);
}

/* `len` bytes compressed by zlib in the format window_bits picks, into
 * `out` (which has room for them). Returns the compressed length. */
static size_t compress_into(int window_bits, const void *in, size_t len, void *out, size_t cap)
{
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t packed_len = zs.total_out;
    deflateEnd(&zs);
    return packed_len;
}

/* "deflate, gzip" whose deflate stream is thousands of empty stored blocks:
 * the gzip stage makes 10 KB that the deflate stage turns into nothing.
 * The decoded cap bounds every stage, so the outer one cannot spin the
 * inner through any amount of input; without a cap the body is empty. */
static void test_decoded_cap_bounds_every_stage(void)
{
    enum { BLOCKS = 2000 };
    static unsigned char inner[2 + 5 * BLOCKS + 5 + 4];
    size_t inner_len = 0;
    inner[inner_len++] = 0x78; /* a zlib header */
    inner[inner_len++] = 0x01;
    for (int i = 0; i <= BLOCKS; i++) {
        /* A stored block of no bytes, the last one final. */
        const unsigned char block[5] = {i == BLOCKS ? 1 : 0, 0, 0, 0xff, 0xff};
        memcpy(inner + inner_len, block, sizeof(block));
        inner_len += sizeof(block);
    }
    const unsigned char adler_of_nothing[4] = {0, 0, 0, 1};
    memcpy(inner + inner_len, adler_of_nothing, 4);
    inner_len += 4;

    static char text[1024 + sizeof(inner)];
    int head = snprintf(text, sizeof(text),
                        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate, gzip\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
    unsigned char outer[sizeof(inner)];
    size_t outer_len = compress_into(15 + 16, inner, inner_len, outer, sizeof(outer));
    size_t len = (size_t)head;
    len += (size_t)snprintf(text + len, sizeof(text) - len, "%zx\r\n", outer_len);
    memcpy(text + len, outer, outer_len);
    len += outer_len;
    len += (size_t)snprintf(text + len, sizeof(text) - len, "\r\n0\r\n\r\n");

    reader_opts_t opts = default_opts();
    read_result_t r;
    read_response(&opts, false, text, len, NULL, 0, &r);
    ASSERT_EQ(r.err, 0);
    ASSERT_UEQ(r.body_len, 0);
    read_result_clear(&r);
    opts.max_decoded_bytes = 1024;
    ASSERT_EQ(error_of(&opts, text, len, 0), GUST_ERR_DECODED_TOO_LARGE);
}

/* More headers than the response keeps inline (16), a reason, and a body
 * whose Content-Length sets its room aside: each read back exactly, whole
 * and one byte at a time. */
static void test_many_headers_and_reserved_body(void)
{
    enum { NUM = 40, BODY = 3000 };
    char text[4096 + BODY];
    char expected_head[2048];
    size_t len = (size_t)snprintf(text, sizeof(text), "HTTP/1.1 200 Very Fine\r\n");
    size_t head_len = (size_t)snprintf(expected_head, sizeof(expected_head), "Very Fine") + 1;
    for (int i = 0; i < NUM; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "X-H%d: v%d\r\n", i, i);
        head_len += (size_t)snprintf(expected_head + head_len, sizeof(expected_head) - head_len,
                                     "X-H%d: v%d", i, i) +
                    1;
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len, "Content-Length: %d\r\n\r\n", BODY);
    head_len += (size_t)snprintf(expected_head + head_len, sizeof(expected_head) - head_len,
                                 "Content-Length: %d", BODY) +
                1;
    size_t body_at = len;
    for (int i = 0; i < BODY; i++)
        text[len++] = (char)('a' + i % 26);

    size_t cuts[sizeof(text)];
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    reader_opts_t opts = default_opts();
    for (int split = 0; split < 2; split++) {
        read_result_t r;
        read_response(&opts, false, text, len, cuts, split ? len - 1 : 0, &r);
        ASSERT_EQ(r.err, 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_UEQ(r.num_headers, NUM + 1);
        ASSERT_UEQ(r.head_len, head_len);
        ASSERT_EQ(memcmp(r.head, expected_head, head_len), 0);
        ASSERT_UEQ(r.body_len, BODY);
        ASSERT_EQ(memcmp(r.body, text + body_at, BODY), 0);
        read_result_clear(&r);
    }
}

int main(void)
{
    test_no_body_statuses();
    test_status_below_100();
    test_deflate_in_single_bytes();
    test_deflate_of_one_byte();
    test_body_cap_after_decoding();
    test_decoded_cap_before_data_error();
    test_decoded_cap_bounds_every_stage();
    test_many_headers_and_reserved_body();
    return 0;
}
