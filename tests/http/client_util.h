/* What the HTTP client's tests share: sending a request and waiting for it
 * with a bound, checking bodies against the test server's pattern, and
 * reading what /echo sent back.
 *
 * Every wait here is bounded: a client that never completes a future fails
 * the test with a message naming the URL, instead of running into Bazel's
 * timeout. */
#ifndef GUST_TESTS_HTTP_CLIENT_UTIL_H
#define GUST_TESTS_HTTP_CLIENT_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/response.h"
#include "tests/support/check.h"

#define MS (UINT64_C(1000000))

/* Seconds a test waits for one request before it fails. */
enum { REQUEST_WAIT_S = 15 };

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How one request ended. */
typedef struct outcome_s {
    gust_future_state_t state;
    int err;               /* 0 for a response */
    char *message;         /* the error's message (owned), or NULL */
    gust_response_t *resp; /* an owned reference, or NULL */
    uint64_t elapsed_ns;   /* from send to the wait's return */
} outcome_t;

/* Waits for `future` (at most `seconds`) and takes what it completed with;
 * frees the caller's reference to the future. */
static inline outcome_t outcome_of(gust_future_t *future, const char *what, int seconds)
{
    outcome_t out = {0};
    out.state = gust_future_wait_for(future, (uint64_t)seconds * 1000000000u);
    if (out.state == GUST_FUTURE_PENDING)
        CHECK_FAIL_("%s: not complete within %d s", what, seconds);
    out.err = gust_future_error(future);
    if (out.state == GUST_FUTURE_VALUE) {
        out.resp = gust_http_response(future);
        ASSERT_NOT_NULL(out.resp);
        gust_response_up_ref(out.resp);
    } else {
        const char *message = gust_future_message(future);
        ASSERT_NOT_NULL(message);
        out.message = strdup(message);
        ASSERT_NOT_NULL(out.message);
    }
    gust_future_free(future);
    return out;
}

/* Sends `req` and waits for it. */
static inline outcome_t send_wait(gust_client_t *client, const gust_request_t *req)
{
    uint64_t start = now_ns();
    gust_future_t *future = gust_http_send(client, req);
    ASSERT_NOT_NULL(future);
    outcome_t out = outcome_of(future, req->url, REQUEST_WAIT_S);
    out.elapsed_ns = now_ns() - start;
    return out;
}

/* A GET of `url`. */
static inline outcome_t get_wait(gust_client_t *client, const char *url)
{
    gust_request_t req = {.url = url};
    return send_wait(client, &req);
}

static inline void outcome_clear(outcome_t *out)
{
    gust_response_free(out->resp);
    free(out->message);
    memset(out, 0, sizeof(*out));
}

/* Fails the test, saying why, unless `out` is a response with `status`. */
#define ASSERT_RESPONSE(out, status_)                                                              \
    do {                                                                                           \
        const outcome_t *assert_out_ = &(out);                                                     \
        if (assert_out_->resp == NULL)                                                             \
            CHECK_FAIL_("%s: expected status %d, got error %s: %s", #out, (int)(status_),          \
                        gust_err_name(assert_out_->err),                                           \
                        assert_out_->message ? assert_out_->message : "(no message)");             \
        ASSERT_EQ(gust_response_status(assert_out_->resp), (status_));                             \
    } while (0)

/* Fails the test unless `out` is the error `err_`. */
#define ASSERT_ERROR(out, err_)                                                                    \
    do {                                                                                           \
        const outcome_t *assert_out_ = &(out);                                                     \
        if (assert_out_->resp != NULL)                                                             \
            CHECK_FAIL_("%s: expected error %s, got status %d", #out, gust_err_name(err_),         \
                        gust_response_status(assert_out_->resp));                                  \
        if (assert_out_->err != (err_))                                                            \
            CHECK_FAIL_("%s: expected error %s, got %s: %s", #out, gust_err_name(err_),            \
                        gust_err_name(assert_out_->err), assert_out_->message);                    \
    } while (0)

/* GETs `url` and fails the test unless the answer is a 200 that came on a
 * reused connection (`reused` true) or on a new one. */
#define ASSERT_GET_REUSED(client, url, reused)                                                     \
    do {                                                                                           \
        outcome_t assert_get_ = get_wait((client), (url));                                         \
        ASSERT_RESPONSE(assert_get_, 200);                                                         \
        ASSERT_EQ(gust_response_reused(assert_get_.resp), (reused));                               \
        outcome_clear(&assert_get_);                                                               \
    } while (0)

/* Sends `n` GETs of `url` at once, then fails the test unless each got 200. */
static inline void get_many_ok(gust_client_t *client, const char *url, size_t n)
{
    gust_future_t **futures = calloc(n, sizeof(*futures));
    ASSERT_NOT_NULL(futures);
    for (size_t i = 0; i < n; i++) {
        gust_request_t req = {.url = url};
        futures[i] = gust_http_send(client, &req);
        ASSERT_NOT_NULL(futures[i]);
    }
    for (size_t i = 0; i < n; i++) {
        outcome_t out = outcome_of(futures[i], url, REQUEST_WAIT_S);
        ASSERT_RESPONSE(out, 200);
        outcome_clear(&out);
    }
    free(futures);
}

/* Fails the test unless `haystack` contains `needle`. */
#define ASSERT_CONTAINS(haystack, needle)                                                          \
    do {                                                                                           \
        const char *assert_h_ = (haystack);                                                        \
        const char *assert_n_ = (needle);                                                          \
        if (assert_h_ == NULL || strstr(assert_h_, assert_n_) == NULL)                             \
            CHECK_FAIL_("%s contains %s (\"%s\" does not contain \"%s\")", #haystack, #needle,     \
                        assert_h_ ? assert_h_ : "(null)", assert_n_);                              \
    } while (0)

#define ASSERT_NOT_CONTAINS(haystack, needle)                                                      \
    do {                                                                                           \
        const char *assert_h_ = (haystack);                                                        \
        const char *assert_n_ = (needle);                                                          \
        if (assert_h_ == NULL || strstr(assert_h_, assert_n_) != NULL)                             \
            CHECK_FAIL_("%s does not contain %s (\"%s\" contains \"%s\")", #haystack, #needle,     \
                        assert_h_ ? assert_h_ : "(null)", assert_n_);                              \
    } while (0)

/* The body of a response. */
static inline const char *body_of(const outcome_t *out, size_t *out_len)
{
    ASSERT_NOT_NULL(out->resp);
    return gust_response_body(out->resp, out_len);
}

/* Fails the test unless buf holds bytes [offset, offset + len) of the test
 * server's pattern ('a' + i % 26), naming the first wrong byte. */
static inline void assert_pattern(const void *buf, size_t len, size_t offset)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        unsigned char want = (unsigned char)('a' + (offset + i) % 26);
        if (p[i] != want)
            CHECK_FAIL_("pattern byte %zu is 0x%02x, want 0x%02x ('%c')", offset + i, p[i], want,
                        want);
    }
}

/* Fails the test unless the response's body is `len` bytes of the pattern,
 * followed by a NUL. */
static inline void assert_pattern_body(const outcome_t *out, size_t len)
{
    size_t got;
    const char *body = body_of(out, &got);
    ASSERT_UEQ(got, len);
    assert_pattern(body, got, 0);
    ASSERT_EQ(body[got], '\0');
}

/* Fails the test unless the response's body is exactly `text`. */
static inline void assert_body(const outcome_t *out, const char *text)
{
    size_t got;
    const char *body = body_of(out, &got);
    ASSERT_UEQ(got, strlen(text));
    ASSERT_EQ(memcmp(body, text, got), 0);
}

/* ---- What /echo sent back: the request exactly as the server got it ---- */

typedef struct echo_s {
    char *raw; /* NUL-terminated copy */
    size_t raw_len;
    char *request_line; /* "GET /echo HTTP/1.1" */
    const char *body;   /* after the blank line (with any chunk framing) */
    size_t body_len;
} echo_t;

static inline echo_t echo_parse(const outcome_t *out)
{
    echo_t e = {0};
    size_t len;
    const char *body = body_of(out, &len);
    e.raw = malloc(len + 1);
    ASSERT_NOT_NULL(e.raw);
    memcpy(e.raw, body, len);
    e.raw[len] = '\0';
    e.raw_len = len;
    const char *eol = strstr(e.raw, "\r\n");
    ASSERT_NOT_NULL(eol);
    e.request_line = strndup(e.raw, (size_t)(eol - e.raw));
    ASSERT_NOT_NULL(e.request_line);
    const char *end = strstr(e.raw, "\r\n\r\n");
    ASSERT_NOT_NULL(end);
    e.body = end + 4;
    e.body_len = len - (size_t)(e.body - e.raw);
    return e;
}

/* The value of the first header `name` in the echoed head (a malloc'd
 * copy), or NULL. */
static inline char *echo_header(const echo_t *e, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = strstr(e->raw, "\r\n") + 2;
    while (line < e->body - 2) {
        const char *eol = strstr(line, "\r\n");
        if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            const char *v = line + name_len + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return strndup(v, (size_t)(eol - v));
        }
        line = eol + 2;
    }
    return NULL;
}

static inline void echo_clear(echo_t *e)
{
    free(e->raw);
    free(e->request_line);
    memset(e, 0, sizeof(*e));
}

/* A client on `runtime` (NULL: its own) with `opts` (NULL: the defaults);
 * failing to make one fails the test. */
static inline gust_client_t *new_client(gust_runtime_t *runtime, const gust_client_opts_t *opts)
{
    gust_client_t *client = gust_client_new(runtime, opts);
    ASSERT_NOT_NULL(client);
    return client;
}

static inline gust_client_stats_t client_stats(const gust_client_t *client)
{
    gust_client_stats_t stats;
    gust_client_stats(client, &stats);
    return stats;
}

/* ---- Running each test in a process of its own ----
 *
 * A failed check aborts; run in a child process, it ends only that test,
 * and the others still run and report. The parent must have no threads when
 * it forks (start servers and runtimes inside the tests). */

/* Runs fn(arg) in a child process that gets `limit_s` seconds; returns
 * whether it exited with status 0, saying why not on stderr. */
static inline bool run_in_child(void (*fn)(const void *arg), const void *arg, int limit_s)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        alarm((unsigned)limit_s); /* a hang ends the child, and the parent says so */
        fn(arg);
        fflush(stderr);
        exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ASSERT_EQ(errno, EINTR);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFSIGNALED(status))
        fprintf(stderr, "    FAILED: killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (not done within its time limit)" : "");
    else
        fprintf(stderr, "    FAILED: exit status %d\n", WEXITSTATUS(status));
    return false;
}

/* A test: fn(), or with_arg(arg) for one case of a table. */
typedef struct test_s {
    const char *name;
    void (*fn)(void);
    void (*with_arg)(const void *arg);
    const void *arg;
} test_t;

static inline void run_test_fn(const void *arg)
{
    const test_t *test = arg;
    if (test->fn != NULL)
        test->fn();
    else
        test->with_arg(test->arg);
}

/* Runs each test in a child (see run_in_child) and prints a summary;
 * returns main's exit status: 0 if all passed. */
static inline int run_tests(const test_t *tests, size_t num, int limit_s)
{
    size_t failed = 0;
    bool *passed = calloc(num, sizeof(*passed));
    ASSERT_NOT_NULL(passed);
    for (size_t i = 0; i < num; i++) {
        fprintf(stderr, "[%zu/%zu] %s\n", i + 1, num, tests[i].name);
        uint64_t start = now_ns();
        passed[i] = run_in_child(run_test_fn, &tests[i], limit_s);
        if (passed[i])
            fprintf(stderr, "    ok (%llu ms)\n", (unsigned long long)((now_ns() - start) / MS));
        else
            failed++;
    }
    if (failed > 0) {
        fprintf(stderr, "\n%zu of %zu FAILED:\n", failed, num);
        for (size_t i = 0; i < num; i++) {
            if (!passed[i])
                fprintf(stderr, "  %s\n", tests[i].name);
        }
    } else {
        fprintf(stderr, "all %zu passed\n", num);
    }
    free(passed);
    return failed > 0 ? 1 : 0;
}

#endif
