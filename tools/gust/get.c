/* `gust get`: one request, like curl: the body to stdout (or a file), the
 * headers too with -i, a failure as one line naming the URL and the cause. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/gust/internal.h"

static const char usage[] =
    "usage: gust get [-i] [-o FILE] [-X METHOD] [-H 'Name: value']... [-d DATA | -d @FILE]\n"
    "                [--timeout S] [-k] [-L] [--cacert FILE] [-f] [-v] URL\n";

static const char help[] =
    "\n"
    "Send one request and write the response body to stdout.\n"
    "\n"
    "  -i, --include        write the status line and headers before the body\n"
    "  -o, --output FILE    write to FILE instead of stdout\n"
    "  -X, --request METHOD the method (default GET, or POST with -d)\n"
    "  -H, --header H       add the header 'Name: value' (repeatable)\n"
    "  -d, --data DATA      send DATA as the body; @FILE reads it from FILE (@- from stdin);\n"
    "                       repeated, the parts are joined with '&'. Content-Type is\n"
    "                       application/x-www-form-urlencoded unless -H sets one\n"
    "      --timeout S      give up after S seconds in all (decimals allowed)\n"
    "  -k, --insecure       do not verify the server's TLS certificate\n"
    "  -L, --location       follow redirects (at most 10); without it a 3xx is the answer\n"
    "      --cacert FILE    trust the CAs in FILE (PEM) instead of the system's\n"
    "  -f, --fail           on an HTTP status of 400 or more, write no body and exit 22\n"
    "  -v, --verbose        write the status, timings and connection reuse to stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 for any response (22 with --fail for a status >= 400), 1 when the\n"
    "request failed (the message on stderr names the URL and the cause), 2 for bad\n"
    "arguments.\n";

enum {
    OPT_HELP = 1,
    OPT_INCLUDE,
    OPT_OUTPUT,
    OPT_REQUEST,
    OPT_DATA,
    OPT_LOCATION,
    OPT_FAIL,
    OPT_VERBOSE,
};

static const args_opt_t options[] = {
    {OPT_HELP, "help", 'h', false},
    {OPT_INCLUDE, "include", 'i', false},
    {OPT_OUTPUT, "output", 'o', true},
    {OPT_REQUEST, "request", 'X', true},
    {OPT_HEADER, "header", 'H', true},
    {OPT_DATA, "data", 'd', true},
    {OPT_TIMEOUT, "timeout", 0, true},
    {OPT_INSECURE, "insecure", 'k', false},
    {OPT_LOCATION, "location", 'L', false},
    {OPT_CACERT, "cacert", 0, true},
    {OPT_FAIL, "fail", 'f', false},
    {OPT_VERBOSE, "verbose", 'v', false},
    {0, NULL, 0, false},
};

typedef struct get_s {
    const char *url;
    const char *method;
    const char *output;
    bool include, follow, fail, verbose;
    client_opts_t client;
    client_headers_t headers; /* sent with the request; its spare slot for Content-Type */
    char *body;               /* the -d parts joined, or NULL */
    size_t body_len;
} get_t;

/* Appends `data` (or the file it names after '@') to the body; false with
 * errno set (and *out_path the file) on a read failure. */
static bool add_data(get_t *g, const char *data, const char **out_path)
{
    char *part = NULL;
    size_t len = 0;
    *out_path = NULL;
    if (data[0] == '@') {
        const char *path = data + 1;
        *out_path = strcmp(path, "-") == 0 ? "stdin" : path;
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (f == NULL)
            return false;
        size_t cap = 0;
        for (;;) {
            if (len == cap) {
                char *grown = realloc(part, cap = cap != 0 ? cap * 2 : 4096);
                if (grown == NULL) {
                    free(part);
                    if (f != stdin)
                        fclose(f);
                    errno = ENOMEM;
                    return false;
                }
                part = grown;
            }
            size_t n = fread(part + len, 1, cap - len, f);
            len += n;
            if (n == 0)
                break;
        }
        bool failed = ferror(f) != 0;
        if (f != stdin)
            fclose(f);
        if (failed) {
            free(part);
            errno = EIO;
            return false;
        }
    } else {
        part = (char *)data;
        len = strlen(data);
    }
    size_t sep = g->body != NULL ? 1 : 0;
    char *joined = realloc(g->body, g->body_len + sep + len + 1);
    if (joined != NULL) {
        if (sep)
            joined[g->body_len] = '&';
        memcpy(joined + g->body_len + sep, part, len);
        g->body_len += sep + len;
        joined[g->body_len] = '\0';
        g->body = joined;
    }
    if (data[0] == '@')
        free(part);
    if (joined == NULL)
        errno = ENOMEM;
    return joined != NULL;
}

static bool has_header(const get_t *g, const char *name)
{
    for (size_t i = 0; i < g->headers.num; i++) {
        if (strcasecmp(g->headers.list[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Writes the status line and headers (-i); false once the sink failed. */
static bool write_head(sink_t *sink, const gust_response_t *resp)
{
    bool ok = sink_printf(sink, "HTTP/1.%d %d %s\r\n", gust_response_http_minor(resp),
                          gust_response_status(resp), gust_response_reason(resp));
    for (size_t i = 0; ok && i < gust_response_num_headers(resp); i++) {
        const char *name, *value;
        gust_response_header_at(resp, i, &name, &value);
        ok = sink_printf(sink, "%s: %s\r\n", name, value);
    }
    return ok && sink_printf(sink, "\r\n");
}

static void write_verbose(const gust_response_t *resp)
{
    gust_timings_t t = gust_response_timings(resp);
    char dns[32], connect[32], first[32], total[32];
    fprintf(stderr, "* %d %s from %s\n", gust_response_status(resp), gust_response_reason(resp),
            gust_response_url(resp));
    fprintf(stderr, "* %u redirects, %s connection\n", gust_response_num_redirects(resp),
            gust_response_reused(resp) ? "a reused" : "a new");
    fprintf(stderr, "* ms: dns %s, connect %s, first byte %s, total %s\n",
            stats_ms(dns, sizeof(dns), t.dns_ns / 1000),
            stats_ms(connect, sizeof(connect), t.connect_ns / 1000),
            stats_ms(first, sizeof(first), t.first_byte_ns / 1000),
            stats_ms(total, sizeof(total), t.total_ns / 1000));
}

/* The response as it streams in, straight to the output: the client hands
 * over the final response alone (a redirect's body never comes), and
 * retries a request only before any byte of its answer. */
typedef struct body_s {
    sink_t sink;
    const char *name; /* the sink's file, for messages */
    bool include;     /* -i: the head goes first */
    bool fail;        /* -f: nothing is written for a status >= 400 */
    bool refused;     /* it was such a status */
} body_t;

/* on_head, on the worker, before the body. A failed write cancels the
 * request. */
static int on_head(void *arg, const gust_response_t *head)
{
    body_t *b = arg;
    b->refused = b->fail && gust_response_status(head) >= 400;
    return b->refused || !b->include || write_head(&b->sink, head) ? 0 : 1;
}

/* on_body, on the worker. A failed write cancels the request. */
static int on_body(void *arg, const void *chunk, size_t len)
{
    body_t *b = arg;
    return b->refused || sink_write(&b->sink, chunk, len) ? 0 : 1;
}

static void report_sink_failure(const body_t *b)
{
    fprintf(stderr, "gust: cannot %s %s: %s\n", b->sink.failed_to, b->name, strerror(b->sink.err));
}

/* Sends the request and writes the outcome; returns the exit code. */
static int run(get_t *g)
{
    client_t c;
    g->client.threads = 1;
    if (!client_new(&c, &g->client))
        return EXIT_FAILED;
    /* A reader that goes away (`| head`) makes a write fail with EPIPE,
     * which cancels the request, rather than killing the process. */
    signal(SIGPIPE, SIG_IGN);
    const char *out_path = g->output != NULL && strcmp(g->output, "-") != 0 ? g->output : NULL;
    body_t body = {
        .name = out_path != NULL ? out_path : "stdout",
        .include = g->include,
        .fail = g->fail,
    };
    if (out_path != NULL)
        body.sink.path = out_path;
    else
        body.sink.file = stdout;
    size_t num_headers = g->headers.num;
    if (g->body != NULL && !has_header(g, "Content-Type"))
        g->headers.list[num_headers++] =
            (gust_header_t){"Content-Type", "application/x-www-form-urlencoded"};
    gust_request_t req = {
        .method = g->method != NULL ? g->method
                  : g->body != NULL ? "POST"
                                    : "GET",
        .url = g->url,
        .headers = g->headers.list,
        .num_headers = num_headers,
        .body = g->body,
        .body_len = g->body != NULL ? (ssize_t)g->body_len : 0,
        .max_redirects = g->follow ? 0 : -1,
        .on_body = on_body,
        .on_body_arg = &body,
        .on_head = on_head,
        .on_head_arg = &body,
    };
    int rc = EXIT_FAILED;
    gust_future_t *f = gust_http_send(c.client, &req);
    if (f == NULL) {
        fprintf(stderr, "gust: out of memory\n");
        goto done;
    }
    gust_future_wait(f);
    gust_response_t *resp = gust_http_response(f);
    if (resp == NULL) {
        if (body.sink.err != 0)
            report_sink_failure(&body);
        else
            fprintf(stderr, "gust: %s\n", gust_future_message(f));
        goto done;
    }
    if (g->verbose)
        write_verbose(resp);
    int status = gust_response_status(resp);
    if (g->fail && status >= 400) {
        fprintf(stderr, "gust: %s %s: the server answered %d %s\n", req.method,
                gust_response_url(resp), status, gust_response_reason(resp));
        rc = EXIT_HTTP_ERROR;
        goto done;
    }
    /* An empty body makes an empty file all the same. */
    if (sink_write(&body.sink, "", 0) && sink_close(&body.sink))
        rc = EXIT_DONE;
    else
        report_sink_failure(&body);
done:
    if (body.sink.file != NULL && body.sink.file != stdout)
        fclose(body.sink.file);
    gust_future_free(f);
    client_free(&c);
    return rc;
}

int get_main(int argc, char **argv)
{
    get_t g = {0};
    int rc = EXIT_USAGE;
    args_t a;
    args_init(&a, argc, argv);
    for (int opt; (opt = args_next(&a, options)) != ARGS_END;) {
        bool ok = true;
        const char *path;
        switch (opt) {
        case OPT_HELP:
            rc = args_help(usage, help);
            goto done;
        case OPT_INCLUDE:
            g.include = true;
            break;
        case OPT_OUTPUT:
            g.output = a.value;
            break;
        case OPT_REQUEST:
            g.method = a.value;
            break;
        case OPT_DATA:
            if (!add_data(&g, a.value, &path)) {
                fprintf(stderr, "gust: cannot read %s: %s\n", path != NULL ? path : "-d",
                        strerror(errno));
                rc = EXIT_FAILED;
                goto done;
            }
            break;
        case OPT_LOCATION:
            g.follow = true;
            break;
        case OPT_FAIL:
            g.fail = true;
            break;
        case OPT_VERBOSE:
            g.verbose = true;
            break;
        case ARGS_ARGUMENT:
            ok = args_one(&a, "URL", &g.url);
            break;
        default:
            ok = client_option(&a, opt, &g.client, &g.headers);
        }
        if (!ok) {
            rc = args_usage_error("gust get", usage, "%s", a.error);
            goto done;
        }
    }
    if (g.url == NULL)
        rc = args_usage_error("gust get", usage, "a URL is needed");
    else
        rc = run(&g);
done:
    client_headers_free(&g.headers);
    free(g.body);
    return rc;
}
