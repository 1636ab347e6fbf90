/* The client and the life of a call: see http/client.h.
 *
 * gust_http_send checks and copies the request into a call and starts it on
 * the calling worker, or submits a start task from outside the pool. The
 * call then lives on that worker, unless it moves once per hop to where an
 * idle connection to its origin is (session.c).
 * A call ends exactly once, in call_end: its future completes (unless a
 * cancel got there first) and its memory goes. */
#include <errno.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gust/err.h"
#include "http/internal.h"

#define READ_BUF_LEN 65536

gust_client_opts_t gust_client_opts_default(void)
{
    return (gust_client_opts_t){
        .idle_timeout_ns = 15000000000ull,
        .connect_timeout_ns = 10000000000ull,
        .total_timeout_ns = 300000000000ull,
        .max_header_bytes = 65536,
        .max_headers = 100,
        .max_body_bytes = (size_t)1 << 30,
        .max_decoded_bytes = (size_t)1 << 30,
        .max_redirects = 10,
        .decompress = true,
        .user_agent = "gust/0.1",
        .dns_ttl_ns = 60000000000ull,
    };
}

/* Copies headers into one block: the array, then the strings. */
static gust_header_t *copy_headers(const gust_header_t *headers, size_t num)
{
    size_t size = num * sizeof(gust_header_t);
    for (size_t i = 0; i < num; i++)
        size += strlen(headers[i].name) + strlen(headers[i].value) + 2;
    gust_header_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return NULL;
    char *text = (char *)(copy + num);
    for (size_t i = 0; i < num; i++) {
        copy[i].name = strcpy(text, headers[i].name);
        text += strlen(text) + 1;
        copy[i].value = strcpy(text, headers[i].value);
        text += strlen(text) + 1;
    }
    return copy;
}

/* Returns the index of the first bad header, or -1. */
static ssize_t bad_header(const gust_header_t *headers, size_t num)
{
    for (size_t i = 0; i < num; i++) {
        if (!gust__is_token(headers[i].name) || !gust__is_field_value(headers[i].value))
            return (ssize_t)i;
    }
    return -1;
}

/* *out = a copy of s, or NULL for NULL; false when out of memory. */
static bool copy_string(const char *s, char **out)
{
    *out = s != NULL ? strdup(s) : NULL;
    return s == NULL || *out != NULL;
}

static void free_client(gust_client_t *client)
{
    if (client->sessions != NULL) {
        for (unsigned i = 0; i < client->num_workers; i++) {
            free(client->sessions[i].read_buf);
            gust_url_clear(&client->sessions[i].last_url);
        }
    }
    free(client->sessions);
    gust__dns_free(client->dns);
    gust__table_free(client->origins, gust__origin_destroy);
    free(client->user_agent);
    free(client->headers);
    free(client->default_lines[0].data);
    free(client->default_lines[1].data);
    gust__tls_client_free(client);
    pthread_mutex_destroy(&client->tls_lock);
    free(client->ca_file);
    free(client->ca_dir);
    free(client->client_cert_file);
    free(client->client_key_file);
    gust_runtime_free(client->own_runtime);
    free(client);
}

/* Fails gust_client_new: errno = errnum, and why in the caller's error_buf. */
static gust_client_t *new_failed(const gust_client_opts_t *opts, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static gust_client_t *new_failed(const gust_client_opts_t *opts, int errnum, const char *fmt, ...)
{
    if (opts->error_buf != NULL && opts->error_buf_len > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(opts->error_buf, opts->error_buf_len, fmt, args);
        va_end(args);
    }
    errno = errnum;
    return NULL;
}

/* Checks the options that need no file: 0, or EINVAL with why in *why. */
static int check_opts(const gust_client_opts_t *opts, char *why, size_t why_len)
{
    ssize_t bad;
    if (opts->max_header_bytes == 0 || opts->max_header_bytes > GUST_MAX_HEADER_BYTES)
        snprintf(why, why_len, "max_header_bytes %zu is not within 1..%d", opts->max_header_bytes,
                 GUST_MAX_HEADER_BYTES);
    else if (opts->max_headers == 0)
        snprintf(why, why_len, "max_headers is 0");
    else if (opts->num_headers > 0 && opts->headers == NULL)
        snprintf(why, why_len, "headers is NULL with num_headers %zu", opts->num_headers);
    else if ((bad = bad_header(opts->headers, opts->num_headers)) >= 0)
        snprintf(why, why_len, "headers[%zd]: a name that is no token, or control characters", bad);
    else if (opts->user_agent != NULL && !gust__is_field_value(opts->user_agent))
        snprintf(why, why_len, "user_agent has control characters");
    else
        return 0;
    return EINVAL;
}

gust_client_t *gust_client_new(gust_runtime_t *runtime, const gust_client_opts_t *opts)
{
    gust_client_opts_t defaults = gust_client_opts_default();
    if (opts == NULL)
        opts = &defaults;
    char why[512];
    if (check_opts(opts, why, sizeof(why)) != 0)
        return new_failed(opts, EINVAL, "%s", why);
    if ((opts->ca_file != NULL || opts->ca_dir != NULL || opts->client_cert_file != NULL) &&
        gust__tls_check_opts(opts, why, sizeof(why)) != 0)
        return new_failed(opts, EINVAL, "%s", why);
    gust_client_t *client = calloc(1, sizeof(*client));
    if (client == NULL)
        return new_failed(opts, ENOMEM, "out of memory");
    client->opts = *opts;
    pthread_mutex_init(&client->tls_lock, NULL);
    if (runtime == NULL) {
        gust_runtime_opts_t ropts = gust_runtime_opts_default();
        ropts.pool.thread_name_prefix = "gust-http";
        runtime = client->own_runtime = gust_runtime_new(&ropts);
        if (runtime == NULL) {
            int errnum = errno;
            free_client(client);
            return new_failed(opts, errnum, "cannot start a runtime: %s", strerror(errnum));
        }
    }
    client->runtime = runtime;
    client->pool = gust_runtime_pool(runtime);
    client->num_workers = gust_pool_num_threads(client->pool);
    client->sessions = calloc(client->num_workers, sizeof(*client->sessions));
    if (client->sessions == NULL)
        goto fail;
    for (unsigned i = 0; i < client->num_workers; i++) {
        session_t *session = &client->sessions[i];
        session->client = client;
        session->index = i;
        CDS_INIT_LIST_HEAD(&session->idle_lru);
        CDS_INIT_LIST_HEAD(&session->starved);
        CDS_INIT_LIST_HEAD(&session->active);
        CDS_INIT_LIST_HEAD(&session->unflushed);
        gust_timer_init(&session->sweep);
        session->read_buf_len = READ_BUF_LEN;
        session->read_buf = malloc(READ_BUF_LEN);
        if (session->read_buf == NULL)
            goto fail;
    }
    client->origins = gust__table_new();
    client->dns = gust__dns_new(runtime, opts->dns_ttl_ns);
    client->headers = copy_headers(opts->headers, opts->num_headers);
    if (!copy_string(opts->user_agent, &client->user_agent) ||
        !copy_string(opts->ca_file, &client->ca_file) ||
        !copy_string(opts->ca_dir, &client->ca_dir) ||
        !copy_string(opts->client_cert_file, &client->client_cert_file) ||
        !copy_string(opts->client_key_file, &client->client_key_file))
        goto fail;
    if (client->origins == NULL || client->dns == NULL || client->headers == NULL)
        goto fail;
    client->opts.headers = client->headers;
    client->opts.user_agent = client->user_agent;
    client->opts.ca_file = client->ca_file;
    client->opts.ca_dir = client->ca_dir;
    client->opts.client_cert_file = client->client_cert_file;
    client->opts.client_key_file = client->client_key_file;
    if (!gust__request_default_lines(client))
        goto fail;
    return client;
fail:
    free_client(client);
    return new_failed(opts, ENOMEM, "out of memory");
}

typedef struct drain_s {
    session_t *session;
    sem_t done;
} drain_t;

static void close_idle_task(void *arg)
{
    drain_t *drain = arg;
    gust__session_close_idle(drain->session);
    sem_post(&drain->done);
}

void gust_client_free(gust_client_t *client)
{
    if (client == NULL)
        return;
    gust__await_zero(&client->in_flight);
    /* Idle connections live on their workers' reactors: close them there,
     * one worker at a time, so that freeing allocates nothing and cannot
     * fail. Each worker runs its posts in order, so anything posted before
     * this (a slot handed on) has run by then. */
    for (unsigned i = 0; i < client->num_workers; i++) {
        drain_t drain = {.session = &client->sessions[i]};
        sem_init(&drain.done, 0, 0);
        while (!gust_runtime_post(client->runtime, i, close_idle_task, &drain)) {
            struct timespec ms = {0, 1000000}; /* out of memory: try again */
            nanosleep(&ms, NULL);
        }
        while (sem_wait(&drain.done) != 0) {
        }
        sem_destroy(&drain.done);
    }
    free_client(client);
}

gust_runtime_t *gust_client_runtime(const gust_client_t *client)
{
    return client->runtime;
}

void gust_client_stats(const gust_client_t *client, gust_client_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->requests = atomic_load_explicit(&client->requests, memory_order_relaxed);
    for (unsigned i = 0; i < client->num_workers; i++) {
        const session_t *s = &client->sessions[i];
        out->connections_opened += atomic_load_explicit(&s->opened, memory_order_relaxed);
        out->connections_reused += atomic_load_explicit(&s->reused, memory_order_relaxed);
        out->retries += atomic_load_explicit(&s->retries, memory_order_relaxed);
        out->pipelined += atomic_load_explicit(&s->pipelined, memory_order_relaxed);
    }
    out->dns_lookups = gust__dns_lookups(client->dns);
    out->open_connections = atomic_load_explicit(&client->total_open, memory_order_relaxed);
}

/* ---- the call ---- */

/* The last of a call: its callback has returned, so the client may go. */
static void call_end_in_flight(call_t *call)
{
    gust_client_t *client = call->client;
    free(call);
    /* Release: the call's last steps, its callback included, happen before
     * gust_client_free (its acquire in gust__await_zero). */
    atomic_fetch_sub_explicit(&client->in_flight, 1, memory_order_release);
}

/* A refused call's completion callback, as a task on the pool. */
static void refused_on_done(gust_future_t *future, void *arg)
{
    call_t *call = arg;
    call->on_done(future, call->on_done_arg);
    call_end_in_flight(call);
}

/* The end of every call, once its future is complete. */
static void call_free(call_t *call)
{
    gust_future_t *future = call->future;
    bool on_worker = call->session != NULL;
    if (on_worker)
        gust_timer_stop(&call->total_timer);
    gust__session_untrack(call);
    if (call->method != call->method_inline)
        free(call->method);
    free(call->url_text);
    gust_url_clear(&call->url);
    free(call->headers);
    free(call->body);
    /* The completion callback, here on the call's worker: a task of its own
     * would often be stolen by an idle worker and then send the next
     * request from where no connection is. A call that never reached a
     * worker (refused by gust_http_send) hands it to the pool instead, and
     * stays counted in flight until it returns: the client outlives it. */
    if (call->on_done != NULL && !on_worker &&
        gust_future_on_done(future, refused_on_done, call) == 0) {
        gust_future_free(future);
        return;
    }
    if (call->on_done != NULL)
        call->on_done(future, call->on_done_arg);
    gust_future_free(future);
    call_end_in_flight(call);
}

/* Copies s with control characters as '?', cut to fit. */
static void printable(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s != NULL && s[n] != '\0' && n + 1 < cap; n++)
        out[n] = (unsigned char)s[n] < ' ' || s[n] == 0x7f ? '?' : s[n];
    out[n] = '\0';
}

bool gust__call_cancelled(const call_t *call)
{
    return gust_future_state(call->future) != GUST_FUTURE_PENDING;
}

void gust__call_fail(call_t *call, int err, const char *fmt, ...)
{
    char cause[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof(cause), fmt, ap);
    va_end(ap);
    /* The method and URL may be anything a caller passed (a bad one is why
     * the call fails); keep control characters out of logs. */
    char method[32], url[1024];
    printable(method, sizeof(method), call->method);
    printable(url, sizeof(url), call->url_text);
    gust_future_set_error(call->future, err, "%s %s: %s", method, url, cause);
    call_free(call);
}

static void destroy_response(void *value)
{
    gust_response_free(value);
}

static void respond(call_t *call, gust_response_t *response, bool reused)
{
    call->timings.total_ns = call->received_ns - call->sent_ns;
    gust__response_set_meta(response, reused, call->num_redirects, &call->timings);
    /* The call ends here: its URL text goes to the response as it is. */
    gust__response_take_url(response, call->url_text);
    call->url_text = NULL;
    if (!gust_future_set_value(call->future, response, destroy_response))
        gust_response_free(response); /* cancelled meanwhile */
    call_free(call);
}

/* Lets go of the call's connection (closing it) or its place in a queue. */
static void detach(call_t *call)
{
    if (call->conn != NULL)
        gust__conn_abort(call->conn, call);
    if (call->waiting != WAIT_NONE)
        gust__session_unwait(call->session, call);
}

void gust__call_abandon(call_t *call)
{
    detach(call);
    call_free(call);
}

static void on_total_timeout(gust_timer_t *timer)
{
    call_t *call = timer->data;
    detach(call);
    gust__call_fail(call, GUST_ERR_TOTAL_TIMEOUT, "no complete response within %llu ms",
                    (unsigned long long)(call->total_timeout_ns / 1000000));
}

void gust__call_arm_total(call_t *call)
{
    if (call->total_timeout_ns == 0 || gust_timer_active(&call->total_timer))
        return;
    uint64_t from = call->client->opts.total_after_queue ? gust_now_ns() : call->sent_ns;
    /* Out of memory for the heap: the call goes on without its deadline
     * rather than failing a request that may well succeed. */
    (void)gust_timer_start_at(&call->total_timer, gust_deadline_after(from, call->total_timeout_ns),
                              on_total_timeout, call);
}

void gust__call_run(call_t *call, uint64_t now)
{
    if (gust__call_cancelled(call)) {
        call_free(call);
        return;
    }
    call->hop_start_ns = now;
    call->migrated = false;
    /* Timings are the last hop's (total aside, set at the end). */
    memset(&call->timings, 0, sizeof(call->timings));
    call->origin = gust__origin_get(call->session, &call->url, call->insecure);
    if (call->origin == NULL) {
        gust__call_fail(call, GUST_ERR_NOMEM, "out of memory");
        return;
    }
    gust__session_acquire(call->session, call, now);
}

static void call_start(call_t *call, uint64_t now)
{
    call->session = gust__session_current(call->client);
    gust_timer_init(&call->total_timer);
    gust__session_track(call->session, call);
    if (!call->client->opts.total_after_queue)
        gust__call_arm_total(call);
    gust__call_run(call, now);
}

static void call_start_task(void *arg)
{
    call_start(arg, gust_now_ns());
}

void gust__call_got_response(call_t *call, gust_response_t *response, bool reused)
{
    const char *why = NULL;
    int followed = gust__redirect(call, response, &why);
    if (followed < 0) {
        char location[512];
        printable(location, sizeof(location), gust_response_header(response, "Location"));
        gust_response_free(response);
        gust__call_fail(call, followed, "%s (Location: %s)", why, location);
    } else if (followed > 0) {
        gust_response_free(response);
        call->num_redirects++;
        call->want_fresh_conn = false;
        gust__call_run(call, gust_now_ns());
    } else {
        respond(call, response, reused);
    }
}

void gust__call_conn_failed(call_t *call, bool reused, bool received, int err, const char *fmt, ...)
{
    char cause[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof(cause), fmt, ap);
    va_end(ap);
    /* A kept-alive connection the server had already closed: the request
     * never reached it, so it is safe to send again where the method allows.
     * So is one whose connection lost track of which answer is whose: what
     * came may be another request's answer, unless it already went to the
     * caller's on_head or on_body. */
    bool stale = reused && !received &&
                 (err == GUST_ERR_CONN_RESET || err == GUST_ERR_CONN_CLOSED || err == GUST_ERR_IO);
    bool desynced = reused && err == GUST_ERR_PIPELINE_DESYNC &&
                    (!received || (call->on_body == NULL && call->on_head == NULL));
    bool may_resend =
        gust__method_is_idempotent(call->method) || (call->retry_non_idempotent && !received);
    if ((stale || desynced) && may_resend && !call->retried && call->body_read == NULL &&
        !gust__call_cancelled(call)) {
        call->retried = true;
        call->want_fresh_conn = true;
        atomic_fetch_add_explicit(&call->session->retries, 1, memory_order_relaxed);
        gust__call_run(call, gust_now_ns());
        return;
    }
    gust__call_fail(call, err, "%s", cause);
}

static uint64_t pick_timeout(uint64_t request, uint64_t client)
{
    if (request == GUST_TIMEOUT_NONE)
        return 0;
    return request != 0 ? request : client;
}

bool gust__call_set_method(call_t *call, const char *method)
{
    /* Methods are short: a copy in the call itself saves an allocation
     * per request. */
    size_t len = strlen(method);
    char *copy = call->method_inline;
    if (len >= sizeof(call->method_inline) && (copy = strdup(method)) == NULL)
        return false;
    if (copy == call->method_inline)
        memcpy(copy, method, len + 1);
    if (call->method != NULL && call->method != call->method_inline)
        free(call->method);
    call->method = copy;
    return true;
}

/* Checks and copies the request; `here` is the calling worker's session, or
 * NULL. On error returns the code with *out_why. */
static int call_init(call_t *call, const gust_request_t *req, session_t *here, const char **out_why)
{
    const gust_client_opts_t *opts = &call->client->opts;
    const char *method = req->method != NULL ? req->method : "GET";
    call->url_text = strdup(req->url != NULL ? req->url : "");
    if (!gust__call_set_method(call, method) || call->url_text == NULL)
        return GUST_ERR_NOMEM;
    if (!gust__is_token(method)) {
        *out_why = "the method is not an HTTP token";
        return GUST_ERR_BAD_REQUEST;
    }
    int err = gust__session_parse_url(here, call->url_text, &call->url, out_why);
    if (err != 0)
        return err;
    if ((req->num_headers > 0 && req->headers == NULL) ||
        bad_header(req->headers, req->num_headers) >= 0) {
        *out_why = "a header name is not a token, or a value has CR, LF or another control "
                   "character";
        return GUST_ERR_BAD_REQUEST;
    }
    for (size_t i = 0; i < req->num_headers; i++) {
        if (strcasecmp(req->headers[i].name, "Content-Length") == 0 ||
            strcasecmp(req->headers[i].name, "Transfer-Encoding") == 0) {
            *out_why = "Content-Length and Transfer-Encoding follow from the body; do not set "
                       "them";
            return GUST_ERR_BAD_REQUEST;
        }
    }
    if (req->body_read == NULL && req->body_len < 0) {
        *out_why = "negative body length";
        return GUST_ERR_BAD_REQUEST;
    }
    /* No headers, no copy: most requests set none. */
    if (req->num_headers > 0 &&
        (call->headers = copy_headers(req->headers, req->num_headers)) == NULL)
        return GUST_ERR_NOMEM;
    call->num_headers = req->num_headers;
    if (req->body_read != NULL) {
        call->body_read = req->body_read;
        call->body_read_arg = req->body_read_arg;
        call->body_read_len = req->body_len;
    } else if (req->body_len > 0) {
        if ((call->body = malloc((size_t)req->body_len)) == NULL)
            return GUST_ERR_NOMEM;
        memcpy(call->body, req->body, (size_t)req->body_len);
        call->body_len = (size_t)req->body_len;
    }
    call->connect_timeout_ns = pick_timeout(req->connect_timeout_ns, opts->connect_timeout_ns);
    call->header_timeout_ns = pick_timeout(req->header_timeout_ns, opts->header_timeout_ns);
    call->total_timeout_ns = pick_timeout(req->total_timeout_ns, opts->total_timeout_ns);
    call->max_body_bytes = req->max_body_bytes != 0 ? req->max_body_bytes : opts->max_body_bytes;
    call->max_decoded_bytes = opts->max_decoded_bytes;
    call->max_redirects = req->max_redirects < 0   ? 0
                          : req->max_redirects > 0 ? (unsigned)req->max_redirects
                                                   : opts->max_redirects;
    call->decompress = opts->decompress && !req->no_decompress;
    call->retry_non_idempotent = req->retry_non_idempotent;
    call->insecure = opts->insecure || req->insecure;
    call->on_body = req->on_body;
    call->on_body_arg = req->on_body_arg;
    call->on_head = req->on_head;
    call->on_head_arg = req->on_head_arg;
    return 0;
}

gust_future_t *gust_http_send(gust_client_t *client, const gust_request_t *req)
{
    gust_future_t *future = gust_future_new(client->pool);
    if (future == NULL)
        return NULL;
    /* Out of memory before a call can count itself in flight: NULL, and no
     * callback that could outlive the client. */
    call_t *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        gust_future_free(future);
        return NULL;
    }
    atomic_fetch_add_explicit(&client->requests, 1, memory_order_relaxed);
    /* Relaxed: the caller holds the client, which cannot be freed meanwhile;
     * the decrement in call_end_in_flight is what orders the teardown. */
    atomic_fetch_add_explicit(&client->in_flight, 1, memory_order_relaxed);
    call->client = client;
    call->on_done = req->on_done;
    call->on_done_arg = req->on_done_arg;
    CDS_INIT_LIST_HEAD(&call->active_link);
    CDS_INIT_LIST_HEAD(&call->pipe_link);
    call->future = gust_future_up_ref(future);
    call->sent_ns = gust_now_ns();
    session_t *here = gust__session_current(client);
    const char *why = NULL;
    int err = call_init(call, req, here, &why);
    if (err != 0) {
        gust__call_fail(call, err, "%s", why != NULL ? why : gust_strerror(err));
        return future;
    }
    /* On a worker of this client, start at once: the connection the last
     * response freed is likely idle right here. */
    if (here != NULL)
        call_start(call, call->sent_ns);
    else if (!gust_pool_submit(client->pool, call_start_task, call))
        gust__call_fail(call, GUST_ERR_NOMEM, "out of memory");
    return future;
}

/* ---- blocking conveniences ---- */

int gust_http_request(gust_client_t *client, const gust_request_t *req, gust_response_t **out_resp,
                      char **out_message)
{
    *out_resp = NULL;
    if (out_message != NULL)
        *out_message = NULL;
    gust_future_t *future = gust_http_send(client, req);
    if (future == NULL) {
        if (out_message != NULL)
            *out_message = strdup("out of memory");
        return GUST_ERR_NOMEM;
    }
    gust_future_wait(future);
    int err = gust_future_error(future);
    if (err == 0)
        *out_resp = gust_response_up_ref(gust_http_response(future));
    else if (out_message != NULL)
        *out_message = strdup(gust_future_message(future));
    gust_future_free(future);
    return err;
}

int gust_http_get(gust_client_t *client, const char *url, gust_response_t **out_resp,
                  char **out_message)
{
    gust_request_t req = {.url = url};
    return gust_http_request(client, &req, out_resp, out_message);
}

int gust_http_post(gust_client_t *client, const char *url, const void *body, size_t body_len,
                   const char *content_type, gust_response_t **out_resp, char **out_message)
{
    gust_header_t type = {"Content-Type", content_type};
    gust_request_t req = {
        .method = "POST",
        .url = url,
        .headers = &type,
        .num_headers = content_type != NULL ? 1 : 0,
        .body = body,
        .body_len = (ssize_t)body_len,
    };
    return gust_http_request(client, &req, out_resp, out_message);
}
