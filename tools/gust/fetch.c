/* `gust fetch`: every URL of a file through gust_http_imap, one JSON line per
 * result in completion order, a progress bar and a summary; and the engine
 * that `gust demo` shares.
 *
 * The generator reads the next URL only when imap has a free slot, and keeps
 * its URL and start time in the pending table until imap reports the index.
 * A request's time is the response's own (gust_response_timings: from its
 * send to its last byte, on the last attempt); a failure's is from when
 * the generator handed it out to its report, which with no per-host limit
 * or delay is the same start. Bodies stream (fetch_body_t): counted, and
 * written to --bodies as they arrive, never held whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/gust/internal.h"

/* ---- the engine ---- */

typedef struct run_s {
    const fetch_opts_t *opts;
    fetch_next_fn next;
    void *next_arg;
    pending_t pending;
    /* The last request generated: imap asks for an index again when it
     * could not take the request (out of memory), and must get the same. */
    size_t last_index;
    const char *last_url; /* in its pending entry, or NULL */
    struct fetch_body_s *last_body;
    bool input_failed;
    bool out_of_memory;
    unsigned long bodies_failed;
} run_t;

/* A body as it streams in. The client streams the final response of each
 * request alone (never a redirect's body), and on_head tells where it
 * starts; imap's retries (of 429 and 503) are requests of their own, so a
 * retry's body replaces the attempt's before it. */
typedef struct fetch_body_s {
    sink_t sink;
    char path[]; /* DIR/<index>, or "" */
} fetch_body_t;

static fetch_body_t *body_new(const fetch_opts_t *o, size_t index)
{
    int len = o->bodies_dir != NULL ? snprintf(NULL, 0, "%s/%zu", o->bodies_dir, index) : 0;
    fetch_body_t *b = calloc(1, sizeof(*b) + (size_t)len + 1);
    if (b != NULL && o->bodies_dir != NULL) {
        snprintf(b->path, (size_t)len + 1, "%s/%zu", o->bodies_dir, index);
        b->sink.path = b->path;
    }
    return b;
}

/* on_head, on the worker: a response's body starts. */
static int body_head(void *arg, const gust_response_t *head)
{
    (void)head;
    fetch_body_t *b = arg;
    return sink_restart(&b->sink) ? 0 : 1;
}

/* on_body, on the worker; a failed write cancels the request. */
static int body_chunk(void *arg, const void *chunk, size_t len)
{
    fetch_body_t *b = arg;
    return sink_write(&b->sink, chunk, len) ? 0 : 1;
}

static gust_request_t request(const char *url, fetch_body_t *body)
{
    if (body == NULL)
        return (gust_request_t){.url = url};
    return (gust_request_t){.url = url,
                            .on_body = body_chunk,
                            .on_body_arg = body,
                            .on_head = body_head,
                            .on_head_arg = body};
}

/* Settles the streamed body of a result: closes its file, made empty for an
 * empty body and removed after a failure. Returns its length. */
static uint64_t body_finish(run_t *run, fetch_body_t *b, const gust_map_result_t *r)
{
    bool ok = r->err != 0 || sink_write(&b->sink, "", 0);
    ok = sink_close(&b->sink) && ok;
    if (b->sink.err != 0 && run->bodies_failed++ == 0)
        fprintf(stderr, "%s: cannot %s %s: %s\n", run->opts->label, b->sink.failed_to, b->path,
                strerror(b->sink.err));
    if (r->err != 0 && b->path[0] != '\0')
        unlink(b->path); /* no response, no file */
    return r->err == 0 && ok ? b->sink.bytes : 0;
}

/* imap's generator, on the calling thread. */
static bool generate(void *arg, size_t index, gust_request_t *out)
{
    run_t *run = arg;
    if (run->last_url != NULL && index == run->last_index) {
        *out = request(run->last_url, run->last_body);
        return true;
    }
    if (run->input_failed || run->out_of_memory)
        return false;
    const char *url;
    int rc = run->next(run->next_arg, &url);
    if (rc < 0)
        run->input_failed = true;
    if (rc <= 0)
        return false;
    pending_entry_t *e = pending_put(&run->pending, index, url, now_ns());
    if (e != NULL && !run->opts->keep_bodies && (e->body = body_new(run->opts, index)) == NULL) {
        free(pending_take(&run->pending, index));
        e = NULL;
    }
    if (e == NULL) {
        fprintf(stderr, "%s: out of memory; stopping after the requests under way\n",
                run->opts->label);
        run->out_of_memory = true;
        return false;
    }
    run->last_index = index;
    run->last_url = e->url;
    run->last_body = e->body;
    *out = request(run->last_url, run->last_body);
    return true;
}

static void write_line(FILE *out, const char *url, const gust_map_result_t *r, size_t bytes,
                       uint64_t time_ns)
{
    fprintf(out, "{\"index\":%zu,\"url\":", r->index);
    json_write_string(out, url);
    double ms = (double)time_ns / 1e6;
    if (r->err == 0) {
        fprintf(out,
                ",\"status\":%d,\"bytes\":%zu,\"time_ms\":%.3f,\"reused\":%s,\"attempts\":%u,"
                "\"error\":null}\n",
                gust_response_status(r->response), bytes, ms,
                gust_response_reused(r->response) ? "true" : "false", r->attempts);
        return;
    }
    fprintf(out,
            ",\"status\":null,\"bytes\":0,\"time_ms\":%.3f,\"reused\":false,\"attempts\":%u,"
            "\"error\":",
            ms, r->attempts);
    const char *name = gust_err_name(r->err);
    const char *message = r->message != NULL ? r->message : gust_strerror(r->err);
    size_t len = strlen(name) + 2 + strlen(message) + 1;
    char *error = malloc(len);
    if (error != NULL) {
        snprintf(error, len, "%s: %s", name, message);
        json_write_string(out, error);
        free(error);
    } else {
        json_write_string(out, name);
    }
    fputs("}\n", out);
}

static void report(run_t *run, stats_t *stats, progress_t *progress, bool out_on_tty,
                   const gust_map_result_t *r)
{
    const fetch_opts_t *o = run->opts;
    pending_entry_t *e = pending_take(&run->pending, r->index);
    if (e != NULL && e->url == run->last_url) {
        run->last_url = NULL; /* freed below */
        run->last_body = NULL;
    }
    uint64_t now = now_ns();
    const char *url = e != NULL ? e->url : "";
    size_t bytes = 0;
    uint64_t time_ns = e != NULL ? now - e->start_ns : 0;
    int status = 0;
    if (e != NULL && e->body != NULL)
        bytes = body_finish(run, e->body, r);
    else if (r->err == 0)
        (void)gust_response_body(r->response, &bytes);
    if (r->err == 0) {
        status = gust_response_status(r->response);
        time_ns = gust_response_timings(r->response).total_ns;
    }
    stats_record(stats, status, r->err, bytes, time_ns);
    if (o->out != NULL) {
        if (out_on_tty)
            progress_lock(progress);
        write_line(o->out, url, r, bytes, time_ns);
        if (out_on_tty) {
            fflush(o->out);
            progress_unlock(progress);
        }
    }
    if (o->on_result != NULL)
        o->on_result(o->arg, url, r);
    if (e != NULL)
        free(e->body);
    free(e);
}

bool fetch_run(const fetch_opts_t *opts, fetch_next_fn next, void *next_arg, fetch_outcome_t *out)
{
    *out = (fetch_outcome_t){0};
    run_t run = {.opts = opts, .next = next, .next_arg = next_arg};
    stats_t *stats = stats_new();
    client_t c;
    if (stats == NULL) {
        fprintf(stderr, "%s: out of memory\n", opts->label);
        return false;
    }
    if (!client_new(&c, &opts->client)) {
        stats_free(stats);
        return false;
    }
    gust_map_opts_t mo = gust_map_opts_default();
    mo.size = opts->concurrency;
    mo.per_host = opts->per_host;
    mo.host_delay_ns = opts->host_delay_ns;
    mo.retries = opts->retries;
    gust_imap_t *it = gust_http_imap(c.client, generate, &run, &mo);
    if (it == NULL) {
        fprintf(stderr, "%s: out of memory\n", opts->label);
        client_free(&c);
        stats_free(stats);
        return false;
    }

    bool out_on_tty = opts->out != NULL && isatty(fileno(opts->out));
    progress_t progress;
    uint64_t start = now_ns();
    progress_start(&progress, stats, !opts->quiet, opts->total, opts->count_path, 0);
    gust_map_result_t r;
    while (gust_imap_next(it, &r)) {
        report(&run, stats, &progress, out_on_tty, &r);
        gust_response_free(r.response);
        out->num++;
    }
    out->wall_ns = now_ns() - start;
    progress_stop(&progress);
    gust_imap_free(it);

    if (opts->out != NULL && (fflush(opts->out) != 0 || ferror(opts->out))) {
        fprintf(stderr, "%s: cannot write the results: %s\n", opts->label, strerror(errno));
        out->output_failed = true;
    }
    if (run.bodies_failed > 0) {
        fprintf(stderr, "%s: %lu bodies could not be written\n", opts->label, run.bodies_failed);
        out->output_failed = true;
    }
    out->input_failed = run.input_failed || run.out_of_memory;
    if (!opts->quiet) {
        gust_client_stats_t cs;
        gust_client_stats(c.client, &cs);
        stats_summary(stats, stderr, opts->label, out->wall_ns, &cs);
    }
    pending_clear(&run.pending);
    client_free(&c);
    stats_free(stats);
    return true;
}

/* ---- the command ---- */

static const char usage[] =
    "usage: gust fetch [-c N] [--per-host N] [--delay MS] [--retries N] [--timeout S] [-k]\n"
    "                  [--cacert FILE] [-H 'Name: value'] [--out FILE] [--bodies DIR]\n"
    "                  [--threads T] [--quiet] [FILE]\n";

static const char help[] =
    "\n"
    "Fetch every URL listed in FILE (or stdin), one per line; blank lines and\n"
    "lines starting with '#' are skipped. Each result is one JSON line, in the\n"
    "order requests complete:\n"
    "\n"
    "  {\"index\":0,\"url\":\"...\",\"status\":200,\"bytes\":1024,\"time_ms\":1.2,\n"
    "   \"reused\":true,\"attempts\":1,\"error\":null}\n"
    "\n"
    "and for a request that got no response, \"status\":null and\n"
    "\"error\":\"NAME: message\" (NAME as in gust/err.h: CONNECT_REFUSED, TOTAL_TIMEOUT...).\n"
    "time_ms is a response's own time (its last attempt, from sending to the last\n"
    "byte), or for a failure the time since its URL was read. Redirects are\n"
    "followed. On a terminal a progress bar is drawn on stderr;\n"
    "a summary follows on stderr at the end.\n"
    "\n"
    "  -c, --concurrency N  requests in flight at most (default 50)\n"
    "      --per-host N     requests in flight to one host at most (default: no limit)\n"
    "      --delay MS       milliseconds between starts of requests to one host (default 0)\n"
    "      --retries N      retries of connect failures, 429 and 503, with backoff (default 0)\n"
    "      --timeout S      total seconds per request, redirects included (default 30)\n"
    "  -k, --insecure       do not verify TLS certificates\n"
    "      --cacert FILE    trust the CAs in FILE (PEM) instead of the system's\n"
    "  -H, --header H       add the header 'Name: value' to every request (repeatable)\n"
    "  -o, --out FILE       write the JSON lines to FILE instead of stdout\n"
    "      --bodies DIR     write each response body to DIR/<index>\n"
    "      --threads T      worker threads (default: one per CPU)\n"
    "  -q, --quiet          no progress bar and no summary\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 when every URL was attempted (failed requests are results,\n"
    "not failures of the tool), 1 if the input or output failed, 2 for bad\n"
    "arguments.\n";

enum {
    OPT_HELP = 1,
    OPT_CONCURRENCY,
    OPT_PER_HOST,
    OPT_DELAY,
    OPT_RETRIES,
    OPT_OUT,
    OPT_BODIES,
    OPT_QUIET,
};

static const args_opt_t options[] = {
    {OPT_HELP, "help", 'h', false},         {OPT_CONCURRENCY, "concurrency", 'c', true},
    {OPT_PER_HOST, "per-host", 0, true},    {OPT_DELAY, "delay", 0, true},
    {OPT_RETRIES, "retries", 0, true},      {OPT_TIMEOUT, "timeout", 0, true},
    {OPT_INSECURE, "insecure", 'k', false}, {OPT_CACERT, "cacert", 0, true},
    {OPT_HEADER, "header", 'H', true},      {OPT_OUT, "out", 'o', true},
    {OPT_BODIES, "bodies", 0, true},        {OPT_THREADS, "threads", 0, true},
    {OPT_QUIET, "quiet", 'q', false},       {0, NULL, 0, false},
};

static int next_line(void *arg, const char **out_url)
{
    urls_t *u = arg;
    *out_url = urls_next(u);
    if (*out_url != NULL)
        return 1;
    if (u->err != 0) {
        fprintf(stderr, "gust fetch: cannot read %s: %s\n", u->name, strerror(u->err));
        return -1;
    }
    return 0;
}

int fetch_main(int argc, char **argv)
{
    fetch_opts_t o = {
        .label = "gust fetch",
        .concurrency = 50,
        .client = {.total_timeout_ns = 30 * NS_PER_S},
    };
    const char *path = NULL, *out_path = NULL;
    client_headers_t headers = {0};
    int rc = EXIT_USAGE;
    unsigned long n;
    args_t a;
    args_init(&a, argc, argv);
    for (int opt; (opt = args_next(&a, options)) != ARGS_END;) {
        bool ok = true;
        switch (opt) {
        case OPT_HELP:
            rc = args_help(usage, help);
            goto done;
        case OPT_CONCURRENCY:
            if ((ok = args_uint(&a, "-c", a.value, 1, 100000, &n)))
                o.concurrency = (unsigned)n;
            break;
        case OPT_PER_HOST:
            if ((ok = args_uint(&a, "--per-host", a.value, 1, 100000, &n)))
                o.per_host = (unsigned)n;
            break;
        case OPT_DELAY:
            if ((ok = args_uint(&a, "--delay", a.value, 0, 3600000, &n)))
                o.host_delay_ns = n * NS_PER_MS;
            break;
        case OPT_RETRIES:
            if ((ok = args_uint(&a, "--retries", a.value, 0, 100, &n)))
                o.retries = (unsigned)n;
            break;
        case OPT_OUT:
            out_path = a.value;
            break;
        case OPT_BODIES:
            o.bodies_dir = a.value;
            break;
        case OPT_QUIET:
            o.quiet = true;
            break;
        case ARGS_ARGUMENT:
            ok = args_one(&a, "input file", &path);
            break;
        default:
            ok = client_option(&a, opt, &o.client, &headers);
        }
        if (!ok) {
            rc = args_usage_error("gust fetch", usage, "%s", a.error);
            goto done;
        }
    }
    o.client.headers = headers.list;
    o.client.num_headers = headers.num;

    rc = EXIT_FAILED;
    urls_t u;
    int err = urls_open(&u, path);
    if (err != 0) {
        fprintf(stderr, "gust fetch: cannot open %s: %s\n", path, strerror(err));
        goto done;
    }
    struct stat st;
    if (path != NULL && u.in != stdin && fstat(fileno(u.in), &st) == 0 && S_ISREG(st.st_mode))
        o.count_path = path; /* a regular file can be read twice: count it for the bar */
    o.out = stdout;
    if (out_path != NULL && strcmp(out_path, "-") != 0 && (o.out = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, "gust fetch: cannot open %s: %s\n", out_path, strerror(errno));
        urls_close(&u);
        goto done;
    }
    if (o.bodies_dir != NULL && mkdir(o.bodies_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gust fetch: cannot make %s: %s\n", o.bodies_dir, strerror(errno));
    } else {
        fetch_outcome_t outcome;
        if (fetch_run(&o, next_line, &u, &outcome))
            rc = outcome.input_failed || outcome.output_failed ? EXIT_FAILED : EXIT_DONE;
    }
    if (o.out != stdout && fclose(o.out) != 0 && rc == EXIT_DONE) {
        fprintf(stderr, "gust fetch: cannot write %s: %s\n", out_path, strerror(errno));
        rc = EXIT_FAILED;
    }
    urls_close(&u);
done:
    client_headers_free(&headers);
    return rc;
}
