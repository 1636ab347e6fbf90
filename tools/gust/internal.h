/* tools/gust/internal.h: what the files of the `gust` command-line tool share.
 *
 * One file per concept, and each function is prefixed with its file's name:
 *
 *   main.c      the command dispatcher, `gust --help`, `gust --version`
 *   args.c      option parsing, number parsing, usage errors (exit 2)
 *   client.c    a runtime and a client made from command-line options
 *   get.c       `gust get`: one request, curl-like
 *   fetch.c     `gust fetch`: many URLs through gust_http_imap, JSON lines out
 *   urls.c      URLs one per line from a file or stdin, read lazily
 *   pending.c   the URL and start time of each request imap has not reported
 *   json.c      JSON string escaping
 *   stats.c     counts by status and error, a latency histogram, the summary
 *   progress.c  the progress bar on a terminal
 *   bench.c     `gust bench`: a fixed number of requests kept in flight
 *   sink.c      a streamed body written to a file as it arrives, or counted
 *   site.c      a local site on 127.0.0.1 for the demo (the test server)
 *   demo.c      `gust demo`: fetch a few thousand URLs of the local site
 *
 * Exit codes: 0 done, 1 failure (a request in `get`, the input of `fetch`),
 * 2 bad arguments, 22 an HTTP error with `get --fail` (curl's code). */
#ifndef GUST_TOOLS_GUST_INTERNAL_H
#define GUST_TOOLS_GUST_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/http_err.h"
#include "gust/map.h"
#include "gust/reactor.h"
#include "gust/response.h"

#define GUST_CLI_VERSION "0.1.0"

enum {
    EXIT_DONE = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_HTTP_ERROR = 22,
};

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)

/* ---- commands (each returns the process's exit code) ---- */

int get_main(int argc, char **argv);
int fetch_main(int argc, char **argv);
int bench_main(int argc, char **argv);
int demo_main(int argc, char **argv);

/* ---- args.c ---- */

/* One option of a command: `--long_name` and/or `-s`, with or without a
 * value. A table ends with an entry whose id is 0. */
typedef struct args_opt_s {
    int id;                /* > 0 */
    const char *long_name; /* without the dashes, or NULL */
    char short_name;       /* or 0 */
    bool takes_value;
} args_opt_t;

/* A walk over argv[1..argc-1]. Accepts `--name value`, `--name=value`,
 * `-x value`, `-xvalue`, clusters of flags (`-ik`), and `--` to end the
 * options; a lone `-` is an argument (stdin). */
typedef struct args_s {
    int argc;
    char **argv;
    int next;            /* the next argv index */
    const char *cluster; /* the rest of a cluster of short flags */
    bool options_done;   /* after `--` */
    const char *value;   /* the current option's value, or the argument */
    char error[200];     /* why ARGS_BAD was returned */
} args_t;

enum {
    ARGS_END = 0,       /* nothing left */
    ARGS_ARGUMENT = -1, /* a positional argument, in a->value */
    ARGS_BAD = -2,      /* an unknown option or a missing value, in a->error */
};

void args_init(args_t *a, int argc, char **argv);

/* args_next returns the id of the next option (its value, if it takes one, in
 * a->value), ARGS_ARGUMENT, ARGS_END or ARGS_BAD. */
int args_next(args_t *a, const args_opt_t *table);

/* Number parsing: true and *out set if `s` is a whole number in [min, max],
 * or a number of seconds (decimals allowed) in (0, max_s]; else false and
 * a->error says why, naming `what`. */
bool args_uint(args_t *a, const char *what, const char *s, unsigned long min, unsigned long max,
               unsigned long *out);
bool args_seconds(args_t *a, const char *what, const char *s, double max_s, uint64_t *out_ns);

/* args_one takes the argument a->value into *slot, the first time; false with
 * a->error set ("one WHAT at most") if *slot holds one already. */
bool args_one(args_t *a, const char *what, const char **slot);

/* args_help prints the usage and the help of a command to stdout and returns
 * EXIT_DONE. */
int args_help(const char *usage, const char *help);

/* args_usage_error prints "gust CMD: <message>" and the usage to stderr and
 * returns EXIT_USAGE. */
int args_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- client.c ---- */

/* What every command that sends requests can set. */
typedef struct client_opts_s {
    unsigned threads;          /* workers; 0 = one per CPU */
    uint64_t total_timeout_ns; /* 0 = the client's default */
    unsigned max_per_host;     /* 0 = no limit */
    unsigned pipeline_depth;   /* 0 = no pipelining */
    bool insecure;
    const char *ca_file;
    const gust_header_t *headers;
    size_t num_headers;
} client_opts_t;

typedef struct client_s {
    gust_runtime_t *runtime;
    gust_client_t *client;
} client_t;

/* The options that set client_opts_t, with these ids in the table of every
 * command that takes them (a command's own ids stay below 100). */
enum {
    OPT_THREADS = 100, /* --threads T */
    OPT_TIMEOUT,       /* --timeout S */
    OPT_INSECURE,      /* -k, --insecure */
    OPT_CACERT,        /* --cacert FILE */
    OPT_HEADER,        /* -H, --header 'Name: value' */
};

#define CLIENT_MAX_HEADERS 64

/* The headers of the -H options, each pointing into its own copy. */
typedef struct client_headers_s {
    /* One spare slot, for a header a command adds (get's Content-Type). */
    gust_header_t list[CLIENT_MAX_HEADERS + 1];
    char *copies[CLIENT_MAX_HEADERS];
    size_t num;
} client_headers_t;

/* client_option applies `opt`, one of the ids above, to *co (-H to
 * *headers, which may be NULL where a command's table has no -H); false with
 * a->error set when its value is bad. False too for any other id, leaving
 * a->error as it is: a command's switch hands it its default case, where
 * only ARGS_BAD (args_next's error) arrives besides. */
bool client_option(args_t *a, int opt, client_opts_t *co, client_headers_t *headers);

/* client_headers_free frees the copies; *h is empty after. */
void client_headers_free(client_headers_t *h);

/* client_new makes a runtime and a client on it; returns false after
 * printing "gust: ..." on failure (a CA file that does not load). */
bool client_new(client_t *out, const client_opts_t *opts);
void client_free(client_t *c);

/* ---- json.c ---- */

/* json_write_string writes `s` as a JSON string, quotes included: escapes
 * quotes, backslashes and control characters, and replaces each byte that is
 * not part of valid UTF-8 with U+FFFD, so any input gives valid JSON. */
void json_write_string(FILE *out, const char *s);

/* ---- stats.c ---- */

/* Latencies in microseconds, in buckets of 1/64 of a power of two (under
 * 1.6 % error) from 0 to 2^40 us (12 days). */
#define STATS_SUB_BITS 6
#define STATS_SUB (1u << STATS_SUB_BITS)
#define STATS_MAX_EXP 40
#define STATS_BUCKETS (2 * STATS_SUB + (STATS_MAX_EXP - STATS_SUB_BITS) * STATS_SUB)
#define STATS_STATUSES 1000

#define STATS_COUNT_ERR_(name, code, message) +1
enum { STATS_NUM_ERRS = 0 GUST_ERR_MAP(STATS_COUNT_ERR_) GUST_HTTP_ERR_MAP(STATS_COUNT_ERR_) };
#undef STATS_COUNT_ERR_

/* Outcomes of many requests. Any thread records; the progress bar reads
 * while they do. Every counter is relaxed: the bar shows a snapshot that may
 * be a little torn, and the final summary is read after whatever ended the run
 * (joining, a semaphore, or the same thread) has ordered all recordings
 * before it. */
typedef struct stats_s {
    atomic_ulong done;
    atomic_ulong failed;      /* no response: an error */
    atomic_ulong http_errors; /* responses with status >= 400 */
    atomic_ullong bytes;      /* decoded body bytes */
    atomic_ullong max_us;
    atomic_ulong by_status[STATS_STATUSES];
    atomic_ulong by_err[STATS_NUM_ERRS + 1]; /* [1 + index in err_codes (stats.c)]; [0] unknown */
    atomic_ulong hist[STATS_BUCKETS];
} stats_t;

/* stats_new returns zeroed stats, or NULL when out of memory. */
stats_t *stats_new(void);
void stats_free(stats_t *s);

/* stats_record counts one request: a response with `status` and `bytes`
 * (err 0), or an error `err` (status 0), that took `latency_ns`. */
void stats_record(stats_t *s, int status, int err, uint64_t bytes, uint64_t latency_ns);

/* stats_percentile returns the latency in microseconds under which a
 * fraction `p` (0.5 for the median) of the requests fall, 0 if none. */
uint64_t stats_percentile(const stats_t *s, double p);

/* stats_summary prints the summary of a run that took `wall_ns` to `out`,
 * each line starting with `label`: counts, status codes, errors by name,
 * latency percentiles, throughput and the client's connections. */
void stats_summary(const stats_t *s, FILE *out, const char *label, uint64_t wall_ns,
                   const gust_client_stats_t *client);

/* stats_ms formats microseconds as milliseconds with 3 significant digits. */
const char *stats_ms(char *buf, size_t len, uint64_t us);

/* ---- progress.c ---- */

/* A progress bar on stderr, redrawn 10 times a second by a thread of its
 * own while stderr is a terminal; nothing at all otherwise. */
typedef struct progress_s {
    const stats_t *stats;
    FILE *out;
    bool active;
    uint64_t start_ns;
    uint64_t end_ns; /* a deadline (bench -d), or 0 */
    /* Requests expected, 0 while unknown. Relaxed: written once, by the
     * starter or by the thread after counting the lines of count_path. */
    atomic_ulong total;
    char *count_path;
    /* Guards the terminal line: held while the bar is drawn, and by
     * progress_lock's callers while they write to the same terminal. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* Set by progress_stop under lock (the thread waits on cond with it),
     * and read without it by the line count, which polls it. Relaxed: the
     * lock orders the rest. */
    atomic_bool stop;
    bool drawn; /* a bar is on the line now; under lock */
    pthread_t thread;
} progress_t;

/* progress_start starts the bar for `stats` if stderr is a terminal and
 * `enabled`; total 0 = unknown; count_path: a file whose URL lines the thread
 * counts for the total (NULL: none). Never fails: without a thread there is
 * no bar. */
void progress_start(progress_t *p, const stats_t *stats, bool enabled, unsigned long total,
                    const char *count_path, uint64_t end_ns);

/* progress_stop stops the thread and erases the bar. */
void progress_stop(progress_t *p);

/* progress_lock/unlock bracket a write to the terminal the bar is on: the bar
 * is erased first and redrawn at the next tick. */
void progress_lock(progress_t *p);
void progress_unlock(progress_t *p);

/* ---- urls.c ---- */

/* URLs one per line; blank lines and lines starting with '#' are skipped, and
 * surrounding whitespace is trimmed. */
typedef struct urls_s {
    FILE *in;
    const char *name; /* for messages: the path or "stdin" */
    char *line;
    size_t cap;
    int err; /* errno of a failed read, or 0 */
} urls_t;

/* urls_open opens `path` (NULL or "-": stdin); returns 0 or an errno. */
int urls_open(urls_t *u, const char *path);

/* urls_next returns the next URL (valid until the next call), or NULL at the
 * end or on a read error (then u->err is set). */
const char *urls_next(urls_t *u);

void urls_close(urls_t *u);

/* urls_count counts the URL lines of `path`, giving up (returning 0) when
 * *stop turns true; 0 also when the file cannot be read. */
unsigned long urls_count(const char *path, const atomic_bool *stop);

/* ---- sink.c ---- */

/* A body as it streams in: written to `file`, or to `path` opened at its
 * first write (one of 0 bytes makes the file of an empty body), or with
 * neither only counted. Used by one thread at a time: the worker running the request,
 * then whoever waited for it. */
typedef struct sink_s {
    FILE *file;
    const char *path;
    uint64_t bytes;        /* since the body last started */
    int err;               /* errno of the first failure, or 0 */
    const char *failed_to; /* "open" or "write", with err */
} sink_t;

/* sink_write adds a chunk; false (and nothing more is written) once
 * anything failed. */
bool sink_write(sink_t *s, const void *chunk, size_t len);

/* sink_restart empties the body: the file is cut back to nothing. */
bool sink_restart(sink_t *s);

/* sink_printf adds formatted text, as sink_write does. */
bool sink_printf(sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sink_close flushes and closes the file (stdout is flushed, not closed);
 * false if anything failed. */
bool sink_close(sink_t *s);

/* ---- pending.c ---- */

/* A request handed to imap and not yet reported. */
typedef struct pending_entry_s {
    struct pending_entry_s *next;
    size_t index;
    uint64_t start_ns;
    struct fetch_body_s *body; /* fetch's (NULL until it sets one), freed with the entry */
    char url[];
} pending_entry_t;

/* A hash table by index: imap reports in completion order, and only the
 * index comes back, so the URL and start time wait here. */
typedef struct pending_s {
    pending_entry_t **buckets;
    size_t num_buckets;
    size_t count;
} pending_t;

/* pending_put adds an entry and returns it (the table owns it), or NULL when
 * out of memory. */
pending_entry_t *pending_put(pending_t *p, size_t index, const char *url, uint64_t start_ns);

/* pending_take removes and returns the entry (the caller frees it), or NULL. */
pending_entry_t *pending_take(pending_t *p, size_t index);

void pending_clear(pending_t *p);

/* ---- fetch.c: the engine `fetch` and `demo` share ---- */

/* A source of URLs: returns 1 with *out_url (valid until the next call), 0
 * at the end, -1 when the input failed (after printing why). */
typedef int (*fetch_next_fn)(void *arg, const char **out_url);

/* Called on the calling thread for each result, after its JSON line. */
typedef void (*fetch_result_fn)(void *arg, const char *url, const gust_map_result_t *result);

typedef struct fetch_opts_s {
    const char *label; /* "gust fetch" */
    client_opts_t client;
    unsigned concurrency;
    unsigned per_host;
    uint64_t host_delay_ns;
    unsigned retries;
    FILE *out;              /* JSON lines, or NULL for none */
    const char *bodies_dir; /* or NULL */
    /* Responses keep their bodies (the demo checks them; bodies_dir is then
     * NULL). Otherwise bodies stream: counted, and written to bodies_dir as
     * they arrive, never held whole. */
    bool keep_bodies;
    bool quiet;             /* no progress bar, no summary */
    unsigned long total;    /* URLs expected, 0 if unknown */
    const char *count_path; /* or a file whose URLs the progress bar counts */
    fetch_result_fn on_result;
    void *arg;
} fetch_opts_t;

/* What a fetch did. */
typedef struct fetch_outcome_s {
    unsigned long num; /* results */
    uint64_t wall_ns;
    bool input_failed;  /* the source returned -1 */
    bool output_failed; /* a JSON line or a body could not be written */
} fetch_outcome_t;

/* fetch_run fetches every URL `next` gives; returns false if the run could
 * not start (printed). */
bool fetch_run(const fetch_opts_t *opts, fetch_next_fn next, void *next_arg, fetch_outcome_t *out);

/* ---- site.c ---- */

typedef struct test_server_s test_server_t;
typedef struct tls_certs_s tls_certs_t;

/* The demo's site: the project's test server over HTTP and HTTPS (with a CA
 * made for the occasion), and a port where nothing listens. */
typedef struct site_s {
    test_server_t *http;
    test_server_t *https; /* NULL without TLS */
    tls_certs_t *certs;
    const char *ca_file; /* the CA to trust for `https`, or NULL */
    int dead_fd;         /* bound, never listening: connections are refused */
    char dead_origin[64];
} site_t;

/* site_start starts the site; false (printed) on failure. */
bool site_start(site_t *site, bool tls);
const char *site_origin(const site_t *site, bool tls);
void site_stop(site_t *site);

/* ---- small helpers ---- */

/* now_ns: the monotonic clock (the runtime's). */
static inline uint64_t now_ns(void)
{
    return gust_now_ns();
}

#endif
