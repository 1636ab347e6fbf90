/* The thread pool through its public API (pool/pool.h): options, fork-join
 * groups nested deep, parallel_for over awkward ranges, submission from
 * outside threads, shutdown with and without a deadline, thread hooks and
 * identity, statistics, and several pools at once.
 *
 * Each check aborts the process on failure, whichever thread it runs on. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gust/pool.h"
#include "tests/support/check.h"

/* Sanitizers slow every operation 5-15x and the machine may have two cores. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SCALE(n) ((n) / 10)
#else
#define SCALE(n) (n)
#endif

/* ---- helpers ---- */

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    ASSERT_EQ(clock_gettime(clock, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0)
        ASSERT_EQ(errno, EINTR);
}

/* Burns CPU for `ns` without sleeping, as a task doing real work would. */
static void busy_ns(uint64_t ns)
{
    uint64_t end = now_ns(CLOCK_MONOTONIC) + ns;
    while (now_ns(CLOCK_MONOTONIC) < end) {
    }
}

/* Atomic loads for checks: a function, not the <stdatomic.h> macro, so that a
 * failed check prints a readable expression. */
static long load_long(atomic_long *p)
{
    return atomic_load(p);
}

static long long load_llong(atomic_llong *p)
{
    return atomic_load(p);
}

static unsigned long long load_ullong(atomic_ullong *p)
{
    return atomic_load(p);
}

static int load_int(atomic_int *p)
{
    return atomic_load(p);
}

static gust_pool_t *new_pool(unsigned num_threads, const char *prefix)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = num_threads;
    if (prefix)
        opts.thread_name_prefix = prefix;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    ASSERT_UEQ(gust_pool_num_threads(pool), num_threads);
    return pool;
}

static void count_task(void *arg)
{
    atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed);
}

/* Runs fn(arg) as one task of `pool` and waits for it from this (outside)
 * thread, through a group. */
static void run_in_pool(gust_pool_t *pool, gust_task_fn fn, void *arg)
{
    gust_group_t group;
    gust_group_init(&group, pool);
    ASSERT_TRUE(gust_group_spawn(&group, fn, arg));
    gust_group_wait(&group);
}

/* Runs the check fn(NULL) as a task of a new one-worker pool, where nothing
 * is stolen and a deque's order is exact. */
static void on_one_worker(gust_task_fn fn)
{
    gust_pool_t *pool = new_pool(1, NULL);
    run_in_pool(pool, fn, NULL);
    gust_pool_free(pool);
}

/* Polls `done(arg)` every millisecond for up to 10 s; false on timeout. */
static bool wait_until(bool (*done)(void *arg), void *arg)
{
    for (int i = 0; i < 10000; i++) {
        if (done(arg))
            return true;
        sleep_ns(1000000);
    }
    return done(arg);
}

/* ---- options ---- */

static void opts_default_values(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    ASSERT_UEQ(opts.num_threads, 0);
    ASSERT_STR_EQ(opts.thread_name_prefix, "gust");
    ASSERT_TRUE(opts.on_thread_start == NULL);
    ASSERT_TRUE(opts.on_thread_stop == NULL);
    ASSERT_TRUE(opts.idle.poll == NULL);
    ASSERT_TRUE(opts.idle.park == NULL);
    ASSERT_TRUE(opts.idle.unpark == NULL);
    ASSERT_UGT(opts.spin_rounds, 0);
}

static void null_park(void *arg, unsigned index)
{
    (void)arg;
    (void)index;
}

static void counting_hook(void *arg, unsigned index)
{
    (void)index;
    atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed);
}

/* park without unpark, or unpark without park: EINVAL, and no thread ever
 * started (no hook ran). */
static void half_idle_hooks_are_einval(void)
{
    atomic_long hook_calls = 0;
    for (int which = 0; which < 2; which++) {
        gust_pool_opts_t opts = gust_pool_opts_default();
        opts.num_threads = 2;
        opts.on_thread_start = counting_hook;
        opts.on_thread_stop = counting_hook;
        opts.hook_arg = &hook_calls;
        if (which == 0)
            opts.idle.park = null_park;
        else
            opts.idle.unpark = null_park;
        errno = 0;
        ASSERT_NULL(gust_pool_new(&opts));
        ASSERT_EQ(errno, EINVAL);
    }
    ASSERT_EQ(load_long(&hook_calls), 0);
}

static void free_null_does_nothing(void)
{
    gust_pool_free(NULL);
}

/* NULL options: one worker per online CPU. */
static void default_pool(void)
{
    gust_pool_t *pool = gust_pool_new(NULL);
    ASSERT_NOT_NULL(pool);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ASSERT_GT(cpus, 0);
    ASSERT_UEQ(gust_pool_num_threads(pool), cpus);
    atomic_long ran = 0;
    run_in_pool(pool, count_task, &ran);
    ASSERT_EQ(load_long(&ran), 1);
    gust_pool_free(pool);
}

/* Runs misuse() in a child process, which must die of SIGABRT with
 * `message` in what it wrote to stderr. */
static void expect_abort(void (*misuse)(void), const char *message)
{
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(out[1], 2);
        misuse();
        _exit(0); /* the test fails: the misuse returned */
    }
    close(out[1]);
    char text[512];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(text) - 1 && (n = read(out[0], text + len, sizeof(text) - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    close(out[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGABRT);
    ASSERT_NOT_NULL(strstr(text, message));
}

static void spawn_outside_a_worker(void)
{
    atomic_long unused = 0;
    gust_spawn(count_task, &unused);
}

/* A task that frees its own pool would free it under its own worker. */
static void free_own_pool_task(void *arg)
{
    gust_pool_free(arg);
}

static void free_from_own_task(void)
{
    gust_pool_t *pool = new_pool(1, NULL);
    ASSERT_TRUE(gust_pool_submit(pool, free_own_pool_task, pool));
    sleep_ns(5000000000u); /* then the test fails: the free returned or hung */
}

/* Misuse aborts with a message (checked in child processes). */
static void misuse_aborts(void)
{
    expect_abort(spawn_outside_a_worker, "gust_spawn: called outside a pool worker");
    expect_abort(free_from_own_task,
                 "gust_pool_free: called from a task of the pool it would free");
}

/* ---- groups ---- */

/* Nested fork-join: a chain 30 groups deep, where each level also spawns a
 * small binary tree of groups (8 leaves). Every wait at every level must make
 * progress by running tasks, never by blocking a worker. */
enum { NEST_DEPTH = 30, NEST_SIDE_HEIGHT = 3, NEST_ROOTS = 32 };

typedef struct {
    atomic_long leaves;
    atomic_int max_depth;
} nest_stats_t;

typedef struct {
    nest_stats_t *stats;
    int depth;
} nest_t;

static void side_tree_task(void *arg)
{
    nest_t *node = arg;
    if (node->depth == 0) {
        atomic_fetch_add_explicit(&node->stats->leaves, 1, memory_order_relaxed);
        return;
    }
    nest_t left = {node->stats, node->depth - 1}, right = left;
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    ASSERT_TRUE(gust_group_spawn(&group, side_tree_task, &left));
    ASSERT_TRUE(gust_group_spawn(&group, side_tree_task, &right));
    gust_group_wait(&group);
}

static void chain_task(void *arg)
{
    nest_t *node = arg;
    ASSERT_NOT_NULL(gust_pool_current());
    int seen = atomic_load_explicit(&node->stats->max_depth, memory_order_relaxed);
    while (node->depth > seen &&
           !atomic_compare_exchange_weak_explicit(&node->stats->max_depth, &seen, node->depth,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
    if (node->depth == NEST_DEPTH) {
        atomic_fetch_add_explicit(&node->stats->leaves, 1, memory_order_relaxed);
        return;
    }
    nest_t next = {node->stats, node->depth + 1};
    nest_t side = {node->stats, NEST_SIDE_HEIGHT};
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    ASSERT_TRUE(gust_group_spawn(&group, chain_task, &next));
    ASSERT_TRUE(gust_group_spawn(&group, side_tree_task, &side));
    gust_group_wait(&group);
}

static void nested_groups_30_deep(unsigned num_threads)
{
    gust_pool_t *pool = new_pool(num_threads, NULL);
    nest_stats_t stats = {0};
    nest_t roots[NEST_ROOTS];
    gust_group_t group;
    gust_group_init(&group, pool);
    for (int i = 0; i < NEST_ROOTS; i++) {
        roots[i] = (nest_t){&stats, 0};
        ASSERT_TRUE(gust_group_spawn(&group, chain_task, &roots[i]));
    }
    gust_group_wait(&group);
    ASSERT_EQ(load_int(&stats.max_depth), NEST_DEPTH);
    /* Per root: 8 leaves at each of levels 0..29, one at the bottom. */
    ASSERT_EQ(load_long(&stats.leaves), NEST_ROOTS * (NEST_DEPTH * (1 << NEST_SIDE_HEIGHT) + 1));
    gust_pool_free(pool);
}

typedef struct {
    int n;
    long result;
} fib_t;

/* fib with one spawn per call; results are plain fields, read after the
 * wait: the wait must make the children's writes visible. */
static void fib_task(void *arg)
{
    fib_t *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return;
    }
    fib_t a = {f->n - 1, -1}, b = {f->n - 2, -1};
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    ASSERT_TRUE(gust_group_spawn(&group, fib_task, &a));
    fib_task(&b);
    gust_group_wait(&group);
    f->result = a.result + b.result;
}

static void fib_25(void)
{
    gust_pool_t *pool = new_pool(2, NULL);
    fib_t root = {25, -1};
    run_in_pool(pool, fib_task, &root);
    ASSERT_EQ(root.result, 75025);
    gust_pool_free(pool);
}

/* A group owned by an outside thread: it spawns many tasks, one slow, then
 * sleeps in the wait (using little CPU) and sees every task's plain writes. */
typedef struct {
    long index;
    long value;
} slot_t;

static void write_slot_task(void *arg)
{
    slot_t *slot = arg;
    if (slot->index == 0)
        sleep_ns(200000000); /* keep the group busy while the owner waits */
    slot->value = slot->index * 3 + 1;
}

static void group_waited_from_outside(void)
{
    enum { N = 10000 };
    gust_pool_t *pool = new_pool(2, NULL);
    slot_t *slots = calloc(N, sizeof(*slots));
    ASSERT_NOT_NULL(slots);
    gust_group_t group;
    gust_group_init(&group, pool);
    for (long i = 0; i < N; i++) {
        slots[i].index = i;
        ASSERT_TRUE(gust_group_spawn(&group, write_slot_task, &slots[i]));
    }
    uint64_t cpu_before = now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t wall_before = now_ns(CLOCK_MONOTONIC);
    gust_group_wait(&group);
    uint64_t cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_before;
    uint64_t wall_ns = now_ns(CLOCK_MONOTONIC) - wall_before;
    for (long i = 0; i < N; i++)
        ASSERT_EQ(slots[i].value, i * 3 + 1);
    /* The slow task was still sleeping: the wait slept, not spun. */
    printf("outside wait: %.1f ms wall, %.2f ms CPU\n", wall_ns / 1e6, cpu_ns / 1e6);
    if (wall_ns > 50000000)
        ASSERT_ULT(cpu_ns, wall_ns / 5);
    free(slots);
    gust_pool_free(pool);
}

/* A group reused after each wait, from outside and from inside a worker;
 * also a wait with nothing spawned. */
static void reuse_group(gust_pool_t *pool)
{
    atomic_long counter = 0;
    long expected = 0;
    gust_group_t group;
    gust_group_init(&group, pool);
    gust_group_wait(&group); /* nothing spawned: returns at once */
    for (int round = 0; round < 200; round++) {
        int n = round % 7; /* 0 too */
        for (int i = 0; i < n; i++)
            ASSERT_TRUE(gust_group_spawn(&group, count_task, &counter));
        gust_group_wait(&group);
        expected += n;
        ASSERT_EQ(load_long(&counter), expected);
    }
}

static void reuse_group_task(void *arg)
{
    reuse_group(arg);
}

static void group_reused_after_wait(void)
{
    gust_pool_t *pool = new_pool(2, NULL);
    reuse_group(pool);
    run_in_pool(pool, reuse_group_task, pool);
    gust_pool_free(pool);
}

/* Two groups whose tasks interleave on one worker's deque: waiting on the
 * first pops the second's newer task, runs it and must count it as the
 * second's, then still wait for its own. */
static void interleaved_groups_settle_their_own_tasks(void *arg)
{
    (void)arg;
    gust_pool_t *pool = gust_pool_current();
    atomic_long first_ran = 0, second_ran = 0;
    gust_group_t first, second;
    gust_group_init(&first, pool);
    gust_group_init(&second, pool);
    ASSERT_TRUE(gust_group_spawn(&first, count_task, &first_ran));
    ASSERT_TRUE(gust_group_spawn(&second, count_task, &second_ran));
    gust_group_wait(&first);
    ASSERT_EQ(load_long(&first_ran), 1);
    ASSERT_EQ(load_long(&second_ran), 1); /* ran first: it was on top */
    gust_group_wait(&second);
    ASSERT_EQ(load_long(&second_ran), 1);
}

/* A reused group's two counts drift apart by 2 for every task of the owner's
 * that a thief ran, and after 2^30 such steals they pass INT_MAX. Set them
 * there directly (private fields, standing for a long-lived group on a busy
 * machine): the group must still work, and nothing may overflow (UBSan in
 * the asan configuration reports signed overflow). */
static void group_counts_may_wrap(void *arg)
{
    (void)arg;
    atomic_long ran = 0;
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    group.local = 0x7ffffffeu;
    atomic_store(&group.remote, 0x80000002u); /* the sum is 2^32: done */
    gust_group_wait(&group);
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(gust_group_spawn(&group, count_task, &ran));
    gust_group_wait(&group);
    ASSERT_EQ(load_long(&ran), 3);
}

/* Tasks of a group spawn more tasks into the same group, from whichever
 * worker runs them: a complete binary tree in heap order, each node marking
 * itself with a plain store. */
enum { TREE_NODES = (1 << 12) - 1 };

typedef struct {
    gust_group_t *group;
    unsigned char *visited;
} tree_t;

typedef struct {
    tree_t *tree;
    unsigned index;
} tree_node_t;

static tree_node_t tree_nodes[TREE_NODES];

static void tree_node_task(void *arg)
{
    tree_node_t *node = arg;
    tree_t *tree = node->tree;
    tree->visited[node->index]++;
    for (unsigned child = 2 * node->index + 1; child <= 2 * node->index + 2; child++) {
        if (child < TREE_NODES)
            ASSERT_TRUE(gust_group_spawn(tree->group, tree_node_task, &tree_nodes[child]));
    }
}

static void spawn_tree_and_check(gust_pool_t *pool)
{
    unsigned char *visited = calloc(TREE_NODES, 1);
    ASSERT_NOT_NULL(visited);
    gust_group_t group;
    gust_group_init(&group, pool);
    tree_t tree = {&group, visited};
    for (unsigned i = 0; i < TREE_NODES; i++)
        tree_nodes[i] = (tree_node_t){&tree, i};
    ASSERT_TRUE(gust_group_spawn(&group, tree_node_task, &tree_nodes[0]));
    gust_group_wait(&group);
    for (unsigned i = 0; i < TREE_NODES; i++)
        ASSERT_UEQ(visited[i], 1);
    free(visited);
}

static void spawn_tree_task(void *arg)
{
    spawn_tree_and_check(arg);
}

static void group_tasks_spawn_into_their_group(void)
{
    gust_pool_t *pool = new_pool(3, NULL);
    spawn_tree_and_check(pool);               /* group owned by this thread */
    run_in_pool(pool, spawn_tree_task, pool); /* group owned by a worker */
    gust_pool_free(pool);
}

/* ---- parallel_for ---- */

typedef struct {
    int64_t lo, hi, grain;
    unsigned char *hits; /* per index, plain: overlapping pieces show as 2 */
    atomic_ullong sum;   /* of i, modulo 2^64 */
    atomic_llong num_indexes;
    atomic_long num_calls;
    bool on_workers_only; /* called from outside: pieces run on workers */
} pfor_t;

static void pfor_body(void *arg, int64_t lo, int64_t hi)
{
    pfor_t *p = arg;
    ASSERT_LE(p->lo, lo);
    ASSERT_LE(lo, hi);
    ASSERT_LE(hi, p->hi);
    /* (uint64_t) differences: the range may span most of int64_t. */
    if (p->grain > 0)
        ASSERT_ULE((uint64_t)hi - (uint64_t)lo, (uint64_t)p->grain);
    if (p->on_workers_only)
        ASSERT_GE(gust_worker_index(), 0);
    uint64_t sum = 0;
    for (int64_t i = lo; i < hi; i++) {
        sum += (uint64_t)i;
        if (p->hits)
            p->hits[(uint64_t)i - (uint64_t)p->lo]++;
    }
    atomic_fetch_add_explicit(&p->sum, sum, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->num_indexes, hi - lo, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->num_calls, 1, memory_order_relaxed);
}

typedef struct {
    int64_t lo, hi, grain;
} range_case_t;

static void parallel_for_ranges(gust_pool_t *pool)
{
    const range_case_t cases[] = {
        {0, SCALE(10000000), 1000}, /* sum checked against n(n-1)/2 */
        {0, 100000, 64},
        {1000, 1000 + 12345, 100}, /* lo > 0 */
        {-5000, 5000, 7},          /* negative indexes */
        {42, 42, 10},              /* empty */
        {0, 777, 0},               /* grain 0: the pool picks */
        {0, 100000, 0},
        {0, 50, 1000}, /* grain larger than the range */
        {5, 6, 1},     /* one index */
        {0, 1000, 1},  /* one index per piece */
        {0, 1024, 1024},
        {INT64_MAX - 1000, INT64_MAX, 10}, /* no overflow splitting near the ends */
        {INT64_MIN, INT64_MIN + 1000, 10},
    };
    bool outside = gust_pool_current() == NULL;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const range_case_t *rc = &cases[c];
        uint64_t n = (uint64_t)rc->hi - (uint64_t)rc->lo;
        pfor_t p = {.lo = rc->lo, .hi = rc->hi, .grain = rc->grain, .on_workers_only = outside};
        if (n <= 100000) {
            p.hits = calloc(n + 1, 1);
            ASSERT_NOT_NULL(p.hits);
        }
        ASSERT_TRUE(gust_parallel_for(pool, rc->lo, rc->hi, rc->grain, pfor_body, &p));
        ASSERT_UEQ(load_llong(&p.num_indexes), n);
        /* sum of i over [lo, hi) = n * lo + n(n-1)/2, modulo 2^64 */
        uint64_t half_triangle = (n % 2 == 0) ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
        uint64_t expected_sum = n * (uint64_t)rc->lo + half_triangle;
        ASSERT_UEQ(load_ullong(&p.sum), expected_sum);
        if (n > 0) {
            ASSERT_GE(load_long(&p.num_calls), 1);
            if (rc->grain > 0)
                ASSERT_UGE(load_long(&p.num_calls), (n + (uint64_t)rc->grain - 1) / rc->grain);
        }
        if (p.hits) {
            for (uint64_t i = 0; i < n; i++) {
                if (p.hits[i] != 1)
                    fprintf(stderr,
                            "range [%" PRId64 ", %" PRId64 ") grain %" PRId64 ": index %" PRId64
                            " handled %u times\n",
                            rc->lo, rc->hi, rc->grain, (int64_t)((uint64_t)rc->lo + i), p.hits[i]);
                ASSERT_UEQ(p.hits[i], 1);
            }
            free(p.hits);
        }
    }
}

static void parallel_for_ranges_task(void *arg)
{
    parallel_for_ranges(arg);
}

static void parallel_for_from_outside_and_inside(void)
{
    gust_pool_t *pool = new_pool(2, NULL);
    parallel_for_ranges(pool);
    run_in_pool(pool, parallel_for_ranges_task, pool);
    gust_pool_free(pool);
}

/* With enough work, every worker joins in: the split reaches idle workers. */
typedef struct {
    atomic_uint workers_seen; /* bit per worker index */
} spread_t;

/* ---- parallel_reduce ---- */

/* An ordered accumulator: the indexes it covers, which must come in order
 * (combine is associative, not commutative), their sum, and a float sum that
 * depends on the order of additions. */
typedef struct span_s {
    int64_t first; /* -1: empty */
    int64_t last;
    int64_t sum;
    double harmonic;
    bool in_order;
} span_t;

static const span_t empty_span = {.first = -1, .last = -1, .in_order = true};

static void span_body(void *arg, int64_t lo, int64_t hi, void *acc)
{
    (void)arg;
    span_t *span = acc;
    ASSERT_EQ(span->first, -1); /* each piece starts from the identity */
    span->first = lo;
    span->last = hi - 1;
    for (int64_t i = lo; i < hi; i++) {
        span->sum += i;
        span->harmonic += 1.0 / (double)(i + 1);
    }
}

static void span_combine(void *arg, void *into_acc, const void *from_acc)
{
    (void)arg;
    span_t *into = into_acc;
    const span_t *from = from_acc;
    into->in_order = into->in_order && from->in_order && into->last + 1 == from->first;
    into->last = from->last;
    into->sum += from->sum;
    into->harmonic += from->harmonic;
}

static const gust_reduction_t span_reduction = {
    .body = span_body,
    .combine = span_combine,
    .identity = &empty_span,
    .acc_size = sizeof(span_t),
};

typedef struct reduce_case_s {
    gust_pool_t *pool;
    int64_t lo, hi, grain;
    span_t out;
} reduce_case_t;

static void reduce_case_task(void *arg)
{
    reduce_case_t *c = arg;
    ASSERT_TRUE(gust_parallel_reduce(c->pool, c->lo, c->hi, c->grain, &span_reduction, &c->out));
}

static void check_span(const span_t *span, int64_t lo, int64_t hi)
{
    ASSERT_TRUE(span->in_order);
    ASSERT_EQ(span->first, lo);
    ASSERT_EQ(span->last, hi - 1);
    ASSERT_EQ(span->sum, (hi - 1 + lo) * (hi - lo) / 2);
}

/* Sums over [0, 1M) in pieces of 1000 on 1 and 2 workers, from outside and
 * from a task: the same bits every time, pieces combined in order. */
static void parallel_reduce_is_ordered_and_deterministic(void)
{
    enum { N = 1000000, GRAIN = 1000 };
    double first_harmonic = 0;
    for (unsigned threads = 1; threads <= 2; threads++) {
        gust_pool_t *pool = new_pool(threads, NULL);
        for (int run = 0; run < 4; run++) {
            reduce_case_t c = {.pool = pool, .lo = 0, .hi = N, .grain = GRAIN};
            if (run % 2 == 0)
                reduce_case_task(&c);
            else
                run_in_pool(pool, reduce_case_task, &c);
            check_span(&c.out, 0, N);
            if (threads == 1 && run == 0)
                first_harmonic = c.out.harmonic;
            ASSERT_TRUE(memcmp(&c.out.harmonic, &first_harmonic, sizeof(double)) == 0);
        }
        /* Grain from the pool, odd bounds. */
        reduce_case_t c = {.pool = pool, .lo = -12345, .hi = 67891, .grain = 0};
        reduce_case_task(&c);
        check_span(&c.out, -12345, 67891);
        /* Empty: the identity. */
        span_t out;
        ASSERT_TRUE(gust_parallel_reduce(pool, 5, 5, 0, &span_reduction, &out));
        ASSERT_EQ(out.first, -1);
        ASSERT_EQ(out.sum, 0);
        /* Accumulators of no size or too big are refused. */
        gust_reduction_t bad = span_reduction;
        bad.acc_size = 0;
        errno = 0;
        ASSERT_FALSE(gust_parallel_reduce(pool, 0, 10, 0, &bad, &out));
        ASSERT_EQ(errno, EINVAL);
        bad.acc_size = GUST_REDUCE_MAX_ACC + 1;
        ASSERT_FALSE(gust_parallel_reduce(pool, 0, 10, 0, &bad, &out));
        gust_pool_free(pool);
    }
    printf("parallel_reduce: harmonic(1M) = %.17g on 1 and 2 workers\n", first_harmonic);
}

static void spread_body(void *arg, int64_t lo, int64_t hi)
{
    spread_t *s = arg;
    int index = gust_worker_index();
    ASSERT_GE(index, 0);
    ASSERT_LT(index, 32);
    atomic_fetch_or_explicit(&s->workers_seen, 1u << index, memory_order_relaxed);
    busy_ns((uint64_t)(hi - lo) * 200000); /* 0.2 ms per index */
}

static void parallel_for_uses_every_worker(void)
{
    gust_pool_t *pool = new_pool(2, NULL);
    sleep_ns(50000000); /* both workers park: one must be woken to help */
    spread_t s = {0};
    ASSERT_TRUE(gust_parallel_for(pool, 0, 500, 1, spread_body, &s)); /* 100 ms of work */
    unsigned workers_seen = atomic_load(&s.workers_seen);
    ASSERT_UEQ(workers_seen, 3);
    gust_pool_free(pool);
}

/* ---- submission and shutdown ---- */

typedef struct {
    gust_pool_t *pool;
    long num_tasks;
    atomic_long *counter;
    pthread_t thread;
} submitter_t;

static void *submitter_main(void *arg)
{
    submitter_t *s = arg;
    ASSERT_NULL(gust_pool_current());
    ASSERT_EQ(gust_worker_index(), -1);
    for (long i = 0; i < s->num_tasks; i++)
        ASSERT_TRUE(gust_pool_submit(s->pool, count_task, s->counter));
    return NULL;
}

/* Four outside threads submit a million tasks; gust_pool_free runs them all. */
static void outside_threads_submit(void)
{
    enum { NUM_SUBMITTERS = 4 };
    const long total = SCALE(1000000);
    gust_pool_t *pool = new_pool(2, NULL);
    atomic_long counter = 0;
    submitter_t submitters[NUM_SUBMITTERS];
    for (int i = 0; i < NUM_SUBMITTERS; i++) {
        submitters[i] =
            (submitter_t){.pool = pool, .num_tasks = total / NUM_SUBMITTERS, .counter = &counter};
        ASSERT_EQ(pthread_create(&submitters[i].thread, NULL, submitter_main, &submitters[i]), 0);
    }
    for (int i = 0; i < NUM_SUBMITTERS; i++)
        ASSERT_EQ(pthread_join(submitters[i].thread, NULL), 0);
    gust_pool_free(pool);
    ASSERT_EQ(load_long(&counter), total);
}

/* Slow-ish tasks, a quarter of them spawning three children with gust_spawn,
 * all still queued when gust_pool_free is called: it runs them all, children
 * included. */
/* gust_pool_free right after submitting a fork-join tree: the tree keeps
 * spawning after the queues first look empty, so an idle worker must stay
 * and steal until the pool is drained, not leave. Each worker notes, as it
 * stops, how many of the tree's calls had finished: all of them, in every
 * one of many runs (a worker that left early saw only a few). Leaves spin
 * for a while, so the tree lasts about 50 ms. */
enum { DRAIN_RUNS = 20, DRAIN_FIB = 21, DRAIN_CALLS = 35421, DRAIN_LEAF_NS = 3000 };

static atomic_long drain_calls_done;
static long drain_done_at_stop[2];

static void drain_fib_task(void *arg)
{
    intptr_t n = (intptr_t)arg;
    if (n < 2) {
        busy_ns(DRAIN_LEAF_NS);
    } else {
        gust_group_t group;
        gust_group_init(&group, gust_pool_current());
        gust_group_spawn(&group, drain_fib_task, (void *)(n - 1));
        drain_fib_task((void *)(n - 2));
        gust_group_wait(&group);
    }
    atomic_fetch_add_explicit(&drain_calls_done, 1, memory_order_relaxed);
}

static void note_calls_done_at_stop(void *arg, unsigned index)
{
    (void)arg;
    drain_done_at_stop[index] = atomic_load(&drain_calls_done);
}

static void free_drains_on_every_worker(void)
{
    for (int run = 0; run < DRAIN_RUNS; run++) {
        atomic_store(&drain_calls_done, 0);
        gust_pool_opts_t opts = gust_pool_opts_default();
        opts.num_threads = 2;
        opts.on_thread_stop = note_calls_done_at_stop;
        gust_pool_t *pool = gust_pool_new(&opts);
        ASSERT_NOT_NULL(pool);
        ASSERT_TRUE(gust_pool_submit(pool, drain_fib_task, (void *)DRAIN_FIB));
        gust_pool_free(pool);
        /* fib(21) makes 2 fib(22) - 1 calls. */
        ASSERT_EQ(load_long(&drain_calls_done), DRAIN_CALLS);
        ASSERT_EQ(drain_done_at_stop[0], DRAIN_CALLS);
        ASSERT_EQ(drain_done_at_stop[1], DRAIN_CALLS);
    }
}

static void slow_child_task(void *arg)
{
    busy_ns(5000);
    count_task(arg);
}

static void slow_parent_task(void *arg)
{
    busy_ns(20000);
    count_task(arg);
    for (int i = 0; i < 3; i++)
        gust_spawn(slow_child_task, arg);
}

static void free_runs_pending_work(void)
{
    const long parents = SCALE(2000);
    gust_pool_t *pool = new_pool(2, NULL);
    atomic_long ran = 0;
    for (long i = 0; i < parents; i++)
        ASSERT_TRUE(
            gust_pool_submit(pool, (i % 4 == 0) ? slow_parent_task : slow_child_task, &ran));
    gust_pool_free(pool);
    long spawners = (parents + 3) / 4;
    ASSERT_EQ(load_long(&ran), parents + 3 * spawners);
}

/* gust_pool_free_within drops what has not started by the deadline. */
static void sleep_1ms_task(void *arg)
{
    sleep_ns(1000000);
    count_task(arg);
}

typedef struct {
    atomic_long ran;
    int num_children;
    sem_t spawned;
} spawner_t;

static void spawn_sleepers_task(void *arg)
{
    spawner_t *s = arg;
    for (int i = 0; i < s->num_children; i++)
        gust_spawn(sleep_1ms_task, &s->ran);
    count_task(&s->ran);
    ASSERT_EQ(sem_post(&s->spawned), 0);
}

static void free_within_drops_late_tasks(void)
{
    /* Queued in the injection queue, one worker. */
    {
        enum { N = 500 };
        gust_pool_t *pool = new_pool(1, NULL);
        atomic_long ran = 0;
        for (int i = 0; i < N; i++)
            ASSERT_TRUE(gust_pool_submit(pool, sleep_1ms_task, &ran));
        uint64_t start = now_ns(CLOCK_MONOTONIC);
        size_t dropped = gust_pool_free_within(pool, 20000000);
        uint64_t took = now_ns(CLOCK_MONOTONIC) - start;
        long r = atomic_load(&ran);
        printf("free_within, injected: %ld ran, %zu dropped, %.1f ms\n", r, dropped, took / 1e6);
        ASSERT_UEQ((size_t)r + dropped, N);
        ASSERT_UGT(dropped, 0);
    }
    /* Queued in a worker's deque (spawned by a task), two workers. */
    {
        gust_pool_t *pool = new_pool(2, NULL);
        spawner_t s = {.num_children = 400};
        ASSERT_EQ(sem_init(&s.spawned, 0, 0), 0);
        ASSERT_TRUE(gust_pool_submit(pool, spawn_sleepers_task, &s));
        while (sem_wait(&s.spawned) != 0)
            ASSERT_EQ(errno, EINTR);
        size_t dropped = gust_pool_free_within(pool, 20000000);
        long r = atomic_load(&s.ran);
        printf("free_within, spawned: %ld ran, %zu dropped\n", r, dropped);
        ASSERT_UEQ((size_t)r + dropped, s.num_children + 1);
        ASSERT_UGT(dropped, 0);
        sem_destroy(&s.spawned);
    }
    /* A deadline far away: nothing dropped. */
    {
        enum { N = 200 };
        gust_pool_t *pool = new_pool(2, NULL);
        atomic_long ran = 0;
        for (int i = 0; i < N; i++)
            ASSERT_TRUE(gust_pool_submit(pool, count_task, &ran));
        ASSERT_UEQ(gust_pool_free_within(pool, 30ull * 1000000000u), 0);
        ASSERT_EQ(load_long(&ran), N);
    }
}

/* ---- hooks and identity ---- */

enum { HOOK_THREADS = 4 };

typedef struct {
    gust_pool_t *pool; /* set before any task is spawned */
    atomic_int started[HOOK_THREADS];
    atomic_int stopped[HOOK_THREADS];
    pthread_t threads[HOOK_THREADS]; /* each written by its worker, at start */
    atomic_long tasks_ran;
} hooks_t;

static void on_start(void *arg, unsigned index)
{
    hooks_t *h = arg;
    ASSERT_ULT(index, HOOK_THREADS);
    h->threads[index] = pthread_self();
    ASSERT_EQ(atomic_fetch_add(&h->started[index], 1), 0);
}

static void on_stop(void *arg, unsigned index)
{
    hooks_t *h = arg;
    ASSERT_ULT(index, HOOK_THREADS);
    ASSERT_EQ(load_int(&h->started[index]), 1);
    ASSERT_TRUE(pthread_equal(h->threads[index], pthread_self()));
    ASSERT_EQ(atomic_fetch_add(&h->stopped[index], 1), 0);
}

static void identity_task(void *arg)
{
    hooks_t *h = arg;
    ASSERT_PTR_EQ(gust_pool_current(), h->pool);
    int index = gust_worker_index();
    ASSERT_GE(index, 0);
    ASSERT_LT(index, HOOK_THREADS);
    /* The start hook ran on this very thread before any task. */
    ASSERT_EQ(load_int(&h->started[index]), 1);
    ASSERT_TRUE(pthread_equal(h->threads[index], pthread_self()));
    char name[16], expected[64];
    ASSERT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
    snprintf(expected, sizeof(expected), "hk-%d", index);
    ASSERT_STR_EQ(name, expected);
    atomic_fetch_add(&h->tasks_ran, 1);
}

static void hooks_and_identity(void)
{
    enum { N = 2000 };
    static hooks_t h; /* zeroed */
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = HOOK_THREADS;
    opts.thread_name_prefix = "hk";
    opts.on_thread_start = on_start;
    opts.on_thread_stop = on_stop;
    opts.hook_arg = &h;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    h.pool = pool;
    ASSERT_NULL(gust_pool_current());
    ASSERT_EQ(gust_worker_index(), -1);

    gust_group_t group;
    gust_group_init(&group, pool);
    for (int i = 0; i < N; i++)
        ASSERT_TRUE(gust_group_spawn(&group, identity_task, &h));
    gust_group_wait(&group);
    ASSERT_EQ(load_long(&h.tasks_ran), N);
    /* Still outside after helping nobody. */
    ASSERT_NULL(gust_pool_current());
    ASSERT_EQ(gust_worker_index(), -1);

    gust_pool_free(pool);
    for (int i = 0; i < HOOK_THREADS; i++) {
        ASSERT_EQ(load_int(&h.started[i]), 1);
        ASSERT_EQ(load_int(&h.stopped[i]), 1);
    }
    for (int i = 0; i < HOOK_THREADS; i++)
        for (int j = i + 1; j < HOOK_THREADS; j++)
            ASSERT_FALSE(pthread_equal(h.threads[i], h.threads[j]));
}

/* A prefix too long for the 15-byte thread name is truncated. */
/* pin_workers: worker i runs on the i-th allowed CPU alone, round robin. */
enum { MAX_PIN_WORKERS = 64 };
static int pinned_cpu[MAX_PIN_WORKERS];

static void record_pinned_cpu(void *arg, unsigned index)
{
    (void)arg;
    cpu_set_t mask;
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof(mask), &mask), 0);
    ASSERT_EQ(CPU_COUNT(&mask), 1);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &mask))
            pinned_cpu[index] = cpu;
    }
}

static void pinned_workers(void)
{
    cpu_set_t allowed;
    ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    int cpus[CPU_SETSIZE];
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed))
            cpus[count++] = cpu;
    }
    unsigned num_threads =
        (unsigned)count + 1 < MAX_PIN_WORKERS ? (unsigned)count + 1 : MAX_PIN_WORKERS;
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = num_threads;
    opts.pin_workers = true;
    opts.on_thread_start = record_pinned_cpu;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    gust_pool_free(pool);
    for (unsigned i = 0; i < num_threads; i++)
        ASSERT_EQ(pinned_cpu[i], cpus[i % (unsigned)count]);
    printf("pin_workers: %u workers on %d CPUs, one each, round robin\n", num_threads, count);
}

static void name_task(void *arg)
{
    char *out = arg;
    ASSERT_EQ(pthread_getname_np(pthread_self(), out, 16), 0);
}

static void long_prefix_is_truncated(void)
{
    gust_pool_t *pool = new_pool(1, "a-rather-long-thread-prefix");
    char name[16] = "";
    run_in_pool(pool, name_task, name);
    ASSERT_STR_EQ(name, "a-rather-long-t");
    gust_pool_free(pool);
}

/* A task of pool A spawns into a group on pool B and waits for it: the
 * wait must not run B's tasks on A's worker nor deadlock. */
enum { CROSS_TASKS = 100, CROSS_PARENTS = 4 };

typedef struct {
    gust_pool_t *a, *b;
    int ran_on[CROSS_TASKS]; /* plain: worker index + 1 of B */
} cross_t;

typedef struct {
    cross_t *cross;
    int index;
} cross_item_t;

static void cross_child_task(void *arg)
{
    cross_item_t *item = arg;
    ASSERT_PTR_EQ(gust_pool_current(), item->cross->b);
    item->cross->ran_on[item->index] = gust_worker_index() + 1;
}

static void cross_parent_task(void *arg)
{
    cross_t *cross = arg;
    ASSERT_PTR_EQ(gust_pool_current(), cross->a);
    cross_item_t items[CROSS_TASKS];
    gust_group_t group;
    gust_group_init(&group, cross->b);
    for (int i = 0; i < CROSS_TASKS; i++) {
        items[i] = (cross_item_t){cross, i};
        ASSERT_TRUE(gust_group_spawn(&group, cross_child_task, &items[i]));
    }
    gust_group_wait(&group);
    ASSERT_PTR_EQ(gust_pool_current(), cross->a);
    for (int i = 0; i < CROSS_TASKS; i++) {
        ASSERT_GE(cross->ran_on[i], 1);
        ASSERT_LE(cross->ran_on[i], 2);
    }
}

static void task_waits_on_another_pool(void)
{
    gust_pool_t *a = new_pool(2, NULL);
    gust_pool_t *b = new_pool(2, NULL);
    cross_t cross[CROSS_PARENTS];
    gust_group_t group;
    gust_group_init(&group, a);
    for (int i = 0; i < CROSS_PARENTS; i++) {
        cross[i] = (cross_t){.a = a, .b = b};
        ASSERT_TRUE(gust_group_spawn(&group, cross_parent_task, &cross[i]));
    }
    gust_group_wait(&group);
    gust_pool_free(a);
    gust_pool_free(b);
}

/* gust_spawn from a worker; the spawned tasks run on the same pool. */
typedef struct {
    gust_pool_t *pool;
    atomic_long ran;
} spawn_check_t;

static void spawned_child_task(void *arg)
{
    spawn_check_t *s = arg;
    ASSERT_PTR_EQ(gust_pool_current(), s->pool);
    atomic_fetch_add(&s->ran, 1);
}

static void spawning_task(void *arg)
{
    for (int i = 0; i < 1000; i++)
        gust_spawn(spawned_child_task, arg);
}

static void spawn_from_a_worker(void)
{
    gust_pool_t *pool = new_pool(2, NULL);
    spawn_check_t s = {.pool = pool};
    for (int i = 0; i < 10; i++)
        ASSERT_TRUE(gust_pool_submit(pool, spawning_task, &s));
    gust_pool_free(pool);
    ASSERT_EQ(load_long(&s.ran), 10 * 1000);
}

/* gust_pool_help runs a queued task for a worker that waits on something
 * other than a group. One worker, so no thief can take the task first. */
static void set_flag_task(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

static void help_task(void *arg)
{
    (void)arg;
    ASSERT_FALSE(gust_pool_help()); /* nothing queued */
    atomic_int flag = 0;
    gust_spawn(set_flag_task, &flag);
    ASSERT_TRUE(gust_pool_help());
    ASSERT_EQ(load_int(&flag), 1);
    ASSERT_FALSE(gust_pool_help());
    /* The waiting pattern it is for. */
    atomic_int flags[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        gust_spawn(set_flag_task, &flags[i]);
    while (load_int(&flags[0]) == 0)
        gust_pool_help();
    ASSERT_EQ(load_int(&flags[1]) + load_int(&flags[2]), 2);
}

static void pool_help(void)
{
    ASSERT_FALSE(gust_pool_help()); /* not a worker */
    gust_pool_t *pool = new_pool(1, NULL);
    run_in_pool(pool, help_task, NULL);
    gust_pool_free(pool);
}

/* ---- statistics ---- */

#ifndef GUST_POOL_NO_STATS
typedef struct {
    gust_pool_t *pool;
    unsigned num_threads;
    uint64_t at_least;
} stats_wait_t;

static void sum_stats(const gust_pool_t *pool, unsigned num_threads, gust_worker_stats_t *sum)
{
    gust_worker_stats_t per[8];
    ASSERT_ULE(num_threads, 8);
    ASSERT_UEQ(gust_pool_stats(pool, per, num_threads), num_threads);
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < num_threads; i++) {
        sum->tasks_run += per[i].tasks_run;
        sum->spawned += per[i].spawned;
        sum->stolen += per[i].stolen;
        sum->steal_failed += per[i].steal_failed;
        sum->injected += per[i].injected;
        sum->parks += per[i].parks;
        sum->wakeups += per[i].wakeups;
    }
}

static bool tasks_run_reached(void *arg)
{
    stats_wait_t *w = arg;
    gust_worker_stats_t sum;
    sum_stats(w->pool, w->num_threads, &sum);
    return sum.tasks_run >= w->at_least;
}

static bool every_worker_parked(void *arg)
{
    stats_wait_t *w = arg;
    gust_worker_stats_t per[8];
    ASSERT_UEQ(gust_pool_stats(w->pool, per, w->num_threads), w->num_threads);
    for (unsigned i = 0; i < w->num_threads; i++)
        if (per[i].parks == 0)
            return false;
    return true;
}
#endif

typedef struct {
    atomic_long *counter;
    long target;
} count_wait_t;

static bool count_reached(void *arg)
{
    count_wait_t *w = arg;
    return load_long(w->counter) >= w->target;
}

/* Its children are not in any group: nothing waits for them but a poll. */
static void spawn_100_task(void *arg)
{
    for (int i = 0; i < 100; i++)
        gust_spawn(count_task, arg);
}

static void pool_stats(void)
{
    enum { THREADS = 3, N = 5000 };
    gust_pool_t *pool = new_pool(THREADS, NULL);

    /* Poisoned entries past num_out stay untouched. */
    gust_worker_stats_t out[THREADS + 1];
    memset(out, 0xA5, sizeof(out));
    ASSERT_UEQ(gust_pool_stats(pool, out, 0), THREADS);
    ASSERT_UEQ(out[0].tasks_run, 0xA5A5A5A5A5A5A5A5ull);
    ASSERT_UEQ(gust_pool_stats(pool, out, 1), THREADS);
    ASSERT_UEQ(out[1].tasks_run, 0xA5A5A5A5A5A5A5A5ull);

    atomic_long ran = 0;
    gust_group_t group;
    gust_group_init(&group, pool);
    for (int i = 0; i < N; i++)
        ASSERT_TRUE(gust_group_spawn(&group, count_task, &ran));
    ASSERT_TRUE(gust_group_spawn(&group, spawn_100_task, &ran));
    gust_group_wait(&group);
    count_wait_t all_ran = {&ran, N + 100};
    ASSERT_TRUE(wait_until(count_reached, &all_ran));
    ASSERT_EQ(load_long(&ran), N + 100);

#ifdef GUST_POOL_NO_STATS
    /* Built without statistics, the counters stay zero through all that. */
    gust_worker_stats_t zero, per[THREADS];
    memset(&zero, 0, sizeof(zero));
    ASSERT_UEQ(gust_pool_stats(pool, per, THREADS), THREADS);
    for (int i = 0; i < THREADS; i++)
        ASSERT_TRUE(memcmp(&per[i], &zero, sizeof(zero)) == 0);
#else
    /* A worker may count a task just after the task's effects are seen. */
    stats_wait_t w = {pool, THREADS, N + 101};
    ASSERT_TRUE(wait_until(tasks_run_reached, &w));
    gust_worker_stats_t sum;
    sum_stats(pool, THREADS, &sum);
    printf("stats: run %" PRIu64 ", spawned %" PRIu64 ", stolen %" PRIu64 ", steal_failed %" PRIu64
           ", injected %" PRIu64 ", parks %" PRIu64 ", wakeups %" PRIu64 "\n",
           sum.tasks_run, sum.spawned, sum.stolen, sum.steal_failed, sum.injected, sum.parks,
           sum.wakeups);
    ASSERT_UGE(sum.tasks_run, N + 101);
    ASSERT_UEQ(sum.injected, N + 1); /* every task spawned from outside */
    ASSERT_UGE(sum.spawned, 100);
    /* Left idle, every worker parks. */
    ASSERT_TRUE(wait_until(every_worker_parked, &w));
#endif
    gust_pool_free(pool);
}

/* ---- several pools ---- */

typedef struct {
    gust_pool_t *pools[3];
    atomic_long ran[3];
    atomic_long relayed;
} multi_t;

typedef struct {
    multi_t *m;
    int which;
} multi_item_t;

static multi_item_t multi_items[3];

static void multi_task(void *arg)
{
    multi_item_t *item = arg;
    ASSERT_PTR_EQ(gust_pool_current(), item->m->pools[item->which]);
    atomic_fetch_add(&item->m->ran[item->which], 1);
}

/* Runs on pool 0, submits to pool 1, which submits to pool 2. */
static void relay_task(void *arg)
{
    multi_item_t *item = arg;
    ASSERT_PTR_EQ(gust_pool_current(), item->m->pools[item->which]);
    if (item->which < 2)
        ASSERT_TRUE(gust_pool_submit(item->m->pools[item->which + 1], relay_task,
                                     &multi_items[item->which + 1]));
    else
        atomic_fetch_add(&item->m->relayed, 1);
}

static void several_pools_at_once(void)
{
    enum { N = 1000 };
    static multi_t m;
    for (int i = 0; i < 3; i++) {
        m.pools[i] = new_pool((unsigned)i + 1, NULL);
        multi_items[i] = (multi_item_t){&m, i};
    }
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < 3; i++)
            ASSERT_TRUE(gust_pool_submit(m.pools[i], multi_task, &multi_items[i]));
        ASSERT_TRUE(gust_pool_submit(m.pools[0], relay_task, &multi_items[0]));
    }
    /* Upstream first: once pool 0 is freed nothing submits to pool 1. */
    for (int i = 0; i < 3; i++)
        gust_pool_free(m.pools[i]);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(load_long(&m.ran[i]), N);
    ASSERT_EQ(load_long(&m.relayed), N);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    /* Forks: first, while this process has one thread. */
    misuse_aborts();
    opts_default_values();
    half_idle_hooks_are_einval();
    free_null_does_nothing();
    default_pool();
    nested_groups_30_deep(2);
    nested_groups_30_deep(1);
    fib_25();
    group_waited_from_outside();
    group_reused_after_wait();
    on_one_worker(interleaved_groups_settle_their_own_tasks);
    on_one_worker(group_counts_may_wrap);
    group_tasks_spawn_into_their_group();
    parallel_for_from_outside_and_inside();
    parallel_reduce_is_ordered_and_deterministic();
    outside_threads_submit();
    free_runs_pending_work();
    free_drains_on_every_worker();
    free_within_drops_late_tasks();
    hooks_and_identity();
    long_prefix_is_truncated();
    pinned_workers();
    task_waits_on_another_pool();
    spawn_from_a_worker();
    pool_help();
    pool_stats();
    several_pools_at_once();
    parallel_for_uses_every_worker();
    return 0;
}
