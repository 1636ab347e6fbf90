/* The response object: built by the parser, then read-only; see
 * http/response.h. The reason, names and values live in one growing text
 * block and are found by offset, so growing the block never invalidates
 * anything; the first headers' offsets live in the object itself. A typical
 * response is then four allocations: the object, its text, its body and its
 * URL. */
#include "gust/response.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "http/internal.h"

/* The first allocation for a response's header text. */
enum { HEAD_TEXT_START = 512 };
/* Header offsets kept in the response before any are allocated. */
enum { INLINE_HEADERS = 16 };
/* The most body memory set aside from Content-Length alone, before the
 * bytes arrive: a server's claim is not a reason to allocate much. */
enum { BODY_RESERVE_MAX = 1 << 20 };

typedef struct header_ref_s {
    size_t name; /* offsets into text */
    size_t value;
    size_t name_len; /* compared before the name itself, in lookups */
    size_t value_len;
} header_ref_t;

struct gust_response_s {
    atomic_uint refs;
    int status;
    int http_minor;
    buf_t text;            /* "reason\0name\0value\0name\0value\0..." */
    size_t reason_len;     /* the reason is text's first reason_len bytes */
    header_ref_t *headers; /* inline_headers, or allocated when they ran out */
    size_t num_headers;
    size_t cap_headers;
    header_ref_t inline_headers[INLINE_HEADERS];
    buf_t body;
    char *url;
    bool reused;
    unsigned num_redirects;
    gust_timings_t timings;
};

static const char *buf_str(const buf_t *b)
{
    return b->data != NULL ? b->data : "";
}

gust_response_t *gust__response_new(void)
{
    gust_response_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    r->headers = r->inline_headers;
    r->cap_headers = INLINE_HEADERS;
    return r;
}

gust_response_t *gust_response_up_ref(gust_response_t *response)
{
    /* Relaxed: whoever passes the pointer on already orders the access. */
    atomic_fetch_add_explicit(&response->refs, 1, memory_order_relaxed);
    return response;
}

void gust_response_free(gust_response_t *response)
{
    if (response == NULL)
        return;
    /* acq_rel: every reader's last access happens before the free. */
    if (atomic_fetch_sub_explicit(&response->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(response->text.data);
    if (response->headers != response->inline_headers)
        free(response->headers);
    free(response->body.data);
    free(response->url);
    free(response);
}

/* Room for one more header's offsets; false when out of memory. */
static bool make_header_room(gust_response_t *r)
{
    if (r->num_headers < r->cap_headers)
        return true;
    size_t cap = r->cap_headers * 2;
    bool inline_now = r->headers == r->inline_headers;
    header_ref_t *headers = realloc(inline_now ? NULL : r->headers, cap * sizeof(*headers));
    if (headers == NULL)
        return false;
    if (inline_now)
        memcpy(headers, r->inline_headers, sizeof(r->inline_headers));
    r->headers = headers;
    r->cap_headers = cap;
    return true;
}

/* Notes where a piece's string is: its bytes start at `offset` in the text. */
static int note_piece(gust_response_t *r, const head_piece_t *p, size_t offset)
{
    header_ref_t *h = r->num_headers > 0 ? &r->headers[r->num_headers - 1] : NULL;
    switch (p->part) {
    case HEAD_REASON:
        /* The status line comes before any header: the reason is the
         * text's start. */
        r->reason_len += p->len;
        break;
    case HEAD_NEW_NAME:
        if (!make_header_room(r))
            return GUST_ERR_NOMEM;
        h = &r->headers[r->num_headers++];
        *h = (header_ref_t){.name = offset, .value = SIZE_MAX};
        /* fallthrough */
    case HEAD_NAME:
        h->name_len += p->len;
        break;
    case HEAD_FIRST_VALUE:
        /* http-parser leaves leading whitespace out but not trailing. */
        h->value = offset;
        /* fallthrough */
    case HEAD_VALUE:
        h->value_len += p->len;
        break;
    }
    return 0;
}

int gust__response_add_head(gust_response_t *r, const head_piece_t *pieces, size_t num)
{
    if (num == 0)
        return 0; /* no text to allocate for a head with neither reason nor headers */
    /* Each string after the NUL of the one before. Room for all of it at
     * once (a separator per piece at most); the first allocation is sized
     * for a typical head. */
    size_t need = r->text.len + 1;
    for (size_t i = 0; i < num; i++)
        need += pieces[i].len + 1;
    buf_t *text = &r->text;
    if (!gust__buf_grow(text, need > HEAD_TEXT_START ? need : HEAD_TEXT_START))
        return GUST_ERR_NOMEM;
    for (size_t i = 0; i < num; i++) {
        const head_piece_t *p = &pieces[i];
        if (p->part == HEAD_FIRST_VALUE || (p->part == HEAD_NEW_NAME && text->len > 0))
            text->len++;
        if (note_piece(r, p, text->len) != 0)
            return GUST_ERR_NOMEM;
        memcpy(text->data + text->len, p->at, p->len);
        text->len += p->len;
        text->data[text->len] = '\0';
    }
    return 0;
}

bool gust__response_add_body(gust_response_t *r, const void *at, size_t len)
{
    buf_t *body = &r->body;
    if (len > 0 && body->data != NULL && at == body->data + body->len) {
        body->len += len; /* received in place (gust__response_body_room) */
        body->data[body->len] = '\0';
        return true;
    }
    return gust__buf_append(body, at, len);
}

char *gust__response_body_room(gust_response_t *r, size_t *out_room)
{
    buf_t *body = &r->body;
    *out_room = body->cap > body->len + 1 ? body->cap - body->len - 1 : 0;
    return *out_room > 0 ? body->data + body->len : NULL;
}

bool gust__response_reserve_body(gust_response_t *r, uint64_t content_length)
{
    if (content_length == 0 || content_length > BODY_RESERVE_MAX)
        return true;
    /* Exactly the size (and the NUL): growing by doubling would set aside
     * up to twice it. */
    return gust__buf_reserve(&r->body, (size_t)content_length + 1);
}

void gust__response_reset_head(gust_response_t *r)
{
    r->reason_len = 0;
    r->text.len = 0;
    r->num_headers = 0;
}

bool gust__response_set_status(gust_response_t *r, int status, int http_minor)
{
    r->status = status;
    r->http_minor = http_minor;
    /* A header with an empty value never got a value callback: point it at
     * an empty string at the end of the text. */
    for (size_t i = 0; i < r->num_headers; i++) {
        if (r->headers[i].value == SIZE_MAX) {
            if (!gust__buf_append(&r->text, "", 1))
                return false;
            r->headers[i].value = r->text.len;
        }
    }
    /* Trailing whitespace of values goes (RFC 9110: OWS is not part of the
     * value); the text after each value is its NUL, so trimming in place is
     * safe. */
    for (size_t i = 0; i < r->num_headers; i++) {
        char *v = r->text.data + r->headers[i].value;
        size_t *len = &r->headers[i].value_len;
        while (*len > 0 && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
            v[--*len] = '\0';
    }
    return true;
}

void gust__response_take_url(gust_response_t *r, char *url)
{
    free(r->url);
    r->url = url;
}

void gust__response_set_meta(gust_response_t *r, bool reused, unsigned num_redirects,
                             const gust_timings_t *timings)
{
    r->reused = reused;
    r->num_redirects = num_redirects;
    r->timings = *timings;
}

gust_response_t *gust_http_response(const gust_future_t *future)
{
    if (gust_future_state(future) != GUST_FUTURE_VALUE)
        return NULL;
    return gust_future_value(future);
}

int gust_response_status(const gust_response_t *response)
{
    return response->status;
}

const char *gust_response_reason(const gust_response_t *response)
{
    return response->reason_len > 0 ? response->text.data : "";
}

int gust_response_http_minor(const gust_response_t *response)
{
    return response->http_minor;
}

size_t gust_response_num_headers(const gust_response_t *response)
{
    return response->num_headers;
}

void gust_response_header_at(const gust_response_t *response, size_t index, const char **out_name,
                             const char **out_value)
{
    *out_name = response->text.data + response->headers[index].name;
    *out_value = response->text.data + response->headers[index].value;
}

const char *gust_response_header_next(const gust_response_t *response, const char *name,
                                      size_t *index)
{
    size_t len = strlen(name);
    for (size_t i = *index; i < response->num_headers; i++) {
        const header_ref_t *h = &response->headers[i];
        if (h->name_len == len && strcasecmp(response->text.data + h->name, name) == 0) {
            *index = i;
            return response->text.data + h->value;
        }
    }
    return NULL;
}

const char *gust_response_header(const gust_response_t *response, const char *name)
{
    size_t index = 0;
    return gust_response_header_next(response, name, &index);
}

const void *gust_response_body(const gust_response_t *response, size_t *out_len)
{
    *out_len = response->body.len;
    return buf_str(&response->body);
}

const char *gust_response_url(const gust_response_t *response)
{
    return response->url != NULL ? response->url : "";
}

unsigned gust_response_num_redirects(const gust_response_t *response)
{
    return response->num_redirects;
}

bool gust_response_reused(const gust_response_t *response)
{
    return response->reused;
}

gust_timings_t gust_response_timings(const gust_response_t *response)
{
    return response->timings;
}
