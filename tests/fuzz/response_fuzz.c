/* Response parsing through the reader the connection uses (http/reader.c).
 *
 * Input: a flags byte (HEAD request, decompression, small caps, streamed
 * body), two bytes that pick where to split, then the bytes the server sent.
 * The invariants:
 * - split at that position, with the body streamed to a callback, the bytes
 *   give the same response or the same error as whole;
 * - a complete response has a final status (200-999), at most max_headers
 *   headers, at most max_header_bytes of head, no CR or LF in a name or
 *   value, a body within its cap, none for HEAD, 204 and 304, and exactly
 *   Content-Length bytes where that framed it;
 * - a bodyless response (HEAD, 204, 304) never waits for a body;
 * - errors are the reader's documented ones, never "out of memory". */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "http/internal.h"
#include "tests/fuzz/input.h"
#include "tests/fuzz/read.h"
#include "tests/support/check.h"

/* The value of the only Content-Length header if it is all digits and
 * nothing else frames the body, else -1. http-parser 2.9 takes any header
 * whose name starts with "Transfer-Encoding" ("Transfer-Encoding-X") as
 * Transfer-Encoding, so such a name counts as framing too (a documented
 * quirk of the system library, not of gust). */
static long long content_length_framing(const read_result_t *r)
{
    long long length = -1;
    const char *line = r->head + strlen(r->head) + 1; /* past the reason */
    for (size_t i = 0; i < r->num_headers; i++, line += strlen(line) + 1) {
        if (strncasecmp(line, "Transfer-Encoding", 17) == 0)
            return -1;
        if (strncasecmp(line, "Content-Length: ", 16) != 0)
            continue;
        const char *digits = line + 16;
        if (length >= 0 || *digits == '\0' || strspn(digits, "0123456789") != strlen(digits) ||
            strlen(digits) > 15)
            return -1;
        length = atoll(digits);
    }
    return length;
}

static bool is_bodyless(const reader_opts_t *opts, int status)
{
    return opts->head_request || status == 204 || status == 304;
}

static void check_complete(const reader_opts_t *opts, const read_result_t *r, size_t len)
{
    ASSERT_GE(r->status, 200);
    ASSERT_LE(r->status, 999);
    ASSERT_ULE(r->used, len);
    ASSERT_ULE(r->num_headers, opts->max_headers);
    size_t head_bytes = 0;
    for (size_t i = 0; i < r->head_len; i++) {
        ASSERT_TRUE(r->head[i] != '\r' && r->head[i] != '\n');
        head_bytes += r->head[i] != '\0';
    }
    /* Each header line holds ": " that is not part of its name or value. */
    ASSERT_ULE(head_bytes - 2 * r->num_headers, opts->max_header_bytes);
    if (is_bodyless(opts, r->status))
        ASSERT_UEQ(r->body_len, 0);
    size_t body_cap = opts->decompress ? opts->max_decoded_bytes : opts->max_body_bytes;
    if (body_cap != 0)
        ASSERT_ULE(r->body_len, body_cap);
    long long length = content_length_framing(r);
    if (length >= 0 && !opts->decompress && !is_bodyless(opts, r->status))
        ASSERT_UEQ(r->body_len, length);
}

static void check_failed(const reader_opts_t *opts, const read_result_t *r)
{
    static const int expected[] = {
        GUST_ERR_PARSE,          GUST_ERR_HEADER_TOO_LARGE, GUST_ERR_TOO_MANY_HEADERS,
        GUST_ERR_BODY_TOO_LARGE, GUST_ERR_DECODE,           GUST_ERR_DECODED_TOO_LARGE,
        GUST_ERR_CONN_CLOSED,
    };
    bool known = false;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        known |= r->err == expected[i];
    if (!known)
        CHECK_FAIL_("unexpected error %s", gust_err_name(r->err));
    /* Waiting for a body after a bodyless head: the connection would hang
     * until the server closed it. */
    if (r->err == GUST_ERR_CONN_CLOSED && r->status != 0)
        ASSERT_FALSE(is_bodyless(opts, r->status));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, size};
    uint8_t flags = take_byte(&in);
    uint16_t cut_seed = take_u16(&in);
    size_t cut = cut_seed % (in.len + 1);
    reader_opts_t opts = read_options(flags);

    read_result_t whole, split;
    read_response(&opts, false, in.data, in.len, NULL, 0, &whole);
    read_response(&opts, (flags & READ_STREAM) != 0, in.data, in.len, &cut, 1, &split);
    char what[64];
    snprintf(what, sizeof(what), "split at %zu", cut);
    check_split(&whole, &split, what);
    if (whole.err == 0)
        check_complete(&opts, &whole, in.len);
    else
        check_failed(&opts, &whole);
    read_result_clear(&whole);
    read_result_clear(&split);
    return 0;
}
