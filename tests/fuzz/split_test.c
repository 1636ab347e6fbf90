/* Byte boundaries: every response fixture below, and every response seed of
 * the fuzz corpus (the files named on the command line), read split at
 * each byte position and read one byte at a time, gives what it gives read
 * whole: the same status, headers and body, or the same error. Each fixture
 * also states what reading it whole must give, so a fixture cannot drift
 * into testing something else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gust/err.h"
#include "tests/fuzz/read.h"
#include "tests/support/check.h"

#define CHUNKED "Transfer-Encoding: chunked\r\n"

typedef struct fixture_s {
    const char *name;
    uint8_t flags; /* READ_* */
    const char *bytes;
    int err;
    int status;
    const char *body;
} fixture_t;

static const fixture_t fixtures[] = {
    /* Framing by Content-Length, chunks or the connection's end. */
    {"content-length", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 200, "hello"},
    {"content-length 0", 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, ""},
    {"bytes after the body", 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200", 0,
     200, "ok"},
    {"HTTP/1.0 with length", 0, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, 200, "abc"},
    {"close-delimited", 0, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", 0, 200,
     "to the end"},
    {"HTTP/1.0 close-delimited", 0, "HTTP/1.0 200 OK\r\n\r\nall of it", 0, 200, "all of it"},
    {"chunked", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0,
     200, "hello world"},
    {"chunked streamed", READ_STREAM,
     "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 0, 200, "abcdef"},
    {"chunk extensions", 0,
     "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n5;a=b;c\r\nhello\r\n0;last=1\r\n\r\n", 0, 200, "hello"},
    {"chunk trailers", 0,
     "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n2\r\nhi\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", 0, 200, "hi"},
    {"uppercase chunk size", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\nA\r\n0123456789\r\n0\r\n\r\n", 0,
     200, "0123456789"},
    {"chunked, empty", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n0\r\n\r\n", 0, 200, ""},
    /* Responses without a body. */
    {"HEAD", READ_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, 200, ""},
    {"HEAD chunked", READ_HEAD, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n", 0, 200, ""},
    {"204", 0, "HTTP/1.1 204 No Content\r\n\r\n", 0, 204, ""},
    {"204 with a length", 0, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHELLO", 0, 204,
     ""},
    {"304 with a length", 0, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 0, 304, ""},
    {"304 chunked", 0, "HTTP/1.1 304 Not Modified\r\n" CHUNKED "\r\n", 0, 304, ""},
    /* Interim responses before the final one. */
    {"100-continue", 0,
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 200, "ok"},
    {"two interim", 0,
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
     0, 201, ""},
    {"interim with a length", 0,
     "HTTP/1.1 103 Early Hints\r\nContent-Length: 4\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
     "1\r\n\r\nx",
     0, 200, "x"},
    {"101 not asked for", 0, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
     GUST_ERR_PARSE, 0, NULL},
    /* Headers of odd shapes. */
    {"folded header", 0, "HTTP/1.1 200 OK\r\nX-F: one\r\n two\r\nContent-Length: 0\r\n\r\n", 0, 200,
     ""},
    {"no space, padding, empty", 0,
     "HTTP/1.1 200 OK\r\nX-A:a\r\nX-B:  \t b \t \r\nX-C:\r\nContent-Length: 1\r\n\r\nx", 0, 200,
     "x"},
    {"LF line ends", 0, "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 0, 200, "abc"},
    {"repeated header", 0,
     "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n", 0, 200,
     ""},
    {"empty reason", 0, "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 0, 404, ""},
    {"long reason", 0, "HTTP/1.1 500 Something Went Quite Wrong Here\r\nContent-Length: 0\r\n\r\n",
     0, 500, ""},
    {"status 999", 0, "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", 0, 999, ""},
    {"obs-text value", 0, "HTTP/1.1 200 OK\r\nX-L: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", 0,
     200, ""},
    /* Errors. */
    {"status below 100", 0, "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", GUST_ERR_PARSE, 0,
     NULL},
    {"Content-Length and chunked", 0,
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" CHUNKED "\r\n5\r\nhello\r\n0\r\n\r\n",
     GUST_ERR_PARSE, 0, NULL},
    {"two lengths", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
     GUST_ERR_PARSE, 0, NULL},
    {"bad length", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", GUST_ERR_PARSE, 0,
     NULL},
    {"bad chunk size", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\nzz\r\nhello\r\n0\r\n\r\n",
     GUST_ERR_PARSE, 200, NULL},
    {"chunk size overflow", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\nfffffffffffffffffff\r\n",
     GUST_ERR_PARSE, 200, NULL},
    {"not HTTP", 0, "SSH-2.0-OpenSSH\r\n", GUST_ERR_PARSE, 0, NULL},
    {"space in a header name", 0, "HTTP/1.1 200 OK\r\nX Y: 1\r\nContent-Length: 0\r\n\r\n", 0, 200,
     ""},
    {"control byte in a name", 0, "HTTP/1.1 200 OK\r\nX\x01Y: 1\r\nContent-Length: 0\r\n\r\n",
     GUST_ERR_PARSE, 0, NULL},
    {"cut in the head", 0, "HTTP/1.1 200 OK\r\nContent-Le", GUST_ERR_CONN_CLOSED, 0, NULL},
    {"cut in the body", 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
     GUST_ERR_CONN_CLOSED, 200, NULL},
    {"cut in a chunk", 0, "HTTP/1.1 200 OK\r\n" CHUNKED "\r\n10\r\nonly some", GUST_ERR_CONN_CLOSED,
     200, NULL},
    {"nothing", 0, "", GUST_ERR_CONN_CLOSED, 0, NULL},
    /* Caps. */
    {"too many headers", READ_SMALL_CAPS,
     "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nContent-Length: 0\r\n\r\n",
     GUST_ERR_TOO_MANY_HEADERS, 0, NULL},
    {"oversize header", READ_SMALL_CAPS,
     "HTTP/1.1 200 OK\r\nX-Long: "
     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
     "v"
     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
     "v"
     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n\r\n",
     GUST_ERR_HEADER_TOO_LARGE, 0, NULL},
    {"body over its cap", READ_SMALL_CAPS,
     "HTTP/1.1 200 OK\r\nContent-Length: 513\r\n\r\n"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
     GUST_ERR_BODY_TOO_LARGE, 200, NULL},
};

/* Compressed bodies, made at run time. */
typedef struct packed_fixture_s {
    const char *name;
    uint8_t flags;
    int window_bits; /* zlib's: gzip, zlib or raw deflate */
    const char *encoding;
    bool chunk_each_byte; /* one chunk per compressed byte, else Content-Length */
    size_t repeat;        /* the plain text this many times */
    int err;
} packed_fixture_t;

static const char PLAIN[] = "the quick brown fox jumps over the lazy dog\n";

static const packed_fixture_t packed_fixtures[] = {
    {"gzip", READ_DECOMPRESS, 15 + 16, "gzip", false, 3, 0},
    {"deflate (zlib)", READ_DECOMPRESS, 15, "deflate", false, 3, 0},
    {"deflate (raw)", READ_DECOMPRESS, -15, "deflate", false, 3, 0},
    {"deflate (zlib), a chunk per byte", READ_DECOMPRESS, 15, "deflate", true, 2, 0},
    {"gzip, a chunk per byte", READ_DECOMPRESS, 15 + 16, "gzip", true, 2, 0},
    {"gzip not decoded", 0, 15 + 16, "gzip", false, 1, 0},
    {"gzip over the decoded cap", READ_DECOMPRESS | READ_SMALL_CAPS, 15 + 16, "gzip", false, 100,
     GUST_ERR_DECODED_TOO_LARGE},
};

static char *pack(const packed_fixture_t *f, size_t *out_len, char **out_plain,
                  size_t *out_plain_len)
{
    size_t plain_len = f->repeat * (sizeof(PLAIN) - 1);
    char *plain = malloc(plain_len + 1);
    ASSERT_NOT_NULL(plain);
    for (size_t i = 0; i < f->repeat; i++)
        memcpy(plain + i * (sizeof(PLAIN) - 1), PLAIN, sizeof(PLAIN) - 1);
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, f->window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    unsigned char packed[4096];
    zs.next_in = (unsigned char *)plain;
    zs.avail_in = (uInt)plain_len;
    zs.next_out = packed;
    zs.avail_out = sizeof(packed);
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t packed_len = zs.total_out;
    deflateEnd(&zs);

    char *bytes = malloc(256 + packed_len * 8);
    ASSERT_NOT_NULL(bytes);
    size_t len = (size_t)sprintf(bytes, "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n", f->encoding);
    if (f->chunk_each_byte) {
        len += (size_t)sprintf(bytes + len, CHUNKED "\r\n");
        for (size_t i = 0; i < packed_len; i++) {
            len += (size_t)sprintf(bytes + len, "1\r\n");
            bytes[len++] = (char)packed[i];
            len += (size_t)sprintf(bytes + len, "\r\n");
        }
        len += (size_t)sprintf(bytes + len, "0\r\n\r\n");
    } else {
        len += (size_t)sprintf(bytes + len, "Content-Length: %zu\r\n\r\n", packed_len);
        memcpy(bytes + len, packed, packed_len);
        len += packed_len;
    }
    *out_len = len;
    *out_plain = plain;
    *out_plain_len = plain_len;
    return bytes;
}

/* Reads the bytes split at each position, then one byte at a time, and
 * checks each against the bytes read whole, which it returns. */
static void check_every_split(uint8_t flags, const char *bytes, size_t len, read_result_t *whole)
{
    reader_opts_t opts = read_options(flags);
    bool stream = (flags & READ_STREAM) != 0;
    read_response(&opts, false, bytes, len, NULL, 0, whole);
    char what[64];
    for (size_t cut = 0; cut <= len; cut++) {
        read_result_t split;
        read_response(&opts, stream, bytes, len, &cut, 1, &split);
        snprintf(what, sizeof(what), "split at %zu", cut);
        check_split(whole, &split, what);
        read_result_clear(&split);
    }
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    ASSERT_NOT_NULL(cuts);
    for (size_t i = 0; i <= len; i++)
        cuts[i] = i;
    read_result_t bytewise;
    read_response(&opts, stream, bytes, len, cuts, len + 1, &bytewise);
    check_split(whole, &bytewise, "one byte at a time");
    read_result_clear(&bytewise);
    free(cuts);
}

static void check_outcome(const char *name, const read_result_t *r, int err, int status,
                          const char *body, size_t body_len)
{
    bool body_differs = body != NULL && (r->body_len != body_len ||
                                         (body_len > 0 && memcmp(r->body, body, body_len) != 0));
    if (r->err != err || r->status != status || body_differs)
        CHECK_FAIL_("%s: got %s, status %d, %zu body bytes; want %s, status %d", name,
                    r->err != 0 ? gust_err_name(r->err) : "a response", r->status, r->body_len,
                    err != 0 ? gust_err_name(err) : "a response", status);
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    static char data[1 << 20];
    size_t len = fread(data, 1, sizeof(data), f);
    fclose(f);
    /* The seed's flags, then two bytes of response_fuzz's own. */
    size_t skip = len < 3 ? len : 3;
    read_result_t whole;
    check_every_split(len > 0 ? (uint8_t)data[0] : 0, data + skip, len - skip, &whole);
    read_result_clear(&whole);
}

int main(int argc, char **argv)
{
    size_t num = 0;
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++, num++) {
        const fixture_t *f = &fixtures[i];
        read_result_t whole;
        check_every_split(f->flags, f->bytes, strlen(f->bytes), &whole);
        check_outcome(f->name, &whole, f->err, f->status, f->body,
                      f->body != NULL ? strlen(f->body) : 0);
        read_result_clear(&whole);
    }
    for (size_t i = 0; i < sizeof(packed_fixtures) / sizeof(packed_fixtures[0]); i++, num++) {
        const packed_fixture_t *f = &packed_fixtures[i];
        size_t len, plain_len;
        char *plain;
        char *bytes = pack(f, &len, &plain, &plain_len);
        read_result_t whole;
        check_every_split(f->flags, bytes, len, &whole);
        bool decoded = (f->flags & READ_DECOMPRESS) != 0;
        check_outcome(f->name, &whole, f->err, 200, f->err == 0 && decoded ? plain : NULL,
                      plain_len);
        free(bytes);
        free(plain);
        read_result_clear(&whole);
    }
    for (int i = 1; i < argc; i++, num++)
        run_file(argv[i]);
    printf("%zu responses read whole, split at every byte and byte by byte\n", num);
    return 0;
}
