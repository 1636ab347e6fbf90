/* The reactor: fds watched by a worker's epoll, edge-triggered, and the
 * eventfd that wakes a worker parked in epoll_wait.
 *
 *   - echo: 1,000 socketpairs, one end of each on worker 0 and the other on
 *     worker 1, bounce a message ROUND_TRIPS times; every byte is checked,
 *     callbacks read in small chunks until EAGAIN (as edge-triggering
 *     demands) and run on the worker that registered their fd;
 *   - stop: after gust_io_stop no callback runs, whether the fd becomes
 *     readable later, already is in the batch being dispatched, or a
 *     callback polled the reactor again (gust_pool_help) before stopping;
 *   - errors: gust_io_start returns -EINVAL off a runtime worker (the main
 *     thread, a worker of a plain pool) and -EPERM for a regular file; a
 *     refused start (-EEXIST) leaves an io that was started as it was;
 *   - wakeups: an outside thread's gust_pool_submit, and gust_runtime_post to
 *     one given worker, wake a pool parked in epoll_wait, many times over
 *     with a bound on each round (a lost wakeup fails that round);
 *   - fds: /proc/self/fd holds the same fds before gust_runtime_new and
 *     after gust_runtime_free, over several runtimes;
 *   - shutdown: posts still queued at gust_runtime_free run on their worker;
 *   - fd table: gust_runtime_new grows the process's descriptor table to
 *     fd_table_hint (up to the soft RLIMIT_NOFILE), and a hint of 0 leaves it
 *     as it was.
 *
 * Every touch of a worker's reactor runs on that worker, through
 * gust_runtime_post; the main thread waits on a semaphore with a deadline so
 * that a hang fails with a message, not the Bazel timeout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gust/reactor.h"
#include "tests/support/check.h"
#include "tests/support/rng.h"
#include "tests/support/runtime.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
enum { ROUND_TRIPS = 4, SUBMIT_ROUNDS = 2000, POST_ROUNDS = 2000 };
#else
#define SANITIZED 0
enum { ROUND_TRIPS = 10, SUBMIT_ROUNDS = 20000, POST_ROUNDS = 20000 };
#endif

enum { NUM_WORKERS = 2, NUM_PAIRS = 1000, MAX_MSG = 200, CHUNK = 16 };

/* Seconds any one wait of the main thread may take before the test fails. */
enum { WAIT_S = 10 };

static gust_runtime_t *rt;

/* ---- Helpers ------------------------------------------------------------ */

/* ---- Echo across two workers -------------------------------------------- */

/* Side 0 of a pair lives on worker 0 and starts each round trip; side 1
 * lives on worker 1 and echoes. Each side's fields are touched only by its
 * worker (the main thread reads them between run_on calls). */
typedef struct pair_s {
    int fds[2];
    gust_io_t io[2];
    unsigned callbacks[2];
    bool stopped[2]; /* set by gust_io_stop's caller: no callback may follow */
    /* Side 0: the round trip under way and what came back of it so far. */
    unsigned round;
    size_t received;
    uint8_t back[MAX_MSG];
    /* Side 1: bytes echoed in all. */
    size_t echoed;
} pair_t;

static pair_t pairs[NUM_PAIRS];
static unsigned pairs_done; /* worker 0 only */
static sem_t echo_done;

static size_t msg_len(size_t pair, unsigned round)
{
    return 1 + (pair * 31u + round * 17u) % MAX_MSG;
}

static uint8_t msg_byte(size_t pair, unsigned round, size_t i)
{
    return (uint8_t)(pair * 7u + round * 13u + i * 3u + 1u);
}

static void send_message(pair_t *p)
{
    size_t index = (size_t)(p - pairs);
    uint8_t msg[MAX_MSG];
    size_t len = msg_len(index, p->round);
    for (size_t i = 0; i < len; i++)
        msg[i] = msg_byte(index, p->round, i);
    /* One message in flight per pair: the socket buffer always has room. */
    ASSERT_EQ(write(p->fds[0], msg, len), (ssize_t)len);
}

/* The checks every callback makes about where and for what it runs. */
static void check_callback(pair_t *p, int side, gust_io_t *io, uint32_t events)
{
    ASSERT_PTR_EQ(io, &p->io[side]);
    ASSERT_PTR_EQ(io->data, p);
    ASSERT_PTR_EQ(gust_runtime_current(), rt);
    ASSERT_EQ(gust_worker_index(), side);
    if (p->stopped[side]) {
        fprintf(stderr, "pair %zu side %d: callback after gust_io_stop\n", (size_t)(p - pairs),
                side);
        ASSERT_FALSE(p->stopped[side]);
    }
    ASSERT_UNE(events & EPOLLIN, 0);
    p->callbacks[side]++;
}

static void initiator_cb(gust_io_t *io, uint32_t events)
{
    pair_t *p = io->data;
    check_callback(p, 0, io, events);
    size_t index = (size_t)(p - pairs);
    size_t len = msg_len(index, p->round);
    /* Edge-triggered: read until EAGAIN, in chunks smaller than a message. */
    for (;;) {
        uint8_t chunk[CHUNK];
        ssize_t n = read(p->fds[0], chunk, sizeof(chunk));
        if (n < 0) {
            ASSERT_EQ(errno, EAGAIN);
            break;
        }
        ASSERT_GT(n, 0); /* no EOF while the peer is open */
        ASSERT_ULE(p->received + (size_t)n, len);
        memcpy(p->back + p->received, chunk, (size_t)n);
        p->received += (size_t)n;
    }
    if (p->received < len)
        return; /* the rest comes with the next edge */
    for (size_t i = 0; i < len; i++)
        ASSERT_EQ(p->back[i], msg_byte(index, p->round, i));
    p->received = 0;
    if (++p->round < ROUND_TRIPS) {
        send_message(p);
    } else if (++pairs_done == NUM_PAIRS) {
        ASSERT_EQ(sem_post(&echo_done), 0);
    }
}

static void echo_cb(gust_io_t *io, uint32_t events)
{
    pair_t *p = io->data;
    check_callback(p, 1, io, events);
    for (;;) {
        uint8_t chunk[CHUNK];
        ssize_t n = read(p->fds[1], chunk, sizeof(chunk));
        if (n < 0) {
            ASSERT_EQ(errno, EAGAIN);
            break;
        }
        ASSERT_GT(n, 0);
        ASSERT_EQ(write(p->fds[1], chunk, (size_t)n), n);
        p->echoed += (size_t)n;
    }
}

static void start_echo_ends(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NUM_PAIRS; i++)
        ASSERT_EQ(gust_io_start(&pairs[i].io[1], pairs[i].fds[1], EPOLLIN, echo_cb, &pairs[i]), 0);
}

static void start_initiators(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        ASSERT_EQ(gust_io_start(&pairs[i].io[0], pairs[i].fds[0], EPOLLIN, initiator_cb, &pairs[i]),
                  0);
        send_message(&pairs[i]);
    }
}

static void check_initiators(void *arg)
{
    (void)arg;
    ASSERT_UEQ(pairs_done, NUM_PAIRS);
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        ASSERT_UEQ(pairs[i].round, ROUND_TRIPS);
        ASSERT_UEQ(pairs[i].received, 0);
        /* At least one edge per message: each is sent only after the reply
         * before it was read to EAGAIN. */
        ASSERT_UGE(pairs[i].callbacks[0], ROUND_TRIPS);
    }
}

static void check_echoes(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        size_t want = 0;
        for (unsigned r = 0; r < ROUND_TRIPS; r++)
            want += msg_len(i, r);
        ASSERT_UEQ(pairs[i].echoed, want);
        /* Fewer edges than messages is fine here: a message may arrive
         * while the echo is still reading towards EAGAIN. */
        ASSERT_UGE(pairs[i].callbacks[1], 1);
    }
}

static unsigned callbacks_at_stop[NUM_WORKERS];

static void stop_side_task(void *arg)
{
    int side = *(int *)arg;
    unsigned total = 0;
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        gust_io_stop(&pairs[i].io[side]);
        pairs[i].stopped[side] = true;
        total += pairs[i].callbacks[side];
    }
    callbacks_at_stop[side] = total;
}

static void check_side_unchanged(void *arg)
{
    int side = *(int *)arg;
    unsigned total = 0;
    for (size_t i = 0; i < NUM_PAIRS; i++)
        total += pairs[i].callbacks[side];
    ASSERT_UEQ(total, callbacks_at_stop[side]);
}

/* 2 * NUM_PAIRS fds plus a margin must fit under RLIMIT_NOFILE. */
static void ensure_fd_limit(void)
{
    struct rlimit lim;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    rlim_t want = 2 * NUM_PAIRS + 256;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < want) {
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want)
            fprintf(stderr, "RLIMIT_NOFILE hard limit %llu is below the %llu fds the test needs\n",
                    (unsigned long long)lim.rlim_max, (unsigned long long)want);
        lim.rlim_cur = want;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    }
}

static void echo_across_workers(void)
{
    ensure_fd_limit();
    ASSERT_EQ(sem_init(&echo_done, 0, 0), 0);
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        memset(&pairs[i], 0, sizeof(pairs[i]));
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pairs[i].fds),
                  0);
    }
    uint64_t start = gust_now_ns();
    /* The echo ends first, so that no message goes out to an unwatched fd
     * (it would be no error: the edge comes with registration). */
    run_on(rt, 1, start_echo_ends, NULL, "registering the echo ends on worker 1");
    run_on(rt, 0, start_initiators, NULL, "registering the initiators on worker 0");
    wait_sem(&echo_done, 30, "1,000 socketpair echoes");
    printf("echo: %d pairs x %d round trips across 2 workers in %.1f ms\n", NUM_PAIRS, ROUND_TRIPS,
           (gust_now_ns() - start) / 1e6);
    run_on(rt, 0, check_initiators, NULL, "checking the initiators");
    run_on(rt, 1, check_echoes, NULL, "checking the echo ends");

    /* Stop both sides, then make every fd readable: no callback may run. */
    int sides[NUM_WORKERS] = {0, 1};
    run_on(rt, 0, stop_side_task, &sides[0], "stopping side 0");
    run_on(rt, 1, stop_side_task, &sides[1], "stopping side 1");
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        ASSERT_EQ(write(pairs[i].fds[0], "x", 1), 1);
        ASSERT_EQ(write(pairs[i].fds[1], "y", 1), 1);
    }
    sleep_ms(100);
    run_on(rt, 0, check_side_unchanged, &sides[0], "checking side 0 after stop");
    run_on(rt, 1, check_side_unchanged, &sides[1], "checking side 1 after stop");
    for (size_t i = 0; i < NUM_PAIRS; i++) {
        ASSERT_EQ(close(pairs[i].fds[0]), 0);
        ASSERT_EQ(close(pairs[i].fds[1]), 0);
    }
    ASSERT_EQ(sem_destroy(&echo_done), 0);
}

/* ---- Stop within a batch ------------------------------------------------ */

/* Two fds made readable together, so that one epoll_wait reports both; the
 * first callback stops the other. With `help`, the first callback polls the
 * reactor again (gust_pool_help, as gust_future_wait does on a worker) after
 * a post to its own worker made the eventfd readable, so that the nested
 * poll sees an event, and only then stops the other. */
typedef struct batch_end_s {
    int fds[2];
    gust_io_t io;
    bool stopped;
    unsigned callbacks;
} batch_end_t;

typedef struct batch_test_s {
    batch_end_t ends[2];
    bool help;
    sem_t first_ran;
} batch_test_t;

static void noop_task(void *arg)
{
    (void)arg;
}

static void batch_cb(gust_io_t *io, uint32_t events)
{
    batch_test_t *t = io->data;
    batch_end_t *self = io == &t->ends[0].io ? &t->ends[0] : &t->ends[1];
    batch_end_t *other = self == &t->ends[0] ? &t->ends[1] : &t->ends[0];
    ASSERT_PTR_EQ(io, &self->io);
    ASSERT_UNE(events & EPOLLIN, 0);
    ASSERT_EQ(gust_worker_index(), 0);
    if (self->stopped) {
        fprintf(stderr, "batch test%s: callback of fd %d after gust_io_stop\n",
                t->help ? " with a nested poll" : "", self->fds[0]);
        ASSERT_FALSE(self->stopped);
    }
    self->callbacks++;
    if (t->help) {
        ASSERT_TRUE(gust_runtime_post(rt, 0, noop_task, NULL));
        for (int i = 0; i < 4; i++)
            gust_pool_help();
    }
    gust_io_stop(&other->io);
    other->stopped = true;
    ASSERT_EQ(sem_post(&t->first_ran), 0);
}

static void batch_start(void *arg)
{
    batch_test_t *t = arg;
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(gust_io_start(&t->ends[i].io, t->ends[i].fds[0], EPOLLIN, batch_cb, t), 0);
    /* Both readable before this task returns and the worker next polls. */
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(write(t->ends[i].fds[1], "z", 1), 1);
}

static void batch_check(void *arg)
{
    batch_test_t *t = arg;
    ASSERT_UEQ(t->ends[0].callbacks + t->ends[1].callbacks, 1);
    for (int i = 0; i < 2; i++) {
        if (!t->ends[i].stopped) {
            gust_io_stop(&t->ends[i].io);
            t->ends[i].stopped = true;
        }
    }
}

static void stop_in_batch(bool help)
{
    batch_test_t t = {.help = help};
    ASSERT_EQ(sem_init(&t.first_ran, 0, 0), 0);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, t.ends[i].fds),
                  0);
    run_on(rt, 0, batch_start, &t, "registering two fds on worker 0");
    wait_sem(&t.first_ran, WAIT_S, "the first callback of the batch");
    sleep_ms(50);
    run_on(rt, 0, batch_check, &t, "checking the batch");
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(close(t.ends[i].fds[0]), 0);
        ASSERT_EQ(close(t.ends[i].fds[1]), 0);
    }
    ASSERT_EQ(sem_destroy(&t.first_ran), 0);
    printf("stop within a batch%s: the stopped fd's callback did not run\n",
           help ? ", after a nested poll" : "");
}

/* ---- Errors ------------------------------------------------------------- */

static void never_cb(gust_io_t *io, uint32_t events)
{
    (void)io;
    (void)events;
    ASSERT_TRUE(!"callback of an fd that was never started");
}

static int probe_fd;
static int probe_result;

static void probe_io_start(void *arg)
{
    (void)arg;
    gust_io_t io;
    probe_result = gust_io_start(&io, probe_fd, EPOLLIN, never_cb, NULL);
}

static void on_plain_pool(void *arg)
{
    ASSERT_NULL(gust_runtime_current());
    probe_io_start(NULL);
    ASSERT_EQ(sem_post(arg), 0);
}

static void io_start_errors(void)
{
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    probe_fd = fds[0];

    /* The main thread is no worker. */
    ASSERT_NULL(gust_runtime_current());
    gust_io_t io;
    ASSERT_EQ(gust_io_start(&io, fds[0], EPOLLIN, never_cb, NULL), -EINVAL);

    /* Nor is a worker of a pool without a reactor. */
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 1;
    gust_pool_t *plain = gust_pool_new(&opts);
    ASSERT_NOT_NULL(plain);
    sem_t done;
    ASSERT_EQ(sem_init(&done, 0, 0), 0);
    probe_result = 0;
    ASSERT_TRUE(gust_pool_submit(plain, on_plain_pool, &done));
    wait_sem(&done, WAIT_S, "gust_io_start on a plain pool's worker");
    ASSERT_EQ(probe_result, -EINVAL);
    gust_pool_free(plain);
    ASSERT_EQ(sem_destroy(&done), 0);

    /* epoll refuses regular files. */
    FILE *file = tmpfile();
    ASSERT_NOT_NULL(file);
    probe_fd = fileno(file);
    run_on(rt, 1, probe_io_start, NULL, "gust_io_start on a regular file");
    ASSERT_EQ(probe_result, -EPERM);
    ASSERT_EQ(fclose(file), 0);

    /* The fd was never watched: a later write must call nothing. */
    ASSERT_EQ(write(fds[1], "w", 1), 1);
    sleep_ms(20);
    ASSERT_EQ(close(fds[0]), 0);
    ASSERT_EQ(close(fds[1]), 0);
}

/* A failed gust_io_start changes nothing: a second io on a watched fd gets
 * -EEXIST and the first keeps working; the same io started again gets
 * -EEXIST and stays started, so that gust_io_stop still stops it. */
typedef struct twice_s {
    int fds[2];
    gust_io_t io, other;
    bool stopped;
    unsigned callbacks;
    sem_t called;
} twice_t;

static void twice_cb(gust_io_t *io, uint32_t events)
{
    twice_t *t = io->data;
    ASSERT_PTR_EQ(io, &t->io);
    ASSERT_UNE(events & EPOLLIN, 0);
    if (t->stopped) {
        fprintf(stderr, "io started twice: callback after gust_io_stop\n");
        ASSERT_FALSE(t->stopped);
    }
    char buf[16];
    while (read(t->fds[0], buf, sizeof(buf)) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    t->callbacks++;
    ASSERT_EQ(sem_post(&t->called), 0);
}

static void twice_start(void *arg)
{
    twice_t *t = arg;
    ASSERT_EQ(gust_io_start(&t->io, t->fds[0], EPOLLIN, twice_cb, t), 0);
    ASSERT_EQ(gust_io_start(&t->other, t->fds[0], EPOLLIN, never_cb, NULL), -EEXIST);
}

static void twice_again(void *arg)
{
    twice_t *t = arg;
    ASSERT_EQ(gust_io_start(&t->io, t->fds[0], EPOLLIN, twice_cb, t), -EEXIST);
}

static void twice_stop(void *arg)
{
    twice_t *t = arg;
    gust_io_stop(&t->io);
    t->stopped = true;
}

static void twice_check(void *arg)
{
    twice_t *t = arg;
    ASSERT_UEQ(t->callbacks, 2);
}

static void failed_start_changes_nothing(void)
{
    twice_t t = {.stopped = false};
    ASSERT_EQ(sem_init(&t.called, 0, 0), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, t.fds), 0);
    run_on(rt, 0, twice_start, &t, "a second io on a watched fd");
    ASSERT_EQ(write(t.fds[1], "a", 1), 1);
    wait_sem(&t.called, WAIT_S, "the first io after a second one was refused");
    run_on(rt, 0, twice_again, &t, "the same io started again");
    ASSERT_EQ(write(t.fds[1], "b", 1), 1);
    wait_sem(&t.called, WAIT_S, "the io after starting it again was refused");
    run_on(rt, 0, twice_stop, &t, "stopping the io");
    ASSERT_EQ(write(t.fds[1], "c", 1), 1);
    sleep_ms(50);
    run_on(rt, 0, twice_check, &t, "checking the io");
    ASSERT_EQ(close(t.fds[0]), 0);
    ASSERT_EQ(close(t.fds[1]), 0);
    ASSERT_EQ(sem_destroy(&t.called), 0);
    printf("errors: a refused gust_io_start left the started io working and stoppable\n");
}

/* ---- Wakeups of workers parked in epoll_wait ----------------------------- */

/* Leaves a gap before the next round: none, a yield, or (1 in 8) a sleep
 * long enough for the workers to finish spinning and park in epoll_wait. */
static void random_gap(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    switch (r % 8) {
    case 0: {
        struct timespec ts = {0, 50000 + (long)((r >> 8) % 200000)};
        nanosleep(&ts, NULL);
        break;
    }
    case 1:
    case 2:
        sched_yield();
        break;
    default:
        break;
    }
}

typedef struct wake_s {
    sem_t done;
    int want_index; /* -1: any worker */
} wake_t;

static void wake_task(void *arg)
{
    wake_t *w = arg;
    ASSERT_PTR_EQ(gust_runtime_current(), rt);
    if (w->want_index >= 0)
        ASSERT_EQ(gust_worker_index(), w->want_index);
    ASSERT_EQ(sem_post(&w->done), 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* `rounds` times: submit (post == false) or post to worker i % 2, then wait
 * up to 5 s for the task; prints the median and worst round trip. */
static void wake_rounds(bool post, unsigned rounds)
{
    static uint64_t lat[POST_ROUNDS > SUBMIT_ROUNDS ? POST_ROUNDS : SUBMIT_ROUNDS];
    ASSERT_ULE(rounds, sizeof(lat) / sizeof(lat[0]));
    wake_t w;
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    uint64_t rng = post ? 0x9e3779b97f4a7c15ull : 0x1234567ull;
    gust_worker_stats_t before[NUM_WORKERS], after[NUM_WORKERS];
    gust_pool_stats(gust_runtime_pool(rt), before, NUM_WORKERS);
    for (unsigned i = 0; i < rounds; i++) {
        random_gap(&rng);
        w.want_index = post ? (int)(i % NUM_WORKERS) : -1;
        uint64_t t0 = gust_now_ns();
        if (post)
            ASSERT_TRUE(gust_runtime_post(rt, i % NUM_WORKERS, wake_task, &w));
        else
            ASSERT_TRUE(gust_pool_submit(gust_runtime_pool(rt), wake_task, &w));
        struct timespec deadline;
        ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &deadline), 0);
        deadline.tv_sec += 5;
        while (sem_timedwait(&w.done, &deadline) != 0) {
            if (errno == ETIMEDOUT) {
                fprintf(stderr,
                        "%s round %u of %u: the task did not run within 5 s: a worker parked in "
                        "epoll_wait was not woken\n",
                        post ? "gust_runtime_post" : "gust_pool_submit", i + 1, rounds);
                ASSERT_TRUE(!"wakeup lost");
            }
            ASSERT_EQ(errno, EINTR);
        }
        lat[i] = gust_now_ns() - t0;
    }
    gust_pool_stats(gust_runtime_pool(rt), after, NUM_WORKERS);
    uint64_t parks = 0;
    for (int i = 0; i < NUM_WORKERS; i++)
        parks += after[i].parks - before[i].parks;
    qsort(lat, rounds, sizeof(lat[0]), cmp_u64);
    printf("%s: %u rounds, round trip median %.1f us, p99 %.1f us, worst %.1f us; %llu parks\n",
           post ? "gust_runtime_post to a given worker" : "gust_pool_submit from outside", rounds,
           lat[rounds / 2] / 1e3, lat[rounds * 99 / 100] / 1e3, lat[rounds - 1] / 1e3,
           (unsigned long long)parks);
    ASSERT_EQ(sem_destroy(&w.done), 0);
}

/* A worker surely parked (20 ms of quiet, no timer: epoll_wait without a
 * timeout) is woken by a post to it; a few rounds. */
static void wake_deeply_parked(void)
{
    wake_t w;
    ASSERT_EQ(sem_init(&w.done, 0, 0), 0);
    uint64_t worst = 0;
    for (unsigned i = 0; i < 10; i++) {
        sleep_ms(20);
        w.want_index = (int)(i % NUM_WORKERS);
        uint64_t t0 = gust_now_ns();
        ASSERT_TRUE(gust_runtime_post(rt, i % NUM_WORKERS, wake_task, &w));
        wait_sem(&w.done, 5, "a post to a parked worker");
        uint64_t t = gust_now_ns() - t0;
        worst = t > worst ? t : worst;
        sleep_ms(20);
        t0 = gust_now_ns();
        w.want_index = -1;
        ASSERT_TRUE(gust_pool_submit(gust_runtime_pool(rt), wake_task, &w));
        wait_sem(&w.done, 5, "a submit to a parked pool");
        t = gust_now_ns() - t0;
        worst = t > worst ? t : worst;
    }
    printf("after 20 ms of quiet: worst wakeup %.1f us\n", worst / 1e3);
    ASSERT_EQ(sem_destroy(&w.done), 0);
}

/* ---- Posts at shutdown -------------------------------------------------- */

enum { POSTS_AT_FREE = 1000 };

static atomic_int posts_run[NUM_WORKERS];

static void count_post(void *arg)
{
    int index = (int)(intptr_t)arg;
    ASSERT_EQ(gust_worker_index(), index);
    atomic_fetch_add(&posts_run[index], 1);
}

/* Posts still queued when gust_runtime_free is called all run on their
 * worker before it returns. */
static void posts_run_before_free(void)
{
    gust_runtime_t *runtime = new_runtime(NUM_WORKERS, 1);
    for (int i = 0; i < NUM_WORKERS; i++)
        atomic_store(&posts_run[i], 0);
    for (int i = 0; i < POSTS_AT_FREE; i++)
        ASSERT_TRUE(gust_runtime_post(runtime, (unsigned)(i % NUM_WORKERS), count_post,
                                      (void *)(intptr_t)(i % NUM_WORKERS)));
    gust_runtime_free(runtime);
    for (int i = 0; i < NUM_WORKERS; i++)
        ASSERT_EQ(atomic_load(&posts_run[i]), POSTS_AT_FREE / NUM_WORKERS);
    printf("shutdown: %d posts queued at gust_runtime_free all ran on their worker\n",
           POSTS_AT_FREE);
}

/* ---- Fds ---------------------------------------------------------------- */

/* Open fds of the process, as a bitmap of the first 4096 and a count. */
typedef struct fds_s {
    unsigned count;
    uint8_t open[4096];
} fds_t;

static void list_fds(fds_t *out)
{
    memset(out, 0, sizeof(*out));
    DIR *dir = opendir("/proc/self/fd");
    ASSERT_NOT_NULL(dir);
    int self = dirfd(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        int fd = atoi(entry->d_name);
        if (fd == self)
            continue;
        out->count++;
        if (fd >= 0 && fd < (int)sizeof(out->open))
            out->open[fd] = 1;
    }
    ASSERT_EQ(closedir(dir), 0);
}

/* Fails, naming the fds that differ, unless `now` is `before`. */
static void check_same_fds(const fds_t *before, const char *when)
{
    fds_t now;
    list_fds(&now);
    if (now.count == before->count && memcmp(now.open, before->open, sizeof(now.open)) == 0)
        return;
    fprintf(stderr, "fds %s: %u open, %u before its gust_runtime_new\n", when, now.count,
            before->count);
    for (int fd = 0; fd < (int)sizeof(now.open); fd++) {
        if (now.open[fd] == before->open[fd])
            continue;
        char path[64], target[256] = "?";
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 1] = '\0';
        fprintf(stderr, "  fd %d %s: %s\n", fd, now.open[fd] ? "leaked" : "closed", target);
    }
    ASSERT_UEQ(now.count, before->count);
    ASSERT_TRUE(!"the same fds are open");
}

static void timer_noop(gust_timer_t *timer)
{
    (void)timer;
}

/* Some use of a reactor: an fd and a timer started and stopped. */
static void touch_reactor(void *arg)
{
    (void)arg;
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    gust_io_t io;
    ASSERT_EQ(gust_io_start(&io, fds[0], EPOLLIN, never_cb, NULL), 0);
    gust_io_stop(&io);
    gust_timer_t timer;
    gust_timer_init(&timer);
    ASSERT_EQ(gust_timer_start(&timer, 1000000000u, timer_noop, NULL), 0);
    gust_timer_stop(&timer);
    ASSERT_EQ(close(fds[0]), 0);
    ASSERT_EQ(close(fds[1]), 0);
}

/* Ten more runtimes beside the test's own, each freed again. */
static void fds_released(void)
{
    fds_t before_each;
    gust_runtime_t *saved = rt;
    for (unsigned i = 0; i < 10; i++) {
        fds_t *before = &before_each;
        list_fds(before);
        rt = new_runtime(1 + i % 3, 1 + i % 2);
        for (unsigned w = 0; w < gust_pool_num_threads(gust_runtime_pool(rt)); w++)
            run_on(rt, w, touch_reactor, NULL, "using a fresh runtime's reactor");
        gust_runtime_free(rt);
        check_same_fds(before, "after a gust_runtime_new / free cycle");
    }
    rt = saved;
    printf("fds: 10 runtimes created and freed, no fd left behind\n");
}

/* The size of the process's descriptor table (FDSize in /proc/self/status). */
static unsigned fd_table_size(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    ASSERT_NOT_NULL(f);
    char line[256];
    unsigned size = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "FDSize: %u", &size) == 1)
            break;
    }
    fclose(f);
    ASSERT_UGT(size, 0);
    return size;
}

/* First in main: the table never shrinks, so a later runtime would hide it. */
static void fd_table_grows_to_hint(void)
{
    unsigned before = fd_table_size();
    gust_runtime_opts_t opts = gust_runtime_opts_default();
    opts.pool.num_threads = 1;
    opts.blocking_threads = 1;
    opts.fd_table_hint = 0;
    gust_runtime_t *runtime = gust_runtime_new(&opts);
    ASSERT_NOT_NULL(runtime);
    /* Unless the runtime's own few descriptors crossed the table's end. */
    fds_t open_now;
    list_fds(&open_now);
    if (open_now.count + 1 < before)
        ASSERT_UEQ(fd_table_size(), before);
    gust_runtime_free(runtime);

    struct rlimit limit;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    unsigned want = 4 * before;
    unsigned expected =
        limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < want ? (unsigned)limit.rlim_cur : want;
    opts.fd_table_hint = want;
    runtime = gust_runtime_new(&opts);
    ASSERT_NOT_NULL(runtime);
    unsigned after = fd_table_size();
    ASSERT_UGE(after, expected);
    gust_runtime_free(runtime);
    printf("fd table: %u entries, %u after a runtime with fd_table_hint %u (soft limit %llu)\n",
           before, after, want, (unsigned long long)limit.rlim_cur);
}

int main(void)
{
    /* Progress lines reach the log even if a check aborts later. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    fd_table_grows_to_hint();
    fds_t at_start;
    list_fds(&at_start);

    rt = new_runtime(NUM_WORKERS, 2);
    ASSERT_UEQ(gust_pool_num_threads(gust_runtime_pool(rt)), NUM_WORKERS);
    io_start_errors();
    echo_across_workers();
    stop_in_batch(false);
    wake_rounds(false, SUBMIT_ROUNDS);
    wake_rounds(true, POST_ROUNDS);
    wake_deeply_parked();
    fds_released();
    posts_run_before_free();
    /* The two edge cases last, so that the rest has reported above if one
     * of them fails. */
    stop_in_batch(true);
    failed_start_changes_nothing();
    gust_runtime_free(rt);
    rt = NULL;
    check_same_fds(&at_start, "after gust_runtime_free");
    return 0;
}
