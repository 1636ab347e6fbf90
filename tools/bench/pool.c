/* tools/bench/pool.c: the executor benchmark.
 *
 *     bazel run -c opt //tools/bench:pool [-- --runs=N] [--parts=1,2,...]
 *
 * Measures gust's pool beside a baseline for each figure: a sequential twin,
 * oneTBB (tools/bench/pool_tbb.cc) and OpenMP (tools/bench/pool_omp.c).
 *
 *   1. fib(35), one spawn per call, at 1 and 2 threads;
 *   2. spawn + join of one empty task on a 1-thread pool;
 *   3. parallel_for over 10M tiny bodies (a[i] = 2 * i);
 *   4. empty-task throughput from 1 and 2 submitter threads outside the pool;
 *   5. submit-to-start latency on a parked pool (p50, p99);
 *   6. fib(35) submitted to a new pool that is freed at once (cold), at 1 and
 *      2 threads: gust_pool_free must use every worker while it drains;
 *   7. n-queens(12), a task per queen placed, at 1 and 2 threads.
 *
 * --parts runs only the parts listed (all by default).
 *
 * Each figure is the median of several runs (--runs, default 5; a row whose
 * runs add up to more than 6 s stops once it has 3) after one untimed
 * warm-up run. Ratios divide a row's time by gust's time at the same thread
 * count, all from this one run of the program. Results are checked; times
 * never are.
 *
 * One library at a time runs threads: each gust pool is freed and each TBB
 * arena destroyed before the next row (libgomp keeps its idle threads), and
 * rows of different libraries are separated by a pause so that the previous
 * library's threads stop spinning and sleep (2 cores leave no room for a
 * spinning bystander). */
#include "gust/pool.h"
#include "tools/bench/pool_omp.h"
#include "tools/bench/pool_tbb.h"
#include "tools/bench/spawn_join_loop.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 50
/* A row stops after 3 runs once its runs have taken this long. */
#define ROW_BUDGET_NS (6 * 1000000000ull)
/* Between rows of different libraries: longer than any of them spins. */
#define SETTLE_NS (50 * 1000000ull)

#define FIB_N 35
#define FIB_EXPECTED 9227465L
/* Calls of fib(n) that spawn (n >= 2): fib(n + 1) - 1. */
#define FIB_SPAWNS 14930351L
#define FIB_WARM_N 27
#define FIB_WARM_EXPECTED 196418L

#define QUEENS_N 12
#define QUEENS_EXPECTED 14200L

#define SPAWN_JOIN_ITERS 1000000L
#define FILL_LEN 10000000L
#define THROUGHPUT_TASKS 2000000L
#define LATENCY_SAMPLES 2000
/* Long enough for an idle worker to finish spinning and park. */
#define LATENCY_GAP_NS 1500000L

static int num_runs = 5;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void settle(void)
{
    sleep_ns(SETTLE_NS);
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static void check_long(const char *what, long got, long want)
{
    if (got != want) {
        fprintf(stderr, "bench: %s: got %ld, want %ld\n", what, got, want);
        exit(1);
    }
}

static gust_pool_t *pool_new(unsigned num_threads)
{
    gust_pool_opts_t o = gust_pool_opts_default();
    o.num_threads = num_threads;
    o.thread_name_prefix = "bench";
    gust_pool_t *pool = gust_pool_new(&o);
    if (pool == NULL) {
        perror("bench: gust_pool_new");
        exit(1);
    }
    return pool;
}

#define MAX_STATS_WORKERS 64

/* Copies every worker's counters into out[MAX_STATS_WORKERS]; returns how
 * many workers there are (at most MAX_STATS_WORKERS are copied). */
static unsigned stats_snapshot(const gust_pool_t *pool, gust_worker_stats_t *out)
{
    memset(out, 0, MAX_STATS_WORKERS * sizeof out[0]);
    unsigned n = gust_pool_stats(pool, out, MAX_STATS_WORKERS);
    return n < MAX_STATS_WORKERS ? n : MAX_STATS_WORKERS;
}

/* Writes the pool's counters since `before`, per run, and each worker's
 * share of the tasks run (`label` says what a run is): the evidence of how
 * the work spread. Writes ""
 * when gust keeps no statistics (GUST_POOL_NO_STATS). */
static void describe_stats(const gust_pool_t *pool, const gust_worker_stats_t *before,
                           const char *label, int runs, char *out, size_t out_len)
{
    gust_worker_stats_t w[MAX_STATS_WORKERS], sum = {0};
    unsigned n = stats_snapshot(pool, w);
    for (unsigned i = 0; i < n; i++) {
        w[i].tasks_run -= before[i].tasks_run;
        sum.tasks_run += w[i].tasks_run;
        sum.spawned += w[i].spawned - before[i].spawned;
        sum.stolen += w[i].stolen - before[i].stolen;
        sum.steal_failed += w[i].steal_failed - before[i].steal_failed;
        sum.injected += w[i].injected - before[i].injected;
        sum.parks += w[i].parks - before[i].parks;
        sum.wakeups += w[i].wakeups - before[i].wakeups;
    }
    out[0] = '\0';
    if (sum.tasks_run == 0) {
        return;
    }
    int len =
        snprintf(out, out_len,
                 "  gust stats, %s: tasks_run %.2f, spawned %.2f, stolen %.2f,\n"
                 "    steal_failed %.2f, injected %.2f, parks %.2f, wakeups %.2f; "
                 "share of tasks run by each worker:",
                 label, (double)sum.tasks_run / runs, (double)sum.spawned / runs,
                 (double)sum.stolen / runs, (double)sum.steal_failed / runs,
                 (double)sum.injected / runs, (double)sum.parks / runs, (double)sum.wakeups / runs);
    for (unsigned i = 0; i < n && len > 0 && (size_t)len < out_len; i++) {
        len += snprintf(out + len, out_len - (size_t)len, " %.1f%%",
                        100.0 * (double)w[i].tasks_run / (double)sum.tasks_run);
    }
}

/* ---- Runs, medians and the report ------------------------------------ */

typedef struct runs_s {
    uint64_t ns[MAX_RUNS];
    int num;
} runs_t;

/* One timed run of a row: returns the nanoseconds it measured. */
typedef uint64_t (*run_fn)(void *ctx);

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts r and returns its median. */
static double runs_median(runs_t *r)
{
    qsort(r->ns, (size_t)r->num, sizeof r->ns[0], cmp_u64);
    if (r->num % 2 == 1) {
        return (double)r->ns[r->num / 2];
    }
    return ((double)r->ns[r->num / 2 - 1] + (double)r->ns[r->num / 2]) / 2;
}

/* (max - min) / median of sorted runs: how far to trust the median. */
static double runs_spread(const runs_t *r, double median)
{
    return ((double)r->ns[r->num - 1] - (double)r->ns[0]) / median;
}

/* For measure's `warm` where the caller warmed up already. */
static uint64_t warmed_up(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Times fn(ctx) num_runs times (3 when they take long) after one untimed
 * warm-up: warm(ctx), or fn(ctx) where warm is NULL. The warm-up starts the
 * threads and primes caches and allocators. */
static runs_t measure(run_fn fn, run_fn warm, void *ctx)
{
    runs_t r = {.num = 0};
    (warm != NULL ? warm : fn)(ctx);
    uint64_t spent = 0;
    while (r.num < num_runs) {
        uint64_t t = fn(ctx);
        r.ns[r.num++] = t;
        spent += t;
        if (r.num >= 3 && spent > ROW_BUDGET_NS) {
            break;
        }
    }
    return r;
}

/* A printed row, kept for the markdown summary. */
typedef struct row_s {
    const char *section;
    char what[64];
    unsigned threads; /* 0: not a thread count (printed "-") */
    char value[32];
    char ratio[16];
} row_t;

static row_t rows[64];
static int num_rows;
static const char *cur_section;

static void section(const char *id, const char *title, const char *note)
{
    cur_section = id;
    printf("\n== %s. %s ==\n", id, title);
    if (note != NULL) {
        printf("%s\n", note);
    }
    printf("  %-40s %7s %18s %12s %8s %5s\n", "what", "threads", "median", "ratio to gust",
           "spread", "runs");
}

/* Prints and records a row. `ratio` < 0 prints "-"; `spread` < 0 and
 * `runs` <= 0 likewise. */
static void emit(const char *what, unsigned threads, const char *value, double ratio, double spread,
                 int runs)
{
    row_t *row = &rows[num_rows < 64 ? num_rows++ : 63];
    row->section = cur_section;
    snprintf(row->what, sizeof row->what, "%s", what);
    row->threads = threads;
    snprintf(row->value, sizeof row->value, "%s", value);
    if (ratio < 0) {
        snprintf(row->ratio, sizeof row->ratio, "-");
    } else {
        snprintf(row->ratio, sizeof row->ratio, "%.2fx", ratio);
    }
    char th[16] = "-", sp[16] = "-", rn[16] = "-";
    if (threads > 0) {
        snprintf(th, sizeof th, "%u", threads);
    }
    if (spread >= 0) {
        snprintf(sp, sizeof sp, "%.1f%%", spread * 100);
    }
    if (runs > 0) {
        snprintf(rn, sizeof rn, "%d", runs);
    }
    printf("  %-40s %7s %18s %12s %8s %5s\n", what, th, value, row->ratio, sp, rn);
    fflush(stdout);
}

/* Emits a timed row: the median of `r` divided by `unit_ns`, and its ratio
 * to `gust_ns` (0: no ratio). Returns the median in nanoseconds. */
static double emit_runs(const char *what, unsigned threads, runs_t *r, double unit_ns,
                        const char *unit, double gust_ns)
{
    double median = runs_median(r);
    char value[32];
    snprintf(value, sizeof value, "%.2f %s", median / unit_ns, unit);
    emit(what, threads, value, gust_ns > 0 ? median / gust_ns : -1, runs_spread(r, median), r->num);
    return median;
}

/* ---- 1. fib(35), one spawn per call ---------------------------------- */

__attribute__((noinline)) static long fib_seq(int n)
{
    if (n < 2) {
        return n;
    }
    return fib_seq(n - 1) + fib_seq(n - 2);
}

typedef struct fib_arg_s {
    int n;
    long result;
} fib_arg_t;

/* The classic: spawn fib(n - 1), compute fib(n - 2) inline, join. */
static void fib_task(void *p)
{
    fib_arg_t *a = p;
    if (a->n < 2) {
        a->result = a->n;
        return;
    }
    fib_arg_t left = {.n = a->n - 1};
    fib_arg_t right = {.n = a->n - 2};
    gust_group_t g;
    gust_group_init(&g, gust_pool_current());
    gust_group_spawn(&g, fib_task, &left);
    fib_task(&right);
    gust_group_wait(&g);
    a->result = left.result + right.result;
}

typedef struct fib_ctx_s {
    volatile int n; /* read at run time so that nothing folds fib(35) */
    long expected;
    unsigned threads;
    gust_pool_t *pool;
    peer_tbb_t *tbb;
} fib_ctx_t;

static uint64_t run_fib_seq(void *p)
{
    fib_ctx_t *c = p;
    uint64_t t0 = now_ns();
    long r = fib_seq(c->n);
    uint64_t t = now_ns() - t0;
    check_long("sequential fib", r, c->expected);
    return t;
}

static uint64_t run_fib_gust(void *p)
{
    fib_ctx_t *c = p;
    fib_arg_t root = {.n = c->n};
    gust_group_t g;
    uint64_t t0 = now_ns();
    gust_group_init(&g, c->pool);
    if (!gust_group_spawn(&g, fib_task, &root)) {
        die("gust_group_spawn failed");
    }
    gust_group_wait(&g);
    uint64_t t = now_ns() - t0;
    check_long("gust fib", root.result, c->expected);
    return t;
}

static uint64_t run_fib_tbb(void *p)
{
    fib_ctx_t *c = p;
    uint64_t t0 = now_ns();
    long r = peer_tbb_fib(c->tbb, c->n);
    uint64_t t = now_ns() - t0;
    check_long("oneTBB fib", r, c->expected);
    return t;
}

static uint64_t run_fib_omp(void *p)
{
    fib_ctx_t *c = p;
    uint64_t t0 = now_ns();
    long r = peer_omp_fib(c->threads, c->n);
    uint64_t t = now_ns() - t0;
    check_long("OpenMP fib", r, c->expected);
    return t;
}

/* Warm-ups run fib(FIB_WARM_N): OpenMP's fib(35) takes seconds at 2 threads,
 * and a smaller tree starts the threads as well. */
#define WARM_FIB(name)                                                                             \
    static uint64_t warm_fib_##name(void *p)                                                       \
    {                                                                                              \
        fib_ctx_t *c = p;                                                                          \
        c->n = FIB_WARM_N;                                                                         \
        c->expected = FIB_WARM_EXPECTED;                                                           \
        uint64_t t = run_fib_##name(c);                                                            \
        c->n = FIB_N;                                                                              \
        c->expected = FIB_EXPECTED;                                                                \
        return t;                                                                                  \
    }
WARM_FIB(seq)
WARM_FIB(gust)
WARM_FIB(tbb)
WARM_FIB(omp)

static void bench_fib(void)
{
    section("1", "fib(35), one spawn per call",
            "  spawn fib(n-1), compute fib(n-2) inline, join; 14930351 spawns per run.\n"
            "  ratio = row's time / gust's time at the same thread count (>1: slower than gust).");
    fib_ctx_t c = {.n = FIB_N, .expected = FIB_EXPECTED};
    char label[32];
    runs_t r = measure(run_fib_seq, warm_fib_seq, &c);
    double seq = runs_median(&r);
    settle();

    double gust_ns[3] = {0};
    char stats[3][512];
    gust_worker_stats_t before[MAX_STATS_WORKERS];
    for (unsigned t = 1; t <= 2; t++) {
        c.threads = t;
        c.pool = pool_new(t);
        warm_fib_gust(&c);
        stats_snapshot(c.pool, before);
        runs_t rg = measure(run_fib_gust, warmed_up, &c);
        snprintf(label, sizeof label, "%u thread%s, per run", t, t > 1 ? "s" : "");
        describe_stats(c.pool, before, label, rg.num, stats[t], sizeof stats[t]);
        gust_pool_free(c.pool);
        gust_ns[t] = runs_median(&rg);
        if (t == 1) {
            /* The baseline's ratio is against gust at 1 thread. */
            emit_runs("sequential recursive fib", 1, &r, 1e6, "ms", gust_ns[1]);
        }
        emit_runs("gust group_spawn/group_wait", t, &rg, 1e6, "ms", gust_ns[t]);
        settle();

        c.tbb = peer_tbb_new(t, 1);
        runs_t rt = measure(run_fib_tbb, warm_fib_tbb, &c);
        peer_tbb_free(c.tbb);
        emit_runs("oneTBB task_group run/wait", t, &rt, 1e6, "ms", gust_ns[t]);
        settle();

        runs_t ro = measure(run_fib_omp, warm_fib_omp, &c);
        emit_runs("OpenMP task/taskwait", t, &ro, 1e6, "ms", gust_ns[t]);
        settle();
    }

    char value[32];
    for (unsigned t = 1; t <= 2; t++) {
        snprintf(value, sizeof value, "%.2f ns", gust_ns[t] / FIB_SPAWNS);
        emit("gust ns per spawn (time / spawns)", t, value, -1, -1, 0);
    }
    printf("  gust overhead over sequential at 1 thread: %.2f ns per spawn\n",
           (gust_ns[1] - seq) / FIB_SPAWNS);
    for (unsigned t = 1; t <= 2; t++) {
        if (stats[t][0] != '\0') {
            puts(stats[t]);
        }
    }
}

/* ---- 2. spawn + join of an empty task, 1 thread ---------------------- */

typedef struct spawn_join_ctx_s {
    gust_pool_t *pool;
    peer_tbb_t *tbb;
    uint64_t elapsed;
} spawn_join_ctx_t;

/* Runs on the worker, so that the group's owner is the worker and the timing
 * leaves out the wakeup of the pool. */
static void spawn_join_loop(void *p)
{
    spawn_join_ctx_t *c = p;
    uint64_t t0 = now_ns();
    spawn_join_repeat(gust_pool_current(), SPAWN_JOIN_ITERS);
    c->elapsed = now_ns() - t0;
}

static uint64_t run_spawn_join_gust(void *p)
{
    spawn_join_ctx_t *c = p;
    gust_group_t g;
    gust_group_init(&g, c->pool);
    if (!gust_group_spawn(&g, spawn_join_loop, c)) {
        die("gust_group_spawn failed");
    }
    gust_group_wait(&g);
    return c->elapsed;
}

static uint64_t run_spawn_join_tbb(void *p)
{
    spawn_join_ctx_t *c = p;
    return peer_tbb_spawn_join(c->tbb, SPAWN_JOIN_ITERS);
}

static void bench_spawn_join(void)
{
    section("2", "spawn + join of an empty task, 1 thread",
            "  per iteration: group init, spawn(empty), wait; 1M iterations per run, timed on "
            "the worker.");
    spawn_join_ctx_t c = {.pool = pool_new(1)};
    runs_t rg = measure(run_spawn_join_gust, NULL, &c);
    gust_pool_free(c.pool);
    double gust =
        emit_runs("gust group_init/spawn/wait", 1, &rg, SPAWN_JOIN_ITERS, "ns", runs_median(&rg));
    settle();

    c.tbb = peer_tbb_new(1, 1);
    runs_t rt = measure(run_spawn_join_tbb, NULL, &c);
    peer_tbb_free(c.tbb);
    emit_runs("oneTBB task_group run/wait", 1, &rt, SPAWN_JOIN_ITERS, "ns", gust);
    settle();
}

/* ---- 3. parallel_for over 10M tiny bodies ---------------------------- */

/* The body every variant runs: a[i] = 2 * i. Out of line so that the
 * sequential twin runs the very code gust's pieces run. */
__attribute__((noinline)) static void fill_range(void *arg, int64_t lo, int64_t hi)
{
    int64_t *a = arg;
    for (int64_t i = lo; i < hi; i++) {
        a[i] = 2 * i;
    }
}

typedef struct fill_ctx_s {
    int64_t *a;
    unsigned threads;
    gust_pool_t *pool;
    peer_tbb_t *tbb;
    void (*fill)(struct fill_ctx_s *c);
} fill_ctx_t;

static void fill_seq(fill_ctx_t *c)
{
    fill_range(c->a, 0, FILL_LEN);
}

static void fill_gust(fill_ctx_t *c)
{
    if (!gust_parallel_for(c->pool, 0, FILL_LEN, 0, fill_range, c->a)) {
        die("gust_parallel_for failed");
    }
}

static void fill_tbb(fill_ctx_t *c)
{
    peer_tbb_fill(c->tbb, c->a, FILL_LEN);
}

static void fill_omp(fill_ctx_t *c)
{
    peer_omp_fill(c->threads, c->a, FILL_LEN);
}

/* Clears the array (pages stay mapped), times one fill, checks every slot. */
static uint64_t run_fill(void *p)
{
    fill_ctx_t *c = p;
    memset(c->a, 0xff, FILL_LEN * sizeof c->a[0]);
    uint64_t t0 = now_ns();
    c->fill(c);
    uint64_t t = now_ns() - t0;
    for (int64_t i = 0; i < FILL_LEN; i++) {
        if (c->a[i] != 2 * i) {
            fprintf(stderr, "bench: parallel_for: a[%lld] = %lld\n", (long long)i,
                    (long long)c->a[i]);
            exit(1);
        }
    }
    return t;
}

static void bench_fill(void)
{
    section("3", "parallel_for over 10M tiny bodies (a[i] = 2 * i, 80 MB of int64)",
            "  gust_parallel_for called from main (grain 0 = automatic); tbb::parallel_for in\n"
            "  the arena (auto partitioner); omp parallel for schedule(static).");
    fill_ctx_t c = {.a = malloc(FILL_LEN * sizeof(int64_t))};
    if (c.a == NULL) {
        die("out of memory");
    }
    c.fill = fill_seq;
    runs_t rs = measure(run_fill, NULL, &c);
    settle();
    char stats[3][512], label[32];
    gust_worker_stats_t before[MAX_STATS_WORKERS];
    for (unsigned t = 1; t <= 2; t++) {
        c.threads = t;
        c.pool = pool_new(t);
        c.fill = fill_gust;
        run_fill(&c);
        stats_snapshot(c.pool, before);
        runs_t rg = measure(run_fill, warmed_up, &c);
        snprintf(label, sizeof label, "%u thread%s, per run", t, t > 1 ? "s" : "");
        describe_stats(c.pool, before, label, rg.num, stats[t], sizeof stats[t]);
        gust_pool_free(c.pool);
        double gust = runs_median(&rg);
        if (t == 1) {
            emit_runs("sequential loop", 1, &rs, 1e6, "ms", gust);
        }
        emit_runs("gust_parallel_for", t, &rg, 1e6, "ms", gust);
        settle();

        c.tbb = peer_tbb_new(t, 1);
        c.fill = fill_tbb;
        runs_t rt = measure(run_fill, NULL, &c);
        peer_tbb_free(c.tbb);
        emit_runs("tbb::parallel_for", t, &rt, 1e6, "ms", gust);
        settle();

        c.fill = fill_omp;
        runs_t ro = measure(run_fill, NULL, &c);
        emit_runs("omp parallel for", t, &ro, 1e6, "ms", gust);
        settle();
    }
    for (unsigned t = 1; t <= 2; t++) {
        if (stats[t][0] != '\0') {
            puts(stats[t]);
        }
    }
    free(c.a);
}

/* ---- 4. empty-task throughput from outside submitters ---------------- */

typedef struct throughput_ctx_s {
    unsigned num_submitters;
    gust_pool_t *pool;
    peer_tbb_t *tbb;
    atomic_long count;
    sem_t done;
    pthread_barrier_t start;
} throughput_ctx_t;

static void count_task(void *p)
{
    throughput_ctx_t *c = p;
    /* Relaxed: the count orders nothing; sem_post publishes the end to the
     * waiter in run_throughput. */
    if (atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed) + 1 == THROUGHPUT_TASKS) {
        sem_post(&c->done);
    }
}

static void *submitter(void *p)
{
    throughput_ctx_t *c = p;
    long n = THROUGHPUT_TASKS / c->num_submitters;
    pthread_barrier_wait(&c->start);
    for (long i = 0; i < n; i++) {
        if (c->tbb != NULL) {
            peer_tbb_enqueue(c->tbb, count_task, c);
        } else if (!gust_pool_submit(c->pool, count_task, c)) {
            die("gust_pool_submit failed");
        }
    }
    return NULL;
}

/* Starts the submitter threads, then times from their common start until
 * the last task has run. */
static uint64_t run_throughput(void *p)
{
    throughput_ctx_t *c = p;
    pthread_t th[2];
    atomic_store_explicit(&c->count, 0, memory_order_relaxed);
    pthread_barrier_init(&c->start, NULL, c->num_submitters + 1);
    for (unsigned i = 0; i < c->num_submitters; i++) {
        if (pthread_create(&th[i], NULL, submitter, c) != 0) {
            die("pthread_create failed");
        }
    }
    pthread_barrier_wait(&c->start);
    uint64_t t0 = now_ns();
    while (sem_wait(&c->done) != 0) {
    }
    uint64_t t = now_ns() - t0;
    for (unsigned i = 0; i < c->num_submitters; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&c->start);
    check_long("tasks run", atomic_load(&c->count), THROUGHPUT_TASKS);
    return t;
}

static void emit_throughput(const char *what, unsigned submitters, runs_t *r, double gust_ns)
{
    double median = runs_median(r);
    char value[32];
    snprintf(value, sizeof value, "%.2f Mtask/s", THROUGHPUT_TASKS / median * 1e3);
    emit(what, submitters, value, gust_ns > 0 ? median / gust_ns : -1, runs_spread(r, median),
         r->num);
}

static void bench_throughput(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = ncpu > 0 ? (unsigned)ncpu : 2;
    char note[256];
    snprintf(note, sizeof note,
             "  2M empty tasks (each adds 1 to a shared counter) submitted from outside threads\n"
             "  to %u workers; timed until the last one ran. \"threads\" = submitter threads.\n"
             "  ratio = row's time / gust's time (>1: fewer tasks/s than gust).",
             workers);
    section("4", "empty-task throughput from outside submitters", note);
    throughput_ctx_t c = {.num_submitters = 1};
    sem_init(&c.done, 0, 0);
    char stats[3][512], label[32];
    gust_worker_stats_t before[MAX_STATS_WORKERS];
    for (unsigned s = 1; s <= 2; s++) {
        char what[64];
        c.num_submitters = s;
        c.pool = pool_new(workers);
        c.tbb = NULL;
        run_throughput(&c);
        stats_snapshot(c.pool, before);
        runs_t rg = measure(run_throughput, warmed_up, &c);
        snprintf(label, sizeof label, "%u submitter%s, per run", s, s > 1 ? "s" : "");
        describe_stats(c.pool, before, label, rg.num, stats[s], sizeof stats[s]);
        gust_pool_free(c.pool);
        c.pool = NULL;
        double gust = runs_median(&rg);
        snprintf(what, sizeof what, "gust_pool_submit (%u workers)", workers);
        emit_throughput(what, s, &rg, gust);
        settle();

        c.tbb = peer_tbb_new(workers, 0);
        runs_t rt = measure(run_throughput, NULL, &c);
        peer_tbb_free(c.tbb);
        snprintf(what, sizeof what, "tbb::task_arena::enqueue (%u workers)", workers);
        emit_throughput(what, s, &rt, gust);
        settle();
    }
    for (unsigned s = 1; s <= 2; s++) {
        if (stats[s][0] != '\0') {
            puts(stats[s]);
        }
    }
    sem_destroy(&c.done);
}

/* ---- 5. submit-to-start latency on a parked pool --------------------- */

typedef struct latency_ctx_s {
    gust_pool_t *pool;
    peer_tbb_t *tbb;
    uint64_t started; /* written by the task, read after `done` */
    sem_t done;
    sem_t go; /* for the futex floor */
    uint64_t samples[LATENCY_SAMPLES];
} latency_ctx_t;

static void latency_task(void *p)
{
    latency_ctx_t *c = p;
    c->started = now_ns();
    sem_post(&c->done);
}

/* The floor: a thread blocked in sem_wait, woken by sem_post. */
static void *latency_waiter(void *p)
{
    latency_ctx_t *c = p;
    for (int i = 0; i < LATENCY_SAMPLES; i++) {
        while (sem_wait(&c->go) != 0) {
        }
        latency_task(c);
    }
    return NULL;
}

/* Takes the samples: sleep so the threads park, submit, wait for the start.
 * Returns the sorted latencies in c->samples. */
static void latency_sample(latency_ctx_t *c)
{
    for (int i = 0; i < LATENCY_SAMPLES; i++) {
        sleep_ns(LATENCY_GAP_NS);
        uint64_t t0 = now_ns();
        if (c->pool != NULL) {
            if (!gust_pool_submit(c->pool, latency_task, c)) {
                die("gust_pool_submit failed");
            }
        } else if (c->tbb != NULL) {
            peer_tbb_enqueue(c->tbb, latency_task, c);
        } else {
            sem_post(&c->go);
        }
        while (sem_wait(&c->done) != 0) {
        }
        c->samples[i] = c->started - t0;
    }
    qsort(c->samples, LATENCY_SAMPLES, sizeof c->samples[0], cmp_u64);
}

/* Nearest rank. */
static double percentile_us(const uint64_t *sorted, double p)
{
    int idx = (int)(p * LATENCY_SAMPLES + 0.999999) - 1;
    if (idx < 0) {
        idx = 0;
    }
    return (double)sorted[idx] / 1e3;
}

/* Emits p50 and p99 of the sorted samples into `out`, with ratios to
 * `gust` (NULL: these are gust's). */
static void emit_latency(const char *what, unsigned threads, const latency_ctx_t *c,
                         const double *gust, double out[2])
{
    static const double ps[2] = {0.50, 0.99};
    static const char *names[2] = {"p50", "p99"};
    for (int k = 0; k < 2; k++) {
        char label[64], value[32];
        out[k] = percentile_us(c->samples, ps[k]);
        snprintf(label, sizeof label, "%s %s", what, names[k]);
        snprintf(value, sizeof value, "%.1f us", out[k]);
        emit(label, threads, value, gust != NULL ? out[k] / gust[k] : 1.0, -1, 0);
    }
}

static void bench_latency(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = ncpu > 0 ? (unsigned)ncpu : 2;
    section("5", "submit-to-start latency on a parked pool",
            "  2000 samples, 1.5 ms apart so the workers park; from just before submit on main\n"
            "  to clock_gettime at the start of the task. ratio = row / gust (>1: slower).");
    latency_ctx_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        die("out of memory");
    }
    sem_init(&c->done, 0, 0);
    sem_init(&c->go, 0, 0);
    double gust[2], other[2];

    c->pool = pool_new(workers);
    gust_worker_stats_t before[MAX_STATS_WORKERS];
    char stats[512];
    stats_snapshot(c->pool, before);
    latency_sample(c);
    describe_stats(c->pool, before, "per sample", LATENCY_SAMPLES, stats, sizeof stats);
    gust_pool_free(c->pool);
    c->pool = NULL;
    emit_latency("gust_pool_submit", workers, c, NULL, gust);
    if (stats[0] != '\0') {
        puts(stats);
    }
    settle();

    c->tbb = peer_tbb_new(workers, 0);
    latency_sample(c);
    peer_tbb_free(c->tbb);
    c->tbb = NULL;
    emit_latency("tbb::task_arena::enqueue", workers, c, gust, other);
    settle();

    pthread_t waiter;
    if (pthread_create(&waiter, NULL, latency_waiter, c) != 0) {
        die("pthread_create failed");
    }
    latency_sample(c);
    pthread_join(waiter, NULL);
    emit_latency("floor: sem_post to a sem_wait thread", 1, c, gust, other);

    sem_destroy(&c->go);
    sem_destroy(&c->done);
    free(c);
}

/* ---- Machine and summary --------------------------------------------- */

/* ---- 6. submit then free, cold --------------------------------------- */

/* Each run makes a pool, submits the root of fib(35) and frees the pool at
 * once: the tree is still in the first worker's deque when the pool starts
 * stopping, so the second worker takes part only if stopping workers keep
 * stealing until the pool is drained. */
static uint64_t run_cold_fib(void *p)
{
    const unsigned *threads = p;
    fib_arg_t root = {.n = FIB_N};
    uint64_t t0 = now_ns();
    gust_pool_t *pool = pool_new(*threads);
    if (!gust_pool_submit(pool, fib_task, &root)) {
        die("gust_pool_submit failed");
    }
    gust_pool_free(pool);
    uint64_t t = now_ns() - t0;
    check_long("cold gust fib", root.result, FIB_EXPECTED);
    return t;
}

static void bench_cold_free(void)
{
    section("6", "fib(35) submitted to a new pool, then gust_pool_free at once (cold)",
            "  each run includes making the pool; ratio = row's time / the 1-thread median.");
    unsigned threads = 1;
    runs_t one = measure(run_cold_fib, NULL, &threads);
    double one_ns = emit_runs("gust submit, then free", 1, &one, 1e6, "ms", 0);
    settle();
    threads = 2;
    runs_t two = measure(run_cold_fib, NULL, &threads);
    emit_runs("gust submit, then free", 2, &two, 1e6, "ms", one_ns);
    char value[32];
    snprintf(value, sizeof value, "%.2fx", (double)two.ns[two.num - 1] / one_ns);
    emit("slowest 2-thread run / 1-thread median", 2, value, -1, -1, 0);
}

/* ---- 7. n-queens(12) ------------------------------------------------- */

/* A board: queens on rows before this one cover cols, and the diagonals d1
 * and d2 on this row; `count` is the ways to fill the rest. */
typedef struct board_s {
    unsigned all, cols, d1, d2;
    long count;
} board_t;

static board_t next_board(const board_t *b, unsigned bit)
{
    return (board_t){b->all, b->cols | bit, ((b->d1 | bit) << 1) & b->all, (b->d2 | bit) >> 1, 0};
}

__attribute__((noinline)) static long queens_seq(board_t b)
{
    if (b.cols == b.all) {
        return 1;
    }
    long sum = 0;
    for (unsigned open = b.all & ~(b.cols | b.d1 | b.d2); open != 0; open &= open - 1) {
        sum += queens_seq(next_board(&b, open & (0u - open)));
    }
    return sum;
}

/* One task per queen placed but the last, which runs inline. */
static void queens_task(void *p)
{
    board_t *b = p;
    if (b->cols == b->all) {
        b->count = 1;
        return;
    }
    board_t kids[32];
    int k = 0;
    gust_group_t g;
    gust_group_init(&g, gust_pool_current());
    for (unsigned open = b->all & ~(b->cols | b->d1 | b->d2); open != 0; k++) {
        unsigned bit = open & (0u - open);
        open ^= bit;
        kids[k] = next_board(b, bit);
        if (open != 0) {
            gust_group_spawn(&g, queens_task, &kids[k]);
        } else {
            queens_task(&kids[k]);
        }
    }
    gust_group_wait(&g);
    b->count = 0;
    for (int i = 0; i < k; i++) {
        b->count += kids[i].count;
    }
}

typedef struct queens_ctx_s {
    gust_pool_t *pool;
    peer_tbb_t *tbb;
} queens_ctx_t;

static const board_t empty_board = {(1u << QUEENS_N) - 1, 0, 0, 0, 0};

static uint64_t run_queens_seq(void *p)
{
    (void)p;
    uint64_t t0 = now_ns();
    long r = queens_seq(empty_board);
    uint64_t t = now_ns() - t0;
    check_long("sequential queens", r, QUEENS_EXPECTED);
    return t;
}

static uint64_t run_queens_gust(void *p)
{
    queens_ctx_t *c = p;
    board_t root = empty_board;
    gust_group_t g;
    uint64_t t0 = now_ns();
    gust_group_init(&g, c->pool);
    if (!gust_group_spawn(&g, queens_task, &root)) {
        die("gust_group_spawn failed");
    }
    gust_group_wait(&g);
    uint64_t t = now_ns() - t0;
    check_long("gust queens", root.count, QUEENS_EXPECTED);
    return t;
}

static uint64_t run_queens_tbb(void *p)
{
    queens_ctx_t *c = p;
    uint64_t t0 = now_ns();
    long r = peer_tbb_queens(c->tbb, QUEENS_N);
    uint64_t t = now_ns() - t0;
    check_long("oneTBB queens", r, QUEENS_EXPECTED);
    return t;
}

static void bench_queens(void)
{
    section("7", "n-queens(12), a task per queen placed",
            "  14200 solutions; ratio = row's time / gust's time at the same thread count.");
    queens_ctx_t c = {0};
    runs_t seq = measure(run_queens_seq, NULL, &c);
    settle();
    for (unsigned t = 1; t <= 2; t++) {
        c.pool = pool_new(t);
        runs_t rg = measure(run_queens_gust, NULL, &c);
        gust_pool_free(c.pool);
        double gust_ns = runs_median(&rg);
        if (t == 1) {
            emit_runs("sequential recursive queens", 1, &seq, 1e6, "ms", gust_ns);
        }
        emit_runs("gust group_spawn/group_wait", t, &rg, 1e6, "ms", gust_ns);
        settle();
        c.tbb = peer_tbb_new(t, 1);
        runs_t rt = measure(run_queens_tbb, NULL, &c);
        peer_tbb_free(c.tbb);
        emit_runs("oneTBB task_group run/wait", t, &rt, 1e6, "ms", gust_ns);
        settle();
    }
}

static void print_machine(void)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v != NULL) {
                    v += 1 + strspn(v + 1, " \t");
                    v[strcspn(v, "\n")] = '\0';
                    snprintf(model, sizeof model, "%s", v);
                }
                break;
            }
        }
        fclose(f);
    }
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));

    printf("gust executor benchmark\n");
    printf("  date:     %s\n", date);
    printf("  nproc:    %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("  cpu:      %s\n", model);
    printf("  compiler: gcc %s%s\n", __VERSION__,
#ifdef __OPTIMIZE__
           ""
#else
           " (NOT OPTIMIZED: run with -c opt)"
#endif
    );
    printf("  peers:    oneTBB %s, OpenMP %d (libgomp)\n", peer_tbb_version(), peer_omp_version());
    printf("  runs:     median of %d runs after 1 warm-up (at least 3 where a row passes %llu s)\n",
           num_runs, ROW_BUDGET_NS / 1000000000ull);
}

static void print_summary(void)
{
    printf("\n## Summary (markdown)\n\n");
    printf("| # | what | threads | median | ratio to gust |\n");
    printf("|---|------|--------:|-------:|--------------:|\n");
    for (int i = 0; i < num_rows; i++) {
        const row_t *r = &rows[i];
        char th[16] = "-";
        if (r->threads > 0) {
            snprintf(th, sizeof th, "%u", r->threads);
        }
        printf("| %s | %s | %s | %s | %s |\n", r->section, r->what, th, r->value, r->ratio);
    }
    printf("\n");
}

/* The parts, by number. */
static void (*const parts[])(void) = {
    NULL,          bench_fib,       bench_spawn_join, bench_fill, bench_throughput,
    bench_latency, bench_cold_free, bench_queens,
};
enum { NUM_PARTS = sizeof(parts) / sizeof(parts[0]) - 1 };

/* Marks the parts a --parts list names ("2" or "1,3,5"); false if it names
 * anything else, or nothing. */
static bool parse_parts(const char *list, bool wanted[NUM_PARTS + 1])
{
    for (int part = 1; part <= NUM_PARTS; part++) {
        wanted[part] = false;
    }
    for (const char *c = list; *c != '\0'; c++) {
        if (*c == ',') {
            continue;
        }
        if (*c < '1' || *c > '0' + NUM_PARTS || (c[1] != ',' && c[1] != '\0')) {
            return false;
        }
        wanted[*c - '0'] = true;
    }
    for (int part = 1; part <= NUM_PARTS; part++) {
        if (wanted[part]) {
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    bool wanted[NUM_PARTS + 1] = {false};
    for (int part = 1; part <= NUM_PARTS; part++) {
        wanted[part] = true;
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--runs=", 7) == 0) {
            num_runs = atoi(argv[i] + 7);
            if (num_runs < 1 || num_runs > MAX_RUNS) {
                fprintf(stderr, "bench: --runs takes 1 to %d\n", MAX_RUNS);
                return 2;
            }
        } else if (strncmp(argv[i], "--parts=", 8) == 0) {
            if (!parse_parts(argv[i] + 8, wanted)) {
                fprintf(stderr, "bench: %s: the parts are numbered 1 to %d (such as 2 or 1,3)\n",
                        argv[i], NUM_PARTS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--runs=N] [--parts=1,2,...]\n", argv[0]);
            return 2;
        }
    }
    uint64_t t0 = now_ns();
    print_machine();
    for (int part = 1; part <= NUM_PARTS; part++) {
        if (wanted[part]) {
            parts[part]();
        }
    }
    print_summary();
    printf("total %.1f s\n", (double)(now_ns() - t0) / 1e9);
    return 0;
}
