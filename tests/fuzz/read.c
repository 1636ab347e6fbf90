/* See read.h. */
#include "tests/fuzz/read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gust/err.h"
#include "gust/response.h"
#include "tests/support/check.h"

reader_opts_t read_options(uint8_t flags)
{
    bool small = (flags & READ_SMALL_CAPS) != 0;
    reader_opts_t opts = {
        .max_header_bytes = small ? 256 : 80 * 1024,
        .max_headers = small ? 4 : 100,
        .max_body_bytes = small ? 512 : 0,
        .max_decoded_bytes = small ? 1024 : 0,
        .decompress = (flags & READ_DECOMPRESS) != 0,
        .head_request = (flags & READ_HEAD) != 0,
    };
    return opts;
}

static bool append(char **buf, size_t *len, const void *at, size_t n)
{
    char *grown = realloc(*buf, *len + n + 1);
    if (grown == NULL)
        return false;
    memcpy(grown + *len, at, n);
    *len += n;
    grown[*len] = '\0';
    *buf = grown;
    return true;
}

static int on_body(void *arg, const void *at, size_t len)
{
    read_result_t *out = arg;
    return append(&out->body, &out->body_len, at, len) ? 0 : GUST_ERR_NOMEM;
}

/* Copies what the reader made: a complete response, or the head of one
 * whose body failed. */
static void keep_response(const gust_response_t *response, read_result_t *out)
{
    out->status = gust_response_status(response);
    out->http_minor = gust_response_http_minor(response);
    out->num_headers = gust_response_num_headers(response);
    const char *reason = gust_response_reason(response);
    append(&out->head, &out->head_len, reason, strlen(reason) + 1);
    for (size_t i = 0; i < out->num_headers; i++) {
        const char *name, *value;
        gust_response_header_at(response, i, &name, &value);
        append(&out->head, &out->head_len, name, strlen(name));
        append(&out->head, &out->head_len, ": ", 2);
        append(&out->head, &out->head_len, value, strlen(value) + 1);
    }
    size_t body_len;
    const void *body = gust_response_body(response, &body_len);
    if (body_len > 0)
        append(&out->body, &out->body_len, body, body_len);
}

void read_response(const reader_opts_t *opts, bool stream, const void *data, size_t len,
                   const size_t *cuts, size_t num_cuts, read_result_t *out)
{
    memset(out, 0, sizeof(*out));
    reader_opts_t reading = *opts;
    if (stream) {
        reading.on_body = on_body;
        reading.on_body_arg = out;
    }
    reader_t reader = {0};
    if (!gust__reader_start(&reader, &reading)) {
        out->err = GUST_ERR_NOMEM;
        gust__reader_clear(&reader);
        return;
    }
    const char *bytes = data;
    size_t start = 0;
    int err = 0;
    for (size_t i = 0; i <= num_cuts && err == 0 && !reader.complete; i++) {
        size_t end = i < num_cuts ? cuts[i] : len;
        if (end <= start)
            continue;
        size_t used;
        err = gust__reader_feed(&reader, bytes + start, end - start, &used);
        out->used = start + used;
        start = end;
    }
    if (err == 0 && !reader.complete)
        err = gust__reader_end(&reader);
    out->err = err;
    if (err != 0)
        snprintf(out->why, sizeof(out->why), "%s", gust__reader_why(&reader));
    if (err == 0) {
        out->keep_alive = reader.keep_alive;
    } else {
        out->used = 0; /* where parsing stopped depends on the pieces */
    }
    if (reader.head_done)
        keep_response(reader.response, out);
    gust__reader_clear(&reader);
}

static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* Pairs of errors that a different split of the bytes can swap, by design
 * (finding F1 in tests/fuzz/README.md): the header caps count bytes as
 * http-parser hands them over, so that nothing is held past a cap, and
 * where a piece ends decides whether a cap is passed before or after the
 * byte that makes the head fail otherwise. Either way it fails. */
static const struct {
    int one, other;
} swappable[] = {
    {GUST_ERR_TOO_MANY_HEADERS, GUST_ERR_PARSE},
    {GUST_ERR_HEADER_TOO_LARGE, GUST_ERR_PARSE},
};

static bool is_swappable(int a, int b)
{
    for (size_t i = 0; i < sizeof(swappable) / sizeof(swappable[0]); i++) {
        if ((a == swappable[i].one && b == swappable[i].other) ||
            (b == swappable[i].one && a == swappable[i].other))
            return true;
    }
    return false;
}

bool read_split_agrees(const read_result_t *whole, const read_result_t *split)
{
    if (is_swappable(whole->err, split->err))
        return true;
    if (whole->err != split->err)
        return false;
    if (whole->err != 0)
        return true; /* how far a failed response got depends on the pieces */
    return whole->used == split->used && whole->keep_alive == split->keep_alive &&
           whole->status == split->status && whole->http_minor == split->http_minor &&
           whole->num_headers == split->num_headers &&
           same_bytes(whole->head, whole->head_len, split->head, split->head_len) &&
           same_bytes(whole->body, whole->body_len, split->body, split->body_len);
}

static void print(const char *label, const read_result_t *r)
{
    fprintf(stderr, "%s: err %d (%s) used %zu keep_alive %d status %d HTTP/1.%d\n", label, r->err,
            r->err != 0 ? gust_err_name(r->err) : "none", r->used, r->keep_alive, r->status,
            r->http_minor);
    for (size_t i = 0; i < r->head_len; i += strlen(r->head + i) + 1)
        fprintf(stderr, "  [%s]\n", r->head + i);
    int shown = r->body_len < 200 ? (int)r->body_len : 200;
    fprintf(stderr, "  body %zu bytes: %.*s\n", r->body_len, shown, r->body != NULL ? r->body : "");
}

void check_split(const read_result_t *whole, const read_result_t *split, const char *what)
{
    if (read_split_agrees(whole, split))
        return;
    print("whole", whole);
    print(what, split);
    CHECK_FAIL_("read %s, the response differs from read whole", what);
}

void read_result_clear(read_result_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
