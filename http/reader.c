/* One HTTP/1.1 response read from bytes, through http-parser: the status,
 * headers within their limits, interim (1xx) heads skipped, the body
 * decoded and capped or streamed to the caller. It knows nothing of
 * sockets, so a connection feeds it what it receives and the fuzz targets
 * and split tests feed it from memory, through the same code. */
#include <limits.h>
#include <string.h>

#include "gust/err.h"
#include "http/internal.h"

/* At most this many interim (1xx) responses before the final one. */
#define MAX_INTERIM 16

static int stop(reader_t *r, int err, const char *why)
{
    r->err = err;
    r->why = why;
    return -1;
}

/* Moves the collected pieces into the response. */
static int flush_head(reader_t *r)
{
    int err = gust__response_add_head(r->response, r->pieces, r->num_pieces);
    r->num_pieces = 0;
    return err != 0 ? stop(r, err, NULL) : 0;
}

/* Collects a piece of the head; `separator` is the byte the response's text
 * puts before it. */
static int add_piece(reader_t *r, head_part_t part, const char *at, size_t len, size_t separator)
{
    r->head_bytes += separator + len;
    if (r->head_bytes > r->opts.max_header_bytes)
        return stop(r, GUST_ERR_HEADER_TOO_LARGE, NULL);
    if (r->num_pieces == HEAD_PIECES && flush_head(r) != 0)
        return -1;
    r->pieces[r->num_pieces++] = (head_piece_t){at, len, part};
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    return add_piece(p->data, HEAD_REASON, at, len, 0);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    reader_t *r = p->data;
    if (r->head_done)
        return 0; /* a trailer: read and dropped */
    bool new_header = r->header_value || r->num_headers == 0;
    if (new_header && r->num_headers >= r->opts.max_headers)
        return stop(r, GUST_ERR_TOO_MANY_HEADERS, NULL);
    r->header_value = false;
    if (!new_header)
        return add_piece(r, HEAD_NAME, at, len, 0);
    r->num_headers++;
    return add_piece(r, HEAD_NEW_NAME, at, len, r->head_bytes > 0 ? 1 : 0);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    reader_t *r = p->data;
    if (r->head_done)
        return 0;
    if (r->header_value)
        return add_piece(r, HEAD_VALUE, at, len, 0);
    r->header_value = true;
    return add_piece(r, HEAD_FIRST_VALUE, at, len, 1);
}

/* 1xx, 204 and 304 never have a body, whatever their headers say (RFC 9112
 * 6.3); neither has the answer to HEAD, which http-parser cannot know. */
static bool has_no_body(const reader_t *r, unsigned status)
{
    return status / 100 == 1 || status == 204 || status == 304 || r->opts.head_request;
}

/* Ends the response before the rest of its body, which is dropped with the
 * connection. */
static void cut(reader_t *r)
{
    r->complete = true;
    r->cut = true;
    r->keep_alive = false;
    http_parser_pause(&r->parser, 1);
}

static int on_headers_complete(http_parser *p)
{
    reader_t *r = p->data;
    if (flush_head(r) != 0)
        return -1;
    if (p->status_code < 100)
        return stop(r, GUST_ERR_PARSE, "status code below 100");
    /* Returning 1 tells http-parser the message has no body. */
    int body = has_no_body(r, p->status_code) ? 1 : 0;
    if (p->status_code / 100 == 1) {
        if (p->status_code == 101)
            return stop(r, GUST_ERR_PARSE, "101 Switching Protocols, but no upgrade was asked for");
        if (++r->num_interim > MAX_INTERIM)
            return stop(r, GUST_ERR_PARSE, "too many interim (1xx) responses");
        r->interim = true;
        return body;
    }
    if (!gust__response_set_status(r->response, p->status_code, p->http_minor))
        return stop(r, GUST_ERR_NOMEM, NULL);
    r->head_done = true;
    if (r->opts.on_head != NULL) {
        int rc = r->opts.on_head(r->opts.on_head_arg, r->response);
        if (rc < 0)
            return stop(r, rc, NULL);
        r->drop_body = rc == READER_DROP_BODY;
    }
    if (r->drop_body) {
        /* Not worth reading: too long, or it would end only with the
         * connection. */
        if (body == 0 && !(p->flags & F_CHUNKED) &&
            (p->content_length == ULLONG_MAX || p->content_length > READER_DRAIN_MAX))
            cut(r);
        return body;
    }
    if (r->opts.decompress) {
        /* Every Content-Encoding header, each a list, in the order applied. */
        gust__decoder_init(&r->decoder);
        const char *value;
        for (size_t i = 0;
             (value = gust_response_header_next(r->response, "Content-Encoding", &i)) != NULL; i++)
            gust__decoder_add(&r->decoder, value);
        r->decoding = gust__decoder_active(&r->decoder);
    }
    /* The body's exact size, when it will be kept as it comes (ULLONG_MAX:
     * no Content-Length). */
    if (body == 0 && !r->decoding && r->opts.on_body == NULL && p->content_length != ULLONG_MAX &&
        (r->opts.max_body_bytes == 0 || p->content_length <= r->opts.max_body_bytes) &&
        !gust__response_reserve_body(r->response, p->content_length))
        return stop(r, GUST_ERR_NOMEM, NULL);
    return body;
}

static int deliver_body(void *arg, const void *at, size_t len)
{
    reader_t *r = arg;
    if (r->opts.on_body != NULL)
        return r->opts.on_body(r->opts.on_body_arg, at, len) == 0 ? 0 : GUST_ERR_CANCELLED;
    return gust__response_add_body(r->response, at, len) ? 0 : GUST_ERR_NOMEM;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    reader_t *r = p->data;
    if (r->drop_body) {
        r->body_bytes += len;
        if (r->body_bytes > READER_DRAIN_MAX)
            cut(r);
        return 0;
    }
    size_t max = r->opts.max_body_bytes;
    /* A piece that crosses the cap is read up to it first, so that a bad
     * byte below the cap gives the same error however the body was split. */
    bool over = max != 0 && len > max - r->body_bytes;
    size_t take = over ? max - r->body_bytes : len;
    r->body_bytes += take;
    int err = 0;
    if (take > 0)
        err = r->decoding ? gust__decoder_feed(&r->decoder, at, take, r->opts.max_decoded_bytes,
                                               deliver_body, r)
                          : deliver_body(r, at, take);
    if (err == 0 && over)
        err = GUST_ERR_BODY_TOO_LARGE;
    if (err == GUST_ERR_DECODE && r->decoder.refused)
        return stop(r, err, r->decoder.why);
    return err != 0 ? stop(r, err, NULL) : 0;
}

static int on_message_complete(http_parser *p)
{
    reader_t *r = p->data;
    if (r->interim) {
        /* Forget the 1xx head; the final response follows on the wire. */
        r->interim = false;
        r->header_value = false;
        r->head_bytes = 0;
        r->num_headers = 0;
        gust__response_reset_head(r->response);
        return 0;
    }
    if (r->decoding) {
        int err = gust__decoder_finish(&r->decoder);
        if (err != 0)
            return stop(r, err, NULL);
    }
    r->complete = true;
    r->keep_alive = http_should_keep_alive(p) != 0;
    /* Stop here: bytes after the response belong to the next one. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

bool gust__reader_start(reader_t *r, const reader_opts_t *opts)
{
    gust__reader_clear(r);
    memset(r, 0, sizeof(*r));
    r->opts = *opts;
    r->response = gust__response_new();
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    return r->response != NULL;
}

/* The error that stopped the parser: a callback's own, or the parser's. */
static int parser_error(reader_t *r)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->err != 0)
        return r->err;
    if (e == HPE_HEADER_OVERFLOW)
        return GUST_ERR_HEADER_TOO_LARGE;
    r->why = http_errno_description(e);
    return GUST_ERR_PARSE;
}

/* Runs the parser over `data`, with room for the pieces of a head. */
static size_t execute(reader_t *r, const char *data, size_t len)
{
    head_piece_t pieces[HEAD_PIECES];
    r->pieces = pieces;
    r->num_pieces = 0;
    size_t used = http_parser_execute(&r->parser, &settings, data, len);
    /* The head goes on in the next bytes: keep what these held of it. */
    if (r->num_pieces > 0 && r->err == 0)
        (void)flush_head(r); /* on error r->err says so */
    r->pieces = NULL;
    r->num_pieces = 0;
    return used;
}

int gust__reader_feed(reader_t *r, const char *data, size_t len, size_t *out_used)
{
    size_t used = execute(r, data, len);
    if (out_used != NULL)
        *out_used = used;
    if (r->err != 0)
        return r->err;
    if (r->complete)
        return 0;
    return HTTP_PARSER_ERRNO(&r->parser) == HPE_OK ? 0 : (r->err = parser_error(r));
}

size_t gust__reader_body_room(reader_t *r, char **out_at)
{
    /* content_length is what is left of an identity body (of a chunk, when
     * chunked); ULLONG_MAX when the body is close-delimited. */
    uint64_t left = r->parser.content_length;
    if (!r->head_done || r->complete || r->err != 0 || r->decoding || r->opts.on_body != NULL ||
        r->drop_body || (r->parser.flags & F_CHUNKED) || left == 0 || left == ULLONG_MAX)
        return 0;
    size_t room;
    *out_at = gust__response_body_room(r->response, &room);
    return left < room ? (size_t)left : room;
}

int gust__reader_end(reader_t *r)
{
    if (r->err != 0 || r->complete)
        return r->err;
    execute(r, NULL, 0);
    if (r->complete)
        return 0;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e != HPE_OK && e != HPE_INVALID_EOF_STATE)
        return r->err = parser_error(r);
    return r->err = GUST_ERR_CONN_CLOSED;
}

const char *gust__reader_why(const reader_t *r)
{
    return r->why != NULL ? r->why : gust_strerror(r->err);
}

gust_response_t *gust__reader_take(reader_t *r)
{
    gust_response_t *response = r->response;
    r->response = NULL;
    return response;
}

void gust__reader_clear(reader_t *r)
{
    gust_response_free(r->response);
    r->response = NULL;
    gust__decoder_clear(&r->decoder);
    r->decoding = false;
}
