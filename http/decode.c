/* Content-Encoding gzip and deflate through zlib, streamed, with a cap on
 * the decoded size so a small compressed body cannot expand without bound
 * (a decompression bomb stops at the cap, not at the end of memory).
 *
 * A body may carry several codings ("gzip, gzip", or one Content-Encoding
 * header per coding): they are undone in the reverse order of their
 * application, each stage streaming its output into the next through a
 * buffer on the stack, so memory stays that of one zlib stream a stage
 * whatever the size. The cap bounds every stage's output, not only the
 * last: an outer stage that expands into empty deflate blocks would
 * otherwise spin the inner one through any amount of input while the
 * final output stays small. A coding gust cannot undo fails the body
 * rather than passing it on still coded. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "http/internal.h"

void gust__decoder_init(decoder_t *d)
{
    memset(d, 0, sizeof(*d));
}

/* Notes that the body cannot be decoded; the first reason stands. */
static void refuse(decoder_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(decoder_t *d, const char *fmt, ...)
{
    if (d->refused)
        return;
    d->refused = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

void gust__decoder_add(decoder_t *d, const char *value)
{
    /* A list of tokens separated by commas, with optional white space and
     * empty elements (RFC 9110 5.6.1). */
    const char *p = value;
    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        while (len > 0 && is_ows(start[len - 1]))
            len--;
        bool deflate = len == 7 && strncasecmp(start, "deflate", 7) == 0;
        bool gzip = (len == 4 && strncasecmp(start, "gzip", 4) == 0) ||
                    (len == 6 && strncasecmp(start, "x-gzip", 6) == 0);
        if (len == 8 && strncasecmp(start, "identity", 8) == 0)
            continue;
        if (!deflate && !gzip)
            refuse(d, "unsupported content coding: %.*s", len > 32 ? 32 : (int)len, start);
        else if (d->num_codings == GUST_MAX_CODINGS)
            refuse(d, "more than %d content codings", GUST_MAX_CODINGS);
        else
            d->deflate[d->num_codings++] = deflate;
    }
}

bool gust__decoder_active(const decoder_t *d)
{
    return d->num_codings > 0 || d->refused;
}

/* "deflate" should be a zlib stream (RFC 9110), but some servers send raw
 * deflate: a zlib header is two bytes whose big-endian value is a multiple
 * of 31 with method 8. `head` holds the stream's first two bytes. */
static int window_bits(const inflater_t *s, const unsigned char head[2])
{
    if (!s->deflate)
        return 15 + 16;
    if ((head[0] & 0x0f) == 8 && ((head[0] << 8) | head[1]) % 31 == 0)
        return 15;
    return -15;
}

/* Where a stage's output goes: the next stage, or the caller. */
typedef struct sink_s {
    decoder_t *d;
    unsigned next; /* the stage fed next; d->num_codings: the caller */
    size_t cap;
    int (*emit)(void *arg, const void *out, size_t n);
    void *arg;
} sink_t;

static int feed_stage(void *arg, const void *in, size_t len);

/* Inflates `len` bytes, passing what comes out to `sink`. */
static int inflate_some(inflater_t *s, const unsigned char *in, size_t len, const sink_t *sink)
{
    if (s->finished)
        return GUST_ERR_DECODE; /* bytes after the end of the stream */
    unsigned char out[16384];
    s->zs.next_in = (unsigned char *)in;
    s->zs.avail_in = (uInt)len;
    /* Go on while input remains or the last round filled `out`: zlib may
     * hold decoded bytes after it has taken all the input. */
    do {
        s->zs.next_out = out;
        s->zs.avail_out = sizeof(out);
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        /* What zlib made before an error, up to the cap, goes on before the
         * error is told: the cap is checked first and the next stage sees
         * the same bytes wherever the input was split, so the error is the
         * same too (the first the bytes in order run into). */
        size_t n = sizeof(out) - s->zs.avail_out;
        int err = 0;
        if (sink->cap != 0 && n > sink->cap - s->decoded) {
            n = sink->cap - s->decoded;
            err = GUST_ERR_DECODED_TOO_LARGE;
        } else if (rc == Z_STREAM_END) {
            s->finished = true;
        } else if (rc == Z_MEM_ERROR) {
            err = GUST_ERR_NOMEM;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            err = GUST_ERR_DECODE;
        }
        s->decoded += n;
        int passed = n > 0 ? feed_stage((void *)sink, out, n) : 0;
        if (passed != 0)
            return passed;
        if (err != 0)
            return err;
        if (n == 0 && rc == Z_BUF_ERROR)
            break; /* needs more input */
    } while (!s->finished && (s->zs.avail_in > 0 || s->zs.avail_out == 0));
    if (s->finished && s->zs.avail_in > 0)
        return GUST_ERR_DECODE;
    return 0;
}

/* Feeds bytes to the stage `sink` names, or hands them to the caller. */
static int feed_stage(void *arg, const void *in, size_t len)
{
    const sink_t *sink = arg;
    decoder_t *d = sink->d;
    if (sink->next == d->num_codings) {
        d->decoded += len;
        return sink->emit(sink->arg, in, len);
    }
    inflater_t *s = &d->stages[sink->next];
    sink_t after = *sink;
    after.next++;
    const unsigned char *bytes = in;
    if (!s->started) {
        /* zlib or raw deflate is told by two bytes, which may come apart. */
        if (s->deflate && !s->have_first && len == 1) {
            s->first = bytes[0];
            s->have_first = true;
            return 0;
        }
        unsigned char head[2] = {bytes[0], len > 1 ? bytes[1] : 0};
        if (s->have_first) {
            head[1] = head[0];
            head[0] = s->first;
        }
        if (inflateInit2(&s->zs, window_bits(s, head)) != Z_OK)
            return GUST_ERR_NOMEM;
        s->started = true;
        if (s->have_first) {
            int err = inflate_some(s, &s->first, 1, &after);
            if (err != 0)
                return err;
        }
    }
    return inflate_some(s, bytes, len, &after);
}

/* Sets up one stage per coding, the last applied first. */
static int make_stages(decoder_t *d)
{
    if (d->num_codings == 1) {
        d->stages = &d->one;
    } else {
        d->stages = calloc(d->num_codings, sizeof(*d->stages));
        if (d->stages == NULL)
            return GUST_ERR_NOMEM;
    }
    for (unsigned i = 0; i < d->num_codings; i++)
        d->stages[i].deflate = d->deflate[d->num_codings - 1 - i];
    return 0;
}

int gust__decoder_feed(decoder_t *d, const void *in, size_t len, size_t cap,
                       int (*emit)(void *arg, const void *out, size_t n), void *arg)
{
    if (len == 0)
        return 0;
    if (d->refused)
        return GUST_ERR_DECODE;
    if (d->stages == NULL) {
        int err = make_stages(d);
        if (err != 0)
            return err;
    }
    sink_t first = {.d = d, .next = 0, .cap = cap, .emit = emit, .arg = arg};
    return feed_stage(&first, in, len);
}

int gust__decoder_finish(const decoder_t *d)
{
    /* Every stage that began must have seen its stream's end. One that got
     * no bytes stands for an empty body, as a single coding does (a 204
     * or an empty 200 announcing gzip is common). */
    for (unsigned i = 0; d->stages != NULL && i < d->num_codings; i++) {
        const inflater_t *s = &d->stages[i];
        if ((s->started || s->have_first) && !s->finished)
            return GUST_ERR_DECODE;
    }
    return 0;
}

void gust__decoder_clear(decoder_t *d)
{
    for (unsigned i = 0; d->stages != NULL && i < d->num_codings; i++) {
        if (d->stages[i].started)
            inflateEnd(&d->stages[i].zs);
    }
    if (d->stages != &d->one)
        free(d->stages);
    memset(d, 0, sizeof(*d));
}
