/* `gust demo`: the fetch job with nothing to set up. It starts a site on
 * 127.0.0.1 (the project's test server over HTTP and HTTPS, and a port that
 * refuses connections), makes a few thousand URLs of it, mostly pages of
 * assorted sizes with some slow ones, some errors, redirects, compressed
 * bodies and refusals, and fetches them exactly as `gust fetch` would. Each
 * URL's outcome is known in advance, so the demo also checks that every URL
 * was reported exactly once and as expected. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

static const char usage[] =
    "usage: gust demo [-c N] [-n N] [--out FILE] [--threads T] [--no-tls] [--quiet]\n";

static const char help[] =
    "\n"
    "Start a local site on 127.0.0.1 and fetch a few thousand of its URLs the way\n"
    "`gust fetch` does (progress bar and summary on stderr): pages of 0 to 128 KiB,\n"
    "slow pages (100-400 ms), 404 and 500 answers, redirect chains, gzip bodies,\n"
    "HTTPS pages (a CA is made for the run) and a port that refuses connections.\n"
    "Failed connections are retried once. Every outcome is checked against what\n"
    "the site was asked for.\n"
    "\n"
    "  -c, --concurrency N  requests in flight at most (default 50)\n"
    "  -n, --urls N         URLs to fetch (default 3000)\n"
    "  -o, --out FILE       write the JSON lines to FILE (- for stdout; default none)\n"
    "      --threads T      worker threads (default: one per CPU)\n"
    "      --no-tls         plain HTTP only\n"
    "  -q, --quiet          no progress bar and no summary\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 when every URL was reported once with the expected outcome,\n"
    "1 otherwise, 2 for bad arguments.\n";

enum {
    OPT_HELP = 1,
    OPT_CONCURRENCY,
    OPT_URLS,
    OPT_OUT,
    OPT_NO_TLS,
    OPT_QUIET,
};

static const args_opt_t options[] = {
    {OPT_HELP, "help", 'h', false},    {OPT_CONCURRENCY, "concurrency", 'c', true},
    {OPT_URLS, "urls", 'n', true},     {OPT_OUT, "out", 'o', true},
    {OPT_THREADS, "threads", 0, true}, {OPT_NO_TLS, "no-tls", 0, false},
    {OPT_QUIET, "quiet", 'q', false},  {0, NULL, 0, false},
};

typedef enum kind_e {
    KIND_BYTES,
    KIND_GZIP,
    KIND_DELAY,
    KIND_STATUS,
    KIND_REDIRECT,
    KIND_DEAD,
} kind_t;

/* One URL and what it must give. */
typedef struct page_s {
    uint8_t kind;
    bool tls;
    bool seen;
    uint32_t n; /* body bytes, the delay in ms, or the status code */
} page_t;

typedef struct demo_s {
    site_t site;
    page_t *pages;
    unsigned long num;
    unsigned long next;
    uint64_t rng;
    char url[256];
    unsigned long reported;
    unsigned long duplicates;
    unsigned long unexpected;
    unsigned long num_tls;
    unsigned long num_dead;
} demo_t;

static uint32_t next_random(demo_t *d)
{
    /* xorshift64*: fixed seed, so every run asks for the same site. */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (uint32_t)((d->rng * UINT64_C(2685821657736338717)) >> 32);
}

static void plan(demo_t *d)
{
    bool tls = d->site.https != NULL;
    for (unsigned long i = 0; i < d->num; i++) {
        page_t *p = &d->pages[i];
        uint32_t r = next_random(d) % 1000;
        if (r < 10) {
            p->kind = KIND_DEAD;
            d->num_dead++;
        } else if (r < 60) {
            p->kind = KIND_DELAY;
            p->n = 100 + next_random(d) % 301;
        } else if (r < 90) {
            p->kind = KIND_STATUS;
            p->n = 500;
        } else if (r < 120) {
            p->kind = KIND_STATUS;
            p->n = 404;
        } else if (r < 160) {
            p->kind = KIND_REDIRECT;
        } else if (r < 210) {
            p->kind = KIND_GZIP;
            p->n = 1 + next_random(d) % 65536;
        } else {
            /* Sizes spread over powers of two, up to 128 KiB. */
            uint32_t e = next_random(d) % 18;
            p->kind = KIND_BYTES;
            p->n =
                e == 0 ? 0 : (UINT32_C(1) << (e - 1)) + next_random(d) % (UINT32_C(1) << (e - 1));
        }
        p->tls = tls && p->kind != KIND_DEAD && next_random(d) % 5 == 0;
        d->num_tls += p->tls;
    }
}

/* The URL source for fetch_run. */
static int next_url(void *arg, const char **out_url)
{
    demo_t *d = arg;
    if (d->next == d->num)
        return 0;
    const page_t *p = &d->pages[d->next++];
    const char *origin = p->kind == KIND_DEAD ? d->site.dead_origin : site_origin(&d->site, p->tls);
    switch (p->kind) {
    case KIND_BYTES:
        snprintf(d->url, sizeof(d->url), "%s/bytes?n=%u", origin, p->n);
        break;
    case KIND_GZIP:
        snprintf(d->url, sizeof(d->url), "%s/gzip?n=%u", origin, p->n);
        break;
    case KIND_DELAY:
        snprintf(d->url, sizeof(d->url), "%s/delay?ms=%u", origin, p->n);
        break;
    case KIND_STATUS:
        snprintf(d->url, sizeof(d->url), "%s/status?code=%u", origin, p->n);
        break;
    case KIND_REDIRECT:
        snprintf(d->url, sizeof(d->url), "%s/redirect-chain?n=2", origin);
        break;
    default:
        snprintf(d->url, sizeof(d->url), "%s/bytes?n=100", origin);
        break;
    }
    *out_url = d->url;
    return 1;
}

/* What went wrong with a result, or NULL if it is what the page promised. */
static const char *check(const page_t *p, const gust_map_result_t *r, char *buf, size_t len)
{
    if (p->kind == KIND_DEAD) {
        if (r->err == GUST_ERR_CONNECT_REFUSED && r->attempts == 2)
            return NULL;
        snprintf(buf, len, "want CONNECT_REFUSED after 2 attempts, got %s after %u",
                 gust_err_name(r->err), r->attempts);
        return buf;
    }
    if (r->err != 0) {
        snprintf(buf, len, "%s: %s", gust_err_name(r->err), r->message);
        return buf;
    }
    int status = gust_response_status(r->response);
    size_t bytes;
    const char *body = gust_response_body(r->response, &bytes);
    int want_status = p->kind == KIND_STATUS ? (int)p->n : 200;
    size_t want_bytes = p->kind == KIND_DELAY      ? 2
                        : p->kind == KIND_REDIRECT ? 4
                        : p->kind == KIND_STATUS   ? (size_t)-1
                                                   : p->n;
    if (status != want_status) {
        snprintf(buf, len, "want status %d, got %d", want_status, status);
        return buf;
    }
    if (want_bytes != (size_t)-1 && bytes != want_bytes) {
        snprintf(buf, len, "want %zu bytes, got %zu", want_bytes, bytes);
        return buf;
    }
    if (p->kind == KIND_REDIRECT &&
        (memcmp(body, "done", 4) != 0 || gust_response_num_redirects(r->response) != 2)) {
        snprintf(buf, len, "want \"done\" after 2 redirects, got %u redirects",
                 gust_response_num_redirects(r->response));
        return buf;
    }
    if (p->kind == KIND_BYTES || p->kind == KIND_GZIP) {
        for (size_t i = 0; i < bytes; i++) {
            if (body[i] != (char)('a' + i % 26)) {
                snprintf(buf, len, "byte %zu of the body is wrong", i);
                return buf;
            }
        }
    }
    return NULL;
}

static void on_result(void *arg, const char *url, const gust_map_result_t *r)
{
    demo_t *d = arg;
    if (r->index >= d->num) {
        d->unexpected++;
        fprintf(stderr, "gust demo: a result for index %zu, beyond the %lu URLs\n", r->index,
                d->num);
        return;
    }
    page_t *p = &d->pages[r->index];
    if (p->seen) {
        if (d->duplicates++ < 5)
            fprintf(stderr, "gust demo: %s (index %zu) reported twice\n", url, r->index);
        return;
    }
    p->seen = true;
    d->reported++;
    char buf[512];
    const char *why = check(p, r, buf, sizeof(buf));
    if (why != NULL && d->unexpected++ < 10)
        fprintf(stderr, "gust demo: %s: %s\n", url, why);
}

int demo_main(int argc, char **argv)
{
    demo_t d = {.num = 3000, .rng = UINT64_C(0x9e3779b97f4a7c15)};
    fetch_opts_t o = {
        .label = "gust demo",
        .keep_bodies = true,
        .concurrency = 50,
        .retries = 1,
        .client = {.total_timeout_ns = 30 * NS_PER_S},
        .on_result = on_result,
        .arg = &d,
    };
    const char *out_path = NULL;
    bool tls = true;
    unsigned long n;
    args_t a;
    args_init(&a, argc, argv);
    for (int opt; (opt = args_next(&a, options)) != ARGS_END;) {
        bool ok = true;
        switch (opt) {
        case OPT_HELP:
            return args_help(usage, help);
        case OPT_CONCURRENCY:
            if ((ok = args_uint(&a, "-c", a.value, 1, 100000, &n)))
                o.concurrency = (unsigned)n;
            break;
        case OPT_URLS:
            ok = args_uint(&a, "-n", a.value, 1, 1000000, &d.num);
            break;
        case OPT_OUT:
            out_path = a.value;
            break;
        case OPT_NO_TLS:
            tls = false;
            break;
        case OPT_QUIET:
            o.quiet = true;
            break;
        case ARGS_ARGUMENT:
            snprintf(a.error, sizeof(a.error), "unexpected argument '%s'", a.value);
            ok = false;
            break;
        default:
            ok = client_option(&a, opt, &o.client, NULL); /* --threads */
        }
        if (!ok)
            return args_usage_error("gust demo", usage, "%s", a.error);
    }

    int rc = EXIT_FAILED;
    if (out_path != NULL) {
        o.out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "w");
        if (o.out == NULL) {
            fprintf(stderr, "gust demo: cannot open %s: %s\n", out_path, strerror(errno));
            return EXIT_FAILED;
        }
    }
    d.pages = calloc(d.num, sizeof(*d.pages));
    if (d.pages == NULL) {
        fprintf(stderr, "gust demo: out of memory\n");
        goto done;
    }
    if (!site_start(&d.site, tls))
        goto done;
    plan(&d);
    o.client.ca_file = d.site.ca_file;
    o.total = d.num;
    printf("gust demo: fetching %lu URLs of a local site (%s%s%s, and %s refusing) with %u in "
           "flight\n",
           d.num, site_origin(&d.site, false), d.site.https != NULL ? ", " : "",
           d.site.https != NULL ? site_origin(&d.site, true) : "", d.site.dead_origin,
           o.concurrency);
    fflush(stdout);

    fetch_outcome_t outcome;
    if (fetch_run(&o, next_url, &d, &outcome)) {
        unsigned long missing = d.num - d.reported;
        double secs = (double)outcome.wall_ns / 1e9;
        printf("gust demo: %lu of %lu URLs accounted for in %.2f s (%.0f req/s; %lu over HTTPS, "
               "%lu refused); %s\n",
               d.reported, d.num, secs, secs > 0 ? (double)d.reported / secs : 0.0, d.num_tls,
               d.num_dead,
               missing == 0 && d.duplicates == 0 && d.unexpected == 0 ? "every outcome as expected"
                                                                      : "SOME OUTCOMES WRONG");
        if (missing != 0 || d.duplicates != 0 || d.unexpected != 0)
            printf("gust demo: %lu missing, %lu reported twice, %lu unexpected\n", missing,
                   d.duplicates, d.unexpected);
        else if (!outcome.output_failed)
            rc = EXIT_DONE;
    }
    site_stop(&d.site);
done:
    free(d.pages);
    if (o.out != NULL && o.out != stdout)
        fclose(o.out);
    return rc;
}
