/* tools/bench/runtime.c: the runtime benchmark.
 *
 *     bazel run -c opt //tools/bench:runtime [-- --runs=N]
 *
 * Each figure stands beside a baseline measured in the same run:
 *
 *   1. a future created, given a callback, completed and freed, with the
 *      callback run: from a worker and from a thread outside the pool. The
 *      baseline is the task the callback becomes (gust_pool_submit of the
 *      same function), so the ratio is what the future adds;
 *   2. a timer start + stop pair on a worker with 1,000 other timers in its
 *      heap; the baseline is the same pair on an empty heap;
 *   3. a ping-pong of a 64-byte message over a socketpair through the
 *      reactor, both ends on one worker and each end on its own worker,
 *      against the floor: one thread running a bare epoll_wait loop over the
 *      same kind of socketpair (edge-triggered and drained to EAGAIN, as the
 *      reactor's callbacks must). Reported in round trips per second; the
 *      ratio is gust / bare (1.00 would match the floor).
 *
 * Each figure is the median of several runs (--runs, default 5) after one
 * untimed warm-up run; the spread is (max - min) / median. Results are
 * checked (counts, bytes); times never are. A markdown table closes the
 * output. The whole program takes about 15 s on two cores. */
#include "gust/reactor.h"
#include "tests/support/rng.h"

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 50

#define FUTURE_OPS 200000L
#define TIMER_PAIRS 1000000L
#define TIMERS_IN_HEAP 1000
#define PING_PONG_LOCAL 50000L
#define PING_PONG_CROSS 20000L
#define MSG_LEN 64

static int num_runs = 5;

static uint64_t now_ns(void)
{
    return gust_now_ns();
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void check_long(const char *what, long got, long want)
{
    if (got != want) {
        fprintf(stderr, "bench: %s: got %ld, want %ld\n", what, got, want);
        exit(1);
    }
}

static gust_runtime_t *runtime_new(unsigned num_workers)
{
    gust_runtime_opts_t o = gust_runtime_opts_default();
    o.pool.num_threads = num_workers;
    o.pool.thread_name_prefix = "bench";
    o.blocking_threads = 1;
    gust_runtime_t *rt = gust_runtime_new(&o);
    if (rt == NULL)
        die_errno("gust_runtime_new");
    return rt;
}

/* Waits for `sem`, giving up (and the program) after 60 s. */
static void sem_wait_or_die(sem_t *sem, const char *what)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    while (sem_timedwait(sem, &deadline) != 0) {
        if (errno != EINTR) {
            fprintf(stderr, "bench: %s: no answer within 60 s\n", what);
            exit(1);
        }
    }
}

typedef struct on_worker_s {
    gust_task_fn fn;
    void *arg;
    sem_t done;
} on_worker_t;

static void on_worker_task(void *arg)
{
    on_worker_t *w = arg;
    w->fn(w->arg);
    sem_post(&w->done);
}

/* Runs fn(arg) on worker `index` of rt and returns once it has. */
static void run_on(gust_runtime_t *rt, unsigned index, gust_task_fn fn, void *arg)
{
    on_worker_t w = {.fn = fn, .arg = arg};
    sem_init(&w.done, 0, 0);
    if (!gust_runtime_post(rt, index, on_worker_task, &w))
        die_errno("gust_runtime_post");
    sem_wait_or_die(&w.done, "a task posted to a worker");
    sem_destroy(&w.done);
}

/* ---- Runs, medians and the report ------------------------------------ */

typedef struct runs_s {
    uint64_t ns[MAX_RUNS];
    int num;
    double median;
    double spread;
} runs_t;

typedef uint64_t (*run_fn)(void *ctx);

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* One untimed warm-up, then num_runs timed runs of fn(ctx). */
static runs_t measure(run_fn fn, void *ctx)
{
    runs_t r = {.num = 0};
    fn(ctx);
    while (r.num < num_runs)
        r.ns[r.num++] = fn(ctx);
    qsort(r.ns, (size_t)r.num, sizeof(r.ns[0]), cmp_u64);
    r.median = r.num % 2 == 1 ? (double)r.ns[r.num / 2]
                              : ((double)r.ns[r.num / 2 - 1] + (double)r.ns[r.num / 2]) / 2;
    r.spread = ((double)r.ns[r.num - 1] - (double)r.ns[0]) / r.median;
    return r;
}

/* A printed row, kept for the markdown summary. */
typedef struct row_s {
    const char *section;
    char what[64];
    char value[32];
    char baseline[48];
    char ratio[16];
} row_t;

static row_t rows[32];
static int num_rows;
static const char *cur_section;

static void section(const char *id, const char *title, const char *note)
{
    cur_section = id;
    printf("\n== %s. %s ==\n", id, title);
    if (note != NULL)
        printf("%s\n", note);
    printf("  %-44s %16s %8s %6s   %s\n", "what", "median", "spread", "runs", "vs baseline");
}

/* Prints and records a row; `baseline` NULL for a baseline row itself. */
static void emit(const char *what, const char *value, const runs_t *r, const char *baseline,
                 double ratio)
{
    row_t *row = &rows[num_rows < 32 ? num_rows++ : 31];
    row->section = cur_section;
    snprintf(row->what, sizeof(row->what), "%s", what);
    snprintf(row->value, sizeof(row->value), "%s", value);
    snprintf(row->baseline, sizeof(row->baseline), "%s",
             baseline != NULL ? baseline : "(baseline)");
    if (baseline != NULL)
        snprintf(row->ratio, sizeof(row->ratio), "%.2fx", ratio);
    else
        snprintf(row->ratio, sizeof(row->ratio), "-");
    printf("  %-44s %16s %7.1f%% %6d   %s %s\n", what, value, r->spread * 100, r->num, row->ratio,
           baseline != NULL ? baseline : "");
    fflush(stdout);
}

/* A row in nanoseconds per operation (`ops` per run). */
static double emit_ns_per_op(const char *what, const runs_t *r, long ops, const char *baseline,
                             double baseline_ns)
{
    double ns = r->median / (double)ops;
    char value[32];
    snprintf(value, sizeof(value), "%.1f ns/op", ns);
    emit(what, value, r, baseline, baseline != NULL ? ns / baseline_ns : 0);
    return ns;
}

/* A row in round trips per second (`trips` per run). */
static double emit_per_s(const char *what, const runs_t *r, long trips, const char *baseline,
                         double baseline_per_s)
{
    double per_s = (double)trips / (r->median / 1e9);
    char value[32];
    snprintf(value, sizeof(value), "%.0f RT/s", per_s);
    emit(what, value, r, baseline, baseline != NULL ? per_s / baseline_per_s : 0);
    return per_s;
}

static void print_summary(void)
{
    printf("\n## Summary (markdown)\n\n");
    printf("| # | what | median | vs | ratio |\n");
    printf("|---|---|---:|---|---:|\n");
    for (int i = 0; i < num_rows; i++) {
        const row_t *r = &rows[i];
        printf("| %s | %s | %s | %s | %s |\n", r->section, r->what, r->value, r->baseline,
               r->ratio);
    }
    printf("\nRuns per figure: %d (median). Ratios: ns/op divided by the baseline's (higher is "
           "slower); RT/s divided by bare epoll's (lower is slower).\n",
           num_runs);
}

/* ---- 1. Futures ------------------------------------------------------- */

typedef struct fut_ctx_s {
    gust_runtime_t *rt;
    gust_pool_t *pool;
    atomic_long done;
    uint64_t ns; /* measured on the worker */
} fut_ctx_t;

static void fut_cb(gust_future_t *future, void *arg)
{
    (void)future;
    fut_ctx_t *c = arg;
    /* Relaxed: a count; the reader only waits for it to reach its end. */
    atomic_fetch_add_explicit(&c->done, 1, memory_order_relaxed);
}

static void task_cb(void *arg)
{
    fut_ctx_t *c = arg;
    atomic_fetch_add_explicit(&c->done, 1, memory_order_relaxed);
}

static void one_future(fut_ctx_t *c)
{
    gust_future_t *f = gust_future_new(c->pool);
    if (f == NULL || gust_future_on_done(f, fut_cb, c) != 0)
        die("future: out of memory");
    if (!gust_future_set_value(f, NULL, NULL))
        die("future: completed twice");
    gust_future_free(f);
}

/* On a worker: the loop, then help until every callback has run. */
static void wait_done_on_worker(fut_ctx_t *c)
{
    while (atomic_load_explicit(&c->done, memory_order_acquire) < FUTURE_OPS) {
        if (!gust_pool_help())
            sched_yield();
    }
}

static void futures_on_worker(void *arg)
{
    fut_ctx_t *c = arg;
    atomic_store(&c->done, 0);
    uint64_t t0 = now_ns();
    for (long i = 0; i < FUTURE_OPS; i++)
        one_future(c);
    wait_done_on_worker(c);
    c->ns = now_ns() - t0;
}

static void tasks_on_worker(void *arg)
{
    fut_ctx_t *c = arg;
    atomic_store(&c->done, 0);
    uint64_t t0 = now_ns();
    for (long i = 0; i < FUTURE_OPS; i++) {
        if (!gust_pool_submit(c->pool, task_cb, c))
            die("submit: out of memory");
    }
    wait_done_on_worker(c);
    c->ns = now_ns() - t0;
}

static uint64_t run_futures_worker(void *p)
{
    fut_ctx_t *c = p;
    run_on(c->rt, 0, futures_on_worker, c);
    check_long("future callbacks run", atomic_load(&c->done), FUTURE_OPS);
    return c->ns;
}

static uint64_t run_tasks_worker(void *p)
{
    fut_ctx_t *c = p;
    run_on(c->rt, 0, tasks_on_worker, c);
    check_long("tasks run", atomic_load(&c->done), FUTURE_OPS);
    return c->ns;
}

static void wait_done_outside(fut_ctx_t *c)
{
    while (atomic_load_explicit(&c->done, memory_order_acquire) < FUTURE_OPS)
        sched_yield();
}

static uint64_t run_futures_outside(void *p)
{
    fut_ctx_t *c = p;
    atomic_store(&c->done, 0);
    uint64_t t0 = now_ns();
    for (long i = 0; i < FUTURE_OPS; i++)
        one_future(c);
    wait_done_outside(c);
    return now_ns() - t0;
}

static uint64_t run_tasks_outside(void *p)
{
    fut_ctx_t *c = p;
    atomic_store(&c->done, 0);
    uint64_t t0 = now_ns();
    for (long i = 0; i < FUTURE_OPS; i++) {
        if (!gust_pool_submit(c->pool, task_cb, c))
            die("submit: out of memory");
    }
    wait_done_outside(c);
    return now_ns() - t0;
}

static void bench_futures(void)
{
    section("1", "future: new + on_done + set_value + free, callback run",
            "  200k per run on a 1-worker runtime; baseline: gust_pool_submit of the callback "
            "alone");
    /* One worker: the callbacks run where they were queued, not split by
     * stealing between runs. */
    fut_ctx_t c = {.rt = runtime_new(1)};
    c.pool = gust_runtime_pool(c.rt);
    runs_t r = measure(run_tasks_worker, &c);
    double task_worker = emit_ns_per_op("task submitted from a worker", &r, FUTURE_OPS, NULL, 0);
    r = measure(run_futures_worker, &c);
    emit_ns_per_op("future from a worker", &r, FUTURE_OPS, "task from a worker", task_worker);
    r = measure(run_tasks_outside, &c);
    double task_outside = emit_ns_per_op("task submitted from outside", &r, FUTURE_OPS, NULL, 0);
    r = measure(run_futures_outside, &c);
    emit_ns_per_op("future from outside", &r, FUTURE_OPS, "task from outside", task_outside);
    gust_runtime_free(c.rt);
}

/* ---- 2. Timers -------------------------------------------------------- */

enum { NUM_TIMEOUTS = 1024 };

typedef struct timer_ctx_s {
    gust_runtime_t *rt;
    int in_heap;
    gust_timer_t heap[TIMERS_IN_HEAP];
    uint64_t timeouts[NUM_TIMEOUTS];
    uint64_t ns;
} timer_ctx_t;

static void timer_never(gust_timer_t *timer)
{
    (void)timer;
    die("a benchmark timer fired");
}

static void timer_pairs(void *arg)
{
    timer_ctx_t *c = arg;
    uint64_t rng = 0x5eed;
    /* Deadlines of 1..10 s, the same range as the timer measured, so that it
     * lands anywhere in the heap. */
    for (int i = 0; i < NUM_TIMEOUTS; i++)
        c->timeouts[i] = 1000000000ull + rng_next(&rng) % 9000000000ull;
    for (int i = 0; i < c->in_heap; i++) {
        gust_timer_init(&c->heap[i]);
        if (gust_timer_start(&c->heap[i], c->timeouts[(i * 7) % NUM_TIMEOUTS], timer_never, NULL) !=
            0)
            die("gust_timer_start");
    }
    gust_timer_t t;
    gust_timer_init(&t);
    uint64_t t0 = now_ns();
    for (long i = 0; i < TIMER_PAIRS; i++) {
        if (gust_timer_start(&t, c->timeouts[i % NUM_TIMEOUTS], timer_never, NULL) != 0)
            die("gust_timer_start");
        gust_timer_stop(&t);
    }
    c->ns = now_ns() - t0;
    if (gust_timer_active(&t))
        die("a stopped timer is active");
    for (int i = 0; i < c->in_heap; i++)
        gust_timer_stop(&c->heap[i]);
}

static uint64_t run_timer_pairs(void *p)
{
    timer_ctx_t *c = p;
    run_on(c->rt, 0, timer_pairs, c);
    return c->ns;
}

static void bench_timers(void)
{
    section("2", "timer: start + stop pairs on a worker",
            "  1M pairs per run, timeouts 1..10 s; baseline: the same pair on an empty heap");
    timer_ctx_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        die("out of memory");
    c->rt = runtime_new(1);
    c->in_heap = 0;
    runs_t r = measure(run_timer_pairs, c);
    double empty = emit_ns_per_op("start + stop, empty heap", &r, TIMER_PAIRS, NULL, 0);
    c->in_heap = TIMERS_IN_HEAP;
    r = measure(run_timer_pairs, c);
    emit_ns_per_op("start + stop, 1,000 timers in the heap", &r, TIMER_PAIRS, "empty heap", empty);
    gust_runtime_free(c->rt);
    free(c);
}

/* ---- 3. Socketpair ping-pong ------------------------------------------ */

/* Side 0 starts each round trip, side 1 echoes. The handler is shared by
 * the bare loop and the reactor's callbacks so that both do the same work:
 * read to EAGAIN, then answer each whole message. */
typedef struct pp_s {
    int fds[2];
    gust_io_t io[2];
    size_t pending[2]; /* bytes of an unanswered message, per side */
    long trips, target;
    uint64_t t0, ns;
    sem_t done;
} pp_t;

static const char msg[MSG_LEN] = "ping-pong";

static void pp_send(pp_t *p, int side)
{
    if (write(p->fds[side], msg, MSG_LEN) != MSG_LEN)
        die_errno("ping-pong write");
}

/* Returns true once the last round trip is back. */
static bool pp_ready(pp_t *p, int side)
{
    char buf[4 * MSG_LEN];
    for (;;) {
        ssize_t n = read(p->fds[side], buf, sizeof(buf));
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            die_errno("ping-pong read");
        }
        if (n == 0)
            die("ping-pong: unexpected EOF");
        p->pending[side] += (size_t)n;
    }
    for (; p->pending[side] >= MSG_LEN; p->pending[side] -= MSG_LEN) {
        if (side == 1) {
            pp_send(p, 1);
        } else if (++p->trips == p->target) {
            return true;
        } else {
            pp_send(p, 0);
        }
    }
    return false;
}

static void pp_open(pp_t *p, long target)
{
    memset(p, 0, sizeof(*p));
    p->target = target;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fds) != 0)
        die_errno("socketpair");
    sem_init(&p->done, 0, 0);
}

static void pp_close(pp_t *p)
{
    check_long("round trips", p->trips, p->target);
    close(p->fds[0]);
    close(p->fds[1]);
    sem_destroy(&p->done);
}

/* The floor: one thread, epoll_wait, read and write. */
static uint64_t run_bare(void *ctx)
{
    (void)ctx;
    pp_t p;
    pp_open(&p, PING_PONG_LOCAL);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die_errno("epoll_create1");
    for (int side = 0; side < 2; side++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)side};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, p.fds[side], &ev) != 0)
            die_errno("epoll_ctl");
    }
    uint64_t t0 = now_ns();
    pp_send(&p, 0);
    bool finished = false;
    while (!finished) {
        struct epoll_event events[8];
        int n = epoll_wait(ep, events, 8, -1);
        if (n < 0 && errno != EINTR)
            die_errno("epoll_wait");
        for (int i = 0; i < n; i++)
            finished |= pp_ready(&p, (int)events[i].data.u32);
    }
    uint64_t ns = now_ns() - t0;
    close(ep);
    pp_close(&p);
    return ns;
}

static void pp_cb(gust_io_t *io, uint32_t events)
{
    (void)events;
    pp_t *p = io->data;
    int side = io == &p->io[0] ? 0 : 1;
    if (pp_ready(p, side)) {
        p->ns = now_ns() - p->t0;
        sem_post(&p->done);
    }
}

static void pp_start_side(pp_t *p, int side)
{
    if (gust_io_start(&p->io[side], p->fds[side], EPOLLIN, pp_cb, p) != 0)
        die("gust_io_start");
}

static void pp_start_echo(void *arg)
{
    pp_start_side(arg, 1);
}

static void pp_start_both_and_kick(void *arg)
{
    pp_t *p = arg;
    pp_start_side(p, 1);
    pp_start_side(p, 0);
    p->t0 = now_ns();
    pp_send(p, 0);
}

static void pp_start_initiator_and_kick(void *arg)
{
    pp_t *p = arg;
    pp_start_side(p, 0);
    p->t0 = now_ns();
    pp_send(p, 0);
}

static void pp_stop_side0(void *arg)
{
    gust_io_stop(&((pp_t *)arg)->io[0]);
}

static void pp_stop_side1(void *arg)
{
    gust_io_stop(&((pp_t *)arg)->io[1]);
}

static void pp_stop_both(void *arg)
{
    pp_stop_side0(arg);
    pp_stop_side1(arg);
}

static uint64_t run_gust_one_worker(void *ctx)
{
    gust_runtime_t *rt = ctx;
    pp_t p;
    pp_open(&p, PING_PONG_LOCAL);
    run_on(rt, 0, pp_start_both_and_kick, &p);
    sem_wait_or_die(&p.done, "ping-pong on one worker");
    run_on(rt, 0, pp_stop_both, &p);
    pp_close(&p);
    return p.ns;
}

static uint64_t run_gust_two_workers(void *ctx)
{
    gust_runtime_t *rt = ctx;
    pp_t p;
    pp_open(&p, PING_PONG_CROSS);
    run_on(rt, 1, pp_start_echo, &p);
    run_on(rt, 0, pp_start_initiator_and_kick, &p);
    sem_wait_or_die(&p.done, "ping-pong across two workers");
    run_on(rt, 0, pp_stop_side0, &p);
    run_on(rt, 1, pp_stop_side1, &p);
    pp_close(&p);
    return p.ns;
}

static void bench_ping_pong(void)
{
    section("3", "socketpair ping-pong, 64-byte messages",
            "  50k round trips per run (20k across workers); baseline: one thread, bare "
            "epoll_wait + read/write");
    runs_t r = measure(run_bare, NULL);
    double bare = emit_per_s("bare epoll loop, one thread", &r, PING_PONG_LOCAL, NULL, 0);

    gust_runtime_t *rt = runtime_new(1);
    r = measure(run_gust_one_worker, rt);
    emit_per_s("gust, both ends on one worker", &r, PING_PONG_LOCAL, "bare epoll", bare);
    gust_runtime_free(rt);

    rt = runtime_new(2);
    r = measure(run_gust_two_workers, rt);
    emit_per_s("gust, one end per worker (2 workers)", &r, PING_PONG_CROSS, "bare epoll", bare);
    gust_runtime_free(rt);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--runs=", 7) == 0) {
            num_runs = atoi(argv[i] + 7);
            if (num_runs < 1 || num_runs > MAX_RUNS) {
                fprintf(stderr, "bench: --runs must be 1..%d\n", MAX_RUNS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--runs=N]\n", argv[0]);
            return 2;
        }
    }
    uint64_t t0 = now_ns();
    printf("# gust runtime benchmark (%ld online CPUs, %d runs per figure)\n",
           sysconf(_SC_NPROCESSORS_ONLN), num_runs);
    bench_futures();
    bench_timers();
    bench_ping_pong();
    print_summary();
    printf("\nTotal: %.1f s\n", (now_ns() - t0) / 1e9);
    return 0;
}
