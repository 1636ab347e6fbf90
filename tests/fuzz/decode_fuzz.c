/* gzip and deflate decoding (http/decode.c) with its cap, one coding or
 * several stacked.
 *
 * Input: a mode byte (gzip, zlib-wrapped or raw deflate; the rest of the
 * input taken as it is or first compressed by zlib; a small cap or none),
 * two bytes that pick a split, a stacking byte (how many more codings go
 * on top of the first, gzip or deflate each, identity named among them or
 * not, the list in one Content-Encoding value or one a coding), then the
 * bytes. The invariants:
 * - the decoded bytes never pass the cap, and a decoder that succeeds
 *   counts what it emitted;
 * - fed in two pieces split at the chosen position (a piece may be one
 *   byte), the bytes give the same output and the same error as whole;
 * - more than GUST_MAX_CODINGS codings fail with GUST_ERR_DECODE;
 * - what zlib compressed (once a coding) decodes to exactly the original,
 *   or stops with GUST_ERR_DECODED_TOO_LARGE if the original or a stage's
 *   output on the way is larger than the cap;
 * - anything else decodes or fails with GUST_ERR_DECODE, never crashes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gust/err.h"
#include "http/internal.h"
#include "tests/fuzz/input.h"
#include "tests/support/check.h"

enum {
    MODE_COMPRESS = 4,
    MODE_SMALL_CAP = 8,
};

/* The stacking byte: bits 0-2 the number of codings on top of the first;
 * bits 3-5 whether each of the first three of them is deflate (else gzip,
 * as are any after); then identity named before each coding, and each
 * coding in a value of its own. */
enum {
    STACK_COUNT = 7,
    STACK_DEFLATE_SHIFT = 3,
    STACK_IDENTITY = 0x40,
    STACK_LINES = 0x80,
    MAX_STACK = 1 + STACK_COUNT,
};

/* The three ways a body is compressed: zlib's window bits for each, and
 * the Content-Encoding that announces it. */
static const struct {
    int window_bits;
    const char *encoding;
} formats[] = {
    {15 + 16, "gzip"}, {15, "deflate"}, {-15, "deflate"}, /* raw deflate, as some servers send */
};

typedef struct output_s {
    uint8_t *data;
    size_t len;
    size_t cap;
} output_t;

static int collect(void *arg, const void *out, size_t n)
{
    output_t *o = arg;
    ASSERT_UGT(n, 0);
    o->len += n;
    if (o->cap != 0)
        ASSERT_ULE(o->len, o->cap);
    o->data = realloc(o->data, o->len);
    ASSERT_NOT_NULL(o->data);
    memcpy(o->data + o->len - n, out, n);
    return 0;
}

/* The codings applied, in order, and how the response names them. */
typedef struct codings_s {
    int window_bits[MAX_STACK];
    unsigned num;
    const char *values[2 * MAX_STACK]; /* Content-Encoding values, in order */
    unsigned num_values;
    char joined[2 * MAX_STACK * 16];
} codings_t;

static void name_codings(codings_t *c, const char *const *names, uint8_t stack)
{
    size_t at = 0;
    for (unsigned i = 0; i < c->num; i++) {
        const char *name = names[i];
        if ((stack & STACK_IDENTITY) != 0) {
            if ((stack & STACK_LINES) != 0)
                c->values[c->num_values++] = "identity";
            else
                at += (size_t)snprintf(c->joined + at, sizeof(c->joined) - at, "identity, ");
        }
        if ((stack & STACK_LINES) != 0)
            c->values[c->num_values++] = name;
        else
            at += (size_t)snprintf(c->joined + at, sizeof(c->joined) - at, "%s%s", name,
                                   i + 1 < c->num ? ",\t" : "");
    }
    if ((stack & STACK_LINES) == 0)
        c->values[c->num_values++] = c->joined;
}

/* Decodes in[0, len) fed in two pieces split at `cut`; returns the error
 * of the feeds or of the end. */
static int decode(const codings_t *c, const uint8_t *in, size_t len, size_t cut, size_t cap,
                  output_t *out)
{
    memset(out, 0, sizeof(*out));
    out->cap = cap;
    decoder_t d;
    gust__decoder_init(&d);
    for (unsigned i = 0; i < c->num_values; i++)
        gust__decoder_add(&d, c->values[i]);
    int err = gust__decoder_feed(&d, in, cut, cap, collect, out);
    if (err == 0)
        err = gust__decoder_feed(&d, in + cut, len - cut, cap, collect, out);
    if (err == 0)
        err = gust__decoder_finish(&d);
    if (err == 0)
        ASSERT_UEQ(d.decoded, out->len);
    gust__decoder_clear(&d);
    return err;
}

/* `plain` compressed by zlib in the given format. */
static uint8_t *compress_with(int window_bits, int level, const uint8_t *plain, size_t len,
                              size_t *out_len)
{
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, len);
    uint8_t *packed = malloc(cap);
    ASSERT_NOT_NULL(packed);
    zs.next_in = (uint8_t *)plain;
    zs.avail_in = (uInt)len;
    zs.next_out = packed;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return packed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, size};
    uint8_t mode = take_byte(&in);
    uint16_t cut_seed = take_u16(&in);
    uint8_t stack = take_byte(&in);
    int format = (mode & 3) % 3;
    size_t cap = (mode & MODE_SMALL_CAP) != 0 ? 256 : 0;

    codings_t codings = {.num = 1 + (stack & STACK_COUNT)};
    const char *names[MAX_STACK];
    codings.window_bits[0] = formats[format].window_bits;
    names[0] = formats[format].encoding;
    for (unsigned i = 1; i < codings.num; i++) {
        bool deflate = i <= 3 && (stack >> (STACK_DEFLATE_SHIFT + i - 1) & 1) != 0;
        codings.window_bits[i] = deflate ? 15 : 15 + 16;
        names[i] = deflate ? "deflate" : "gzip";
    }
    name_codings(&codings, names, stack);

    const uint8_t *bytes = in.data;
    size_t len = in.len;
    uint8_t *packed = NULL;
    /* The largest output of a stage: every layer but the outermost. */
    size_t largest_stage = in.len;
    if ((mode & MODE_COMPRESS) != 0) {
        int level = (mode >> 4) % 10;
        for (unsigned i = 0; i < codings.num; i++) {
            if (len > largest_stage)
                largest_stage = len;
            uint8_t *layer = compress_with(codings.window_bits[i], level, bytes, len, &len);
            free(packed);
            packed = layer;
            bytes = packed;
        }
    }
    size_t cut = cut_seed % (len + 1);

    output_t whole, split;
    int whole_err = decode(&codings, bytes, len, len, cap, &whole);
    int split_err = decode(&codings, bytes, len, cut, cap, &split);
    ASSERT_EQ(split_err, whole_err);
    if (whole_err == 0) {
        ASSERT_UEQ(split.len, whole.len);
        ASSERT_TRUE(whole.len == 0 || memcmp(split.data, whole.data, whole.len) == 0);
    }
    if (codings.num > GUST_MAX_CODINGS) {
        ASSERT_EQ(whole_err, len > 0 ? GUST_ERR_DECODE : 0);
    } else if (packed != NULL) {
        bool fits = cap == 0 || largest_stage <= cap;
        ASSERT_EQ(whole_err, fits ? 0 : GUST_ERR_DECODED_TOO_LARGE);
        if (fits) {
            ASSERT_UEQ(whole.len, in.len);
            ASSERT_TRUE(in.len == 0 || memcmp(whole.data, in.data, in.len) == 0);
        }
    } else {
        ASSERT_TRUE(whole_err == 0 || whole_err == GUST_ERR_DECODE ||
                    whole_err == GUST_ERR_DECODED_TOO_LARGE);
    }
    free(whole.data);
    free(split.data);
    free(packed);
    return 0;
}
