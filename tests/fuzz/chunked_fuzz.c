/* Chunked framing through the reader, against a reference decoder.
 *
 * Input: a flags byte (a small body cap or none), two bytes that pick a
 * split, then the bytes after a "Transfer-Encoding: chunked" head. The
 * reference below decodes the chunked grammar as the system's http-parser
 * 2.9.4 reads it; the reader must agree with it on the body, where the
 * response ends, and whether the framing is complete, cut short or bad.
 * Split at the chosen position, the bytes must give the same result.
 *
 * Debian builds http-parser without HTTP_PARSER_STRICT, and the reference
 * follows that build where it is more lenient than RFC 9112 (each place is
 * marked "non-strict"); one more place follows a documented http-parser bug
 * ("quirk"). Trailer fields are modelled only in their plain form (a token,
 * ':', a value, CRLF); other trailer bytes leave the reference unsure, and
 * then only the body is compared. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "http/internal.h"
#include "tests/fuzz/grammar.h"
#include "tests/fuzz/input.h"
#include "tests/fuzz/read.h"
#include "tests/support/check.h"

static const char HEAD[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

typedef enum ref_state_e {
    REF_COMPLETE,   /* the framing ended at `used` */
    REF_INCOMPLETE, /* the input ended inside it */
    REF_BAD,        /* a byte no chunked body may have */
    REF_UNSURE,     /* trailers beyond what the reference models */
} ref_state_t;

typedef struct ref_s {
    ref_state_t state;
    size_t used;
    uint8_t *body; /* the chunk data (the input's length at most) */
    size_t body_len;
} ref_t;

/* A chunk-size digit's value, or -1. Quirk: http-parser's hex table maps
 * every byte from 0x80 up to 0, so such a byte reads as the digit 0. */
static int hex_digit(uint8_t c)
{
    if (c >= 0x80)
        return 0;
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The trailer section from in[at]: plain fields, then the empty line. */
static ref_state_t trailers(const uint8_t *in, size_t len, size_t at, size_t *out_used)
{
    /* http-parser's own 80 KiB header limit counts trailers too. */
    if (len - at > 64 * 1024)
        return REF_UNSURE;
    for (;;) {
        if (at == len)
            return REF_INCOMPLETE;
        /* The empty line. Non-strict: LF alone, or CR and any byte. */
        if (in[at] == '\n' || in[at] == '\r') {
            if (in[at] == '\r' && ++at == len)
                return REF_INCOMPLETE;
            *out_used = at + 1;
            return REF_COMPLETE;
        }
        size_t name = at;
        while (at < len && is_tchar(in[at]))
            at++;
        if (at == len)
            return REF_INCOMPLETE;
        size_t name_len = at - name;
        /* http-parser checks these names' values even in trailers. */
        if (in[at] != ':' || name_len == 0 ||
            (name_len >= 14 && strncasecmp((const char *)in + name, "content-length", 14) == 0) ||
            (name_len >= 17 && strncasecmp((const char *)in + name, "transfer-encoding", 17) == 0))
            return REF_UNSURE;
        at++;
        while (at < len && is_value_byte(in[at]))
            at++;
        if (at + 2 > len)
            return at == len || in[at] == '\r' ? REF_INCOMPLETE : REF_UNSURE;
        if (in[at] != '\r' || in[at + 1] != '\n')
            return REF_UNSURE;
        at += 2;
    }
}

static void reference(const uint8_t *in, size_t len, ref_t *out)
{
    memset(out, 0, sizeof(*out));
    out->body = malloc(len > 0 ? len : 1);
    ASSERT_NOT_NULL(out->body);
    size_t at = 0;
    for (;;) {
        /* chunk-size: hex digits, at least one. */
        if (at == len)
            goto incomplete;
        if (hex_digit(in[at]) < 0)
            goto bad;
        uint64_t size = 0;
        for (; at < len && hex_digit(in[at]) >= 0; at++) {
            /* http-parser's overflow test, conservative as it is. */
            if ((UINT64_MAX - 16) / 16 < size)
                goto bad;
            size = size * 16 + (uint64_t)hex_digit(in[at]);
        }
        if (at == len)
            goto incomplete;
        /* chunk-ext: from ';' or a space, anything but CR (non-strict: the
         * grammar is not checked). */
        if (in[at] == ';' || in[at] == ' ') {
            while (at < len && in[at] != '\r')
                at++;
            if (at == len)
                goto incomplete;
        }
        if (in[at] != '\r')
            goto bad;
        /* Non-strict: any byte after the CR, not only LF. */
        at += 2;
        if (at > len)
            goto incomplete;
        if (size == 0) {
            out->state = trailers(in, len, at, &out->used);
            return;
        }
        size_t data = size < len - at ? (size_t)size : len - at;
        memcpy(out->body + out->body_len, in + at, data);
        out->body_len += data;
        at += data;
        /* Non-strict: any two bytes after the data, not only CRLF. */
        if (data < size || at + 2 > len)
            goto incomplete;
        at += 2;
    }
incomplete:
    out->state = REF_INCOMPLETE;
    return;
bad:
    out->state = REF_BAD;
}

static void check_against(const ref_t *ref, const reader_opts_t *opts, const read_result_t *r)
{
    size_t head_len = sizeof(HEAD) - 1;
    if (opts->max_body_bytes != 0 && ref->body_len > opts->max_body_bytes) {
        ASSERT_EQ(r->err, GUST_ERR_BODY_TOO_LARGE);
        return;
    }
    bool same_body = r->body_len == ref->body_len &&
                     (r->body_len == 0 || memcmp(r->body, ref->body, r->body_len) == 0);
    switch (ref->state) {
    case REF_COMPLETE:
        ASSERT_EQ(r->err, 0);
        ASSERT_UEQ(r->used, head_len + ref->used);
        ASSERT_TRUE(same_body);
        break;
    case REF_INCOMPLETE:
        ASSERT_EQ(r->err, GUST_ERR_CONN_CLOSED);
        break;
    case REF_BAD:
        ASSERT_EQ(r->err, GUST_ERR_PARSE);
        break;
    case REF_UNSURE:
        if (r->err == 0)
            ASSERT_TRUE(same_body);
        else
            ASSERT_TRUE(r->err == GUST_ERR_PARSE || r->err == GUST_ERR_HEADER_TOO_LARGE ||
                        r->err == GUST_ERR_CONN_CLOSED);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, size};
    bool small_cap = (take_byte(&in) & 1) != 0;
    uint16_t cut_seed = take_u16(&in);
    size_t head_len = sizeof(HEAD) - 1;
    size_t len = head_len + in.len;
    size_t cut = cut_seed % (len + 1);
    char *response = malloc(len);
    ASSERT_NOT_NULL(response);
    memcpy(response, HEAD, head_len);
    if (in.len > 0)
        memcpy(response + head_len, in.data, in.len);

    reader_opts_t opts = {
        .max_header_bytes = 80 * 1024,
        .max_headers = 100,
        .max_body_bytes = small_cap ? 64 : 0,
    };
    read_result_t whole, split;
    read_response(&opts, false, response, len, NULL, 0, &whole);
    read_response(&opts, true, response, len, &cut, 1, &split);
    ref_t ref;
    reference(in.data, in.len, &ref);
    char what[64];
    snprintf(what, sizeof(what), "split at %zu", cut);
    check_split(&whole, &split, what);
    check_against(&ref, &opts, &whole);
    free(ref.body);
    free(response);
    read_result_clear(&whole);
    read_result_clear(&split);
    return 0;
}
