/* The response reader on bytes from memory: the exact outcome of the cases
 * the fuzz targets found wrong once (bodies of 1xx, 204 and 304, status codes
 * below 100, a deflate body whose first piece is one byte, errors that
 * depended on where the bytes were split). */
#include <string.h>
#include <zlib.h>

#include "http/internal.h"
#include "runtime/err.h"
#include "tests/support/check.h"

static reader_opts_t default_opts(void)
{
    reader_opts_t opts = {.max_header_bytes = 8192, .max_headers = 100, .decompress = true};
    return opts;
}

/* Feeds `len` bytes, with `opts`, in pieces of `piece` bytes until the
 * response completes; returns the reader's result, *out_used the bytes the
 * response took. */
static int read_with(reader_t *r, const reader_opts_t *opts, const char *bytes, size_t len,
                     size_t piece, size_t *out_used)
{
    ASSERT_TRUE(gust__reader_start(r, opts));
    size_t at = 0;
    while (at < len) {
        size_t n = len - at < piece ? len - at : piece;
        size_t used = 0;
        int err = gust__reader_feed(r, bytes + at, n, &used);
        if (err != 0)
            return err;
        at += used;
        if (r->complete)
            break;
    }
    *out_used = at;
    return r->complete ? 0 : gust__reader_end(r);
}

static int read_in_pieces(reader_t *r, const char *bytes, size_t len, size_t piece,
                          size_t *out_used)
{
    reader_opts_t opts = default_opts();
    return read_with(r, &opts, bytes, len, piece, out_used);
}

/* The error of reading `len` bytes with `opts`, whole or in `piece`s. */
static int error_of(const reader_opts_t *opts, const char *bytes, size_t len, size_t piece)
{
    reader_t r = {0};
    size_t used = 0;
    int err = read_with(&r, opts, bytes, len, piece, &used);
    gust__reader_clear(&r);
    return err;
}

/* Reads `text` whole and checks status, body and where the response ended. */
static void check_response(const char *text, int status, const char *body, size_t end)
{
    reader_t r = {0};
    size_t used = 0;
    ASSERT_EQ(read_in_pieces(&r, text, strlen(text), strlen(text), &used), 0);
    ASSERT_UEQ(used, end);
    gust_response_t *response = gust__reader_take(&r);
    ASSERT_EQ(gust_response_status(response), status);
    size_t body_len = 0;
    const void *got = gust_response_body(response, &body_len);
    ASSERT_UEQ(body_len, strlen(body));
    ASSERT_TRUE(body_len == 0 || memcmp(got, body, body_len) == 0);
    gust_response_free(response);
    gust__reader_clear(&r);
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
    reader_t r = {0};
    size_t used = 0;
    ASSERT_EQ(read_in_pieces(&r, text, strlen(text), strlen(text), &used), GUST_ERR_PARSE);
    ASSERT_STR_EQ(gust__reader_why(&r), "status code below 100");
    gust__reader_clear(&r);
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
    int head = snprintf(text, sizeof(text),
                        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %lu\r\n\r\n",
                        (unsigned long)packed_len);
    memcpy(text + head, packed, packed_len);
    size_t len = (size_t)head + packed_len;
    reader_t r = {0};
    size_t used = 0;
    ASSERT_EQ(read_in_pieces(&r, text, len, 1, &used), 0);
    ASSERT_UEQ(used, len);
    size_t body_len = 0;
    const char *body = gust_response_body(r.response, &body_len);
    ASSERT_UEQ(body_len, strlen(plain));
    ASSERT_EQ(memcmp(body, plain, body_len), 0);
    gust__reader_clear(&r);
}

/* One byte cannot be a whole deflate stream. */
static void test_deflate_of_one_byte(void)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 1\r\n\r\nx";
    reader_t r = {0};
    size_t used = 0;
    ASSERT_EQ(read_in_pieces(&r, text, strlen(text), strlen(text), &used), GUST_ERR_DECODE);
    gust__reader_clear(&r);
}

/* A body over its cap that is also undecodable fails as undecodable,
 * however it was split: the part below the cap is read first. */
static void test_body_cap_after_decoding(void)
{
    char text[1024];
    int head = snprintf(text, sizeof(text),
                        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 600\r\n\r\n");
    memset(text + head, 0xff, 600);
    size_t len = (size_t)head + 600;
    reader_opts_t opts = default_opts();
    opts.max_body_bytes = 512;
    ASSERT_EQ(error_of(&opts, text, len, len), GUST_ERR_DECODE);
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
    int head = snprintf(text, sizeof(text),
                        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n",
                        packed_len + 4);
    memcpy(text + head, packed, packed_len);
    memset(text + head + packed_len, 0xff, 4);
    size_t len = (size_t)head + packed_len + 4;
    reader_opts_t opts = default_opts();
    opts.max_decoded_bytes = 256;
    ASSERT_EQ(error_of(&opts, text, len, len), GUST_ERR_DECODED_TOO_LARGE);
    ASSERT_EQ(error_of(&opts, text, len, (size_t)head + packed_len), GUST_ERR_DECODED_TOO_LARGE);
}

int main(void)
{
    test_no_body_statuses();
    test_status_below_100();
    test_deflate_in_single_bytes();
    test_deflate_of_one_byte();
    test_body_cap_after_decoding();
    test_decoded_cap_before_data_error();
    return 0;
}
