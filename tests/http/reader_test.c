/* The response reader on bytes from memory: the exact outcome of the cases
 * the fuzz targets found wrong once (bodies of 1xx, 204 and 304, status codes
 * below 100, a deflate body whose first piece is one byte). */
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

/* Feeds `len` bytes in pieces of `piece` bytes until the response completes;
 * returns the reader's result, *out_used the bytes the response took. */
static int read_in_pieces(reader_t *r, const char *bytes, size_t len, size_t piece,
                          size_t *out_used)
{
    reader_opts_t opts = default_opts();
    ASSERT_TRUE(gust__reader_start(r, &opts));
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

int main(void)
{
    test_no_body_statuses();
    test_status_below_100();
    test_deflate_in_single_bytes();
    test_deflate_of_one_byte();
    return 0;
}
