/* Content-Encoding gzip and deflate through zlib, streamed, with a cap on
 * the decoded size so a small compressed body cannot expand without bound
 * (a decompression bomb stops at the cap, not at the end of memory). */
#include <string.h>
#include <strings.h>

#include "http/internal.h"
#include "runtime/err.h"

bool gust__decoder_init(decoder_t *d, const char *encoding)
{
    memset(d, 0, sizeof(*d));
    if (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0)
        d->deflate = false;
    else if (strcasecmp(encoding, "deflate") == 0)
        d->deflate = true;
    else
        return false;
    return true;
}

/* "deflate" should be a zlib stream (RFC 9110), but some servers send raw
 * deflate: a zlib header is two bytes whose big-endian value is a multiple
 * of 31 with method 8. `head` holds the stream's first two bytes. */
static int window_bits(const decoder_t *d, const unsigned char head[2])
{
    if (!d->deflate)
        return 15 + 16;
    if ((head[0] & 0x0f) == 8 && ((head[0] << 8) | head[1]) % 31 == 0)
        return 15;
    return -15;
}

/* Inflates `len` bytes, emitting what comes out. */
static int inflate_some(decoder_t *d, const unsigned char *in, size_t len, size_t cap,
                        int (*emit)(void *arg, const void *out, size_t n), void *arg)
{
    if (d->finished)
        return GUST_ERR_DECODE; /* bytes after the end of the stream */
    unsigned char out[16384];
    d->zs.next_in = (unsigned char *)in;
    d->zs.avail_in = (uInt)len;
    /* Go on while input remains or the last round filled `out`: zlib may
     * hold decoded bytes after it has taken all the input. */
    do {
        d->zs.next_out = out;
        d->zs.avail_out = sizeof(out);
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        /* What zlib made before an error counts against the cap first, so
         * the error is the same wherever the input was split. */
        size_t n = sizeof(out) - d->zs.avail_out;
        d->decoded += n;
        if (cap != 0 && d->decoded > cap)
            return GUST_ERR_DECODED_TOO_LARGE;
        if (rc == Z_STREAM_END)
            d->finished = true;
        else if (rc == Z_MEM_ERROR)
            return GUST_ERR_NOMEM;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return GUST_ERR_DECODE;
        if (n == 0 && rc == Z_BUF_ERROR)
            break; /* needs more input */
        int err = n > 0 ? emit(arg, out, n) : 0;
        if (err != 0)
            return err;
    } while (!d->finished && (d->zs.avail_in > 0 || d->zs.avail_out == 0));
    if (d->finished && d->zs.avail_in > 0)
        return GUST_ERR_DECODE;
    return 0;
}

int gust__decoder_feed(decoder_t *d, const void *in, size_t len, size_t cap,
                       int (*emit)(void *arg, const void *out, size_t n), void *arg)
{
    const unsigned char *bytes = in;
    if (len == 0)
        return 0;
    if (!d->started) {
        /* zlib or raw deflate is told by two bytes, which may come apart. */
        if (d->deflate && !d->have_first && len == 1) {
            d->first = bytes[0];
            d->have_first = true;
            return 0;
        }
        unsigned char head[2] = {bytes[0], len > 1 ? bytes[1] : 0};
        if (d->have_first) {
            head[1] = head[0];
            head[0] = d->first;
        }
        if (inflateInit2(&d->zs, window_bits(d, head)) != Z_OK)
            return GUST_ERR_NOMEM;
        d->started = true;
        if (d->have_first) {
            int err = inflate_some(d, &d->first, 1, cap, emit, arg);
            if (err != 0)
                return err;
        }
    }
    return inflate_some(d, bytes, len, cap, emit, arg);
}

int gust__decoder_finish(const decoder_t *d)
{
    bool begun = d->started || d->have_first;
    return begun && !d->finished ? GUST_ERR_DECODE : 0;
}

void gust__decoder_clear(decoder_t *d)
{
    if (d->started)
        inflateEnd(&d->zs);
    memset(d, 0, sizeof(*d));
}
