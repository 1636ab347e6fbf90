/* Completion queues: the fd's level follows the queue; futures added and
 * completed by outside threads and by workers reach a host thread that
 * epoll_waits on the fd, each exactly once; gust_cq_free with futures queued,
 * taken and pending races their completions and leaks nothing; and a stress
 * of the race between a push onto the empty queue and a poll emptying it. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gust/completion.h"
#include "gust/err.h"
#include "gust/future.h"
#include "tests/support/check.h"
#include "tests/support/fds.h"
#include "tests/support/rng.h"
#include "tests/support/wait.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
enum { NUM_FUTURES = 20000, RACE_ROUNDS = 20000 };
#else
enum { NUM_FUTURES = 200000, RACE_ROUNDS = 200000 };
#endif

/* A host that sees no completion for this long has lost a wakeup. */
enum { LOST_MS = 5000 };

static gust_pool_t *new_pool(unsigned num_threads)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = num_threads;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    return pool;
}

static bool readable(const gust_cq_t *cq)
{
    struct pollfd pfd = {.fd = gust_cq_fd(cq), .events = POLLIN};
    int n = poll(&pfd, 1, 0);
    ASSERT_GE(n, 0);
    return n == 1;
}

/* The host's loop: an epoll set watching the queue's fd, level-triggered. */
static int watch(const gust_cq_t *cq)
{
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(epoll_fd, 0);
    struct epoll_event event = {.events = EPOLLIN};
    ASSERT_EQ(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, gust_cq_fd(cq), &event), 0);
    return epoll_fd;
}

static void wait_readable(int epoll_fd, const char *what, long seen, long expected)
{
    struct epoll_event event;
    int n;
    while ((n = epoll_wait(epoll_fd, &event, 1, LOST_MS)) < 0)
        ASSERT_EQ(errno, EINTR);
    if (n == 0)
        CHECK_FAIL_("%s: fd not readable for %d ms with %ld of %ld completions seen", what, LOST_MS,
                    seen, expected);
}

/* Readable exactly while completions are queued: pending futures leave it
 * quiet, a poll that takes fewer than it may clears it, one that leaves some
 * behind does not. */
static void level_follows_the_queue(void)
{
    enum { N = 5 };
    gust_pool_t *pool = new_pool(1);
    gust_cq_t *cq = gust_cq_new();
    ASSERT_NOT_NULL(cq);
    ASSERT_GE(gust_cq_fd(cq), 0);
    gust_cq_event_t events[N + 1];
    ASSERT_UEQ(gust_cq_poll(cq, events, N), 0);
    ASSERT_FALSE(readable(cq));

    gust_future_t *futures[N];
    int tags[N];
    for (int i = 0; i < N; i++) {
        futures[i] = gust_future_new(pool);
        ASSERT_NOT_NULL(futures[i]);
        /* One already complete when added, the rest later. */
        if (i == 0)
            ASSERT_TRUE(gust_future_set_value(futures[i], &tags[i], NULL));
        ASSERT_EQ(gust_cq_add(cq, futures[i], &tags[i]), GUST_OK);
    }
    ASSERT_EQ(gust_cq_add(NULL, futures[0], NULL), GUST_ERR_INVAL);
    ASSERT_EQ(gust_cq_add(cq, NULL, NULL), GUST_ERR_INVAL);
    /* The one complete future's callback may not have run yet: wait for it
     * through the fd, then drain it. */
    int epoll_fd = watch(cq);
    wait_readable(epoll_fd, __func__, 0, 1);
    ASSERT_UEQ(gust_cq_poll(cq, events, N), 1);
    ASSERT_PTR_EQ(events[0].future, futures[0]);
    ASSERT_PTR_EQ(events[0].user_data, &tags[0]);
    gust_future_free(events[0].future);
    ASSERT_FALSE(readable(cq));
    sleep_ms(20);
    ASSERT_FALSE(readable(cq)); /* four pending */

    for (int i = 1; i < N; i++)
        ASSERT_TRUE(gust_future_set_value(futures[i], &tags[i], NULL));
    gust_pool_free(pool); /* runs every callback: all four are queued now */
    ASSERT_TRUE(readable(cq));
    size_t counts[] = {1, 2};
    bool seen[N] = {true};
    size_t num = 0;
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        ASSERT_UEQ(gust_cq_poll(cq, events + num, counts[k]), counts[k]);
        num += counts[k];
        ASSERT_TRUE(readable(cq)); /* N - 1 - num left */
    }
    /* The last one, asked for exactly: a poll that empties the queue clears
     * the fd even when it returns all it may. */
    ASSERT_UEQ(gust_cq_poll(cq, events + num, 1), 1);
    num++;
    ASSERT_FALSE(readable(cq));
    ASSERT_UEQ(gust_cq_poll(cq, events, N), 0);
    for (size_t k = 0; k < num; k++) {
        int index = (int *)events[k].user_data - tags;
        ASSERT_FALSE(seen[index]);
        seen[index] = true;
        ASSERT_PTR_EQ(events[k].future, futures[index]);
        ASSERT_PTR_EQ(gust_future_value(events[k].future), &tags[index]);
        gust_future_free(events[k].future);
    }
    for (int i = 0; i < N; i++)
        gust_future_free(futures[i]);
    close(epoll_fd);
    gust_cq_free(cq);
    gust_cq_free(NULL);
}

/* Adders: each of NUM_ADDERS threads adds its share of NUM_FUTURES, choosing
 * at random who completes each future and when. */
enum { NUM_ADDERS = 3 };

typedef struct adder_s {
    pthread_t thread;
    gust_pool_t *pool;
    gust_cq_t *cq;
    long first, end;
    uint64_t rng;
} adder_t;

static void complete_task(void *arg)
{
    gust_future_t *future = arg;
    ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
    gust_future_free(future);
}

typedef struct add_on_worker_s {
    gust_cq_t *cq;
    long index;
    gust_pool_t *pool;
} add_on_worker_t;

static void add_task(void *arg)
{
    add_on_worker_t *job = arg;
    gust_future_t *future = gust_future_new(job->pool);
    ASSERT_NOT_NULL(future);
    ASSERT_EQ(gust_cq_add(job->cq, future, (void *)job->index), GUST_OK);
    ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
    gust_future_free(future);
    free(job);
}

static void *add_futures(void *arg)
{
    adder_t *adder = arg;
    for (long i = adder->first; i < adder->end; i++) {
        uint64_t how = rng_next(&adder->rng) % 4;
        if (how == 3) { /* added and completed by a worker */
            add_on_worker_t *job = malloc(sizeof(*job));
            ASSERT_NOT_NULL(job);
            *job = (add_on_worker_t){.cq = adder->cq, .index = i, .pool = adder->pool};
            ASSERT_TRUE(gust_pool_submit(adder->pool, add_task, job));
            continue;
        }
        gust_future_t *future = gust_future_new(adder->pool);
        ASSERT_NOT_NULL(future);
        if (how == 0) /* complete before it is added */
            ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
        ASSERT_EQ(gust_cq_add(adder->cq, future, (void *)i), GUST_OK);
        if (how == 1) /* completed here */
            ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
        if (how == 2) /* completed by a worker */
            ASSERT_TRUE(gust_pool_submit(adder->pool, complete_task, gust_future_up_ref(future)));
        gust_future_free(future);
    }
    return NULL;
}

static void many_futures_reach_an_epoll_host(void)
{
    gust_pool_t *pool = new_pool(2);
    gust_cq_t *cq = gust_cq_new();
    ASSERT_NOT_NULL(cq);
    int epoll_fd = watch(cq);
    adder_t adders[NUM_ADDERS];
    for (int t = 0; t < NUM_ADDERS; t++) {
        adders[t] = (adder_t){
            .pool = pool,
            .cq = cq,
            .first = (long)NUM_FUTURES * t / NUM_ADDERS,
            .end = (long)NUM_FUTURES * (t + 1) / NUM_ADDERS,
            .rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1),
        };
        ASSERT_EQ(pthread_create(&adders[t].thread, NULL, add_futures, &adders[t]), 0);
    }
    unsigned char *seen = calloc(NUM_FUTURES, 1);
    ASSERT_NOT_NULL(seen);
    uint64_t rng = 42;
    long num_seen = 0, empty_polls = 0;
    gust_cq_event_t events[64];
    while (num_seen < NUM_FUTURES) {
        wait_readable(epoll_fd, __func__, num_seen, NUM_FUTURES);
        size_t max = 1 + rng_next(&rng) % 64;
        size_t num = gust_cq_poll(cq, events, max);
        ASSERT_ULE(num, max);
        empty_polls += num == 0;
        for (size_t k = 0; k < num; k++) {
            long index = (long)events[k].user_data;
            ASSERT_GE(index, 0);
            ASSERT_LT(index, NUM_FUTURES);
            ASSERT_EQ(seen[index], 0);
            seen[index] = 1;
            ASSERT_EQ(gust_future_state(events[k].future), GUST_FUTURE_VALUE);
            gust_future_free(events[k].future);
        }
        num_seen += (long)num;
    }
    for (int t = 0; t < NUM_ADDERS; t++)
        ASSERT_EQ(pthread_join(adders[t].thread, NULL), 0);
    gust_pool_free(pool); /* every callback has returned */
    /* Nothing more, and once a poll has found that, the fd is quiet. */
    ASSERT_UEQ(gust_cq_poll(cq, events, 64), 0);
    ASSERT_FALSE(readable(cq));
    printf("%d futures through the queue; %ld polls found it empty\n", NUM_FUTURES, empty_polls);
    free(seen);
    close(epoll_fd);
    gust_cq_free(cq);
}

/* gust_cq_free with futures taken but not handed out, queued, and pending,
 * racing completions on the workers: every future's value is destroyed
 * once the other references are gone (so the queue dropped all of its),
 * and the fd is closed once the last callback has returned. */
enum { FREE_ROUNDS = 50, FREE_FUTURES = 400 };

static atomic_long destroyed;

static void count_destroy(void *value)
{
    (void)value;
    atomic_fetch_add(&destroyed, 1);
}

typedef struct completer_s {
    gust_future_t **futures;
    int first, end;
} completer_t;

static void *complete_range(void *arg)
{
    completer_t *completer = arg;
    for (int i = completer->first; i < completer->end; i++)
        ASSERT_TRUE(gust_future_set_value(completer->futures[i], NULL, count_destroy));
    return NULL;
}

static void free_with_futures_pending(void)
{
    int fds_before = count_fds();
    for (int round = 0; round < FREE_ROUNDS; round++) {
        gust_pool_t *pool = new_pool(2);
        gust_cq_t *cq = gust_cq_new();
        ASSERT_NOT_NULL(cq);
        atomic_store(&destroyed, 0);
        gust_future_t *futures[FREE_FUTURES];
        for (int i = 0; i < FREE_FUTURES; i++) {
            futures[i] = gust_future_new(pool);
            ASSERT_NOT_NULL(futures[i]);
            ASSERT_EQ(gust_cq_add(cq, futures[i], NULL), GUST_OK);
        }
        /* A quarter complete before the free: one taken and handed out, a
         * few taken into the queue's own list (a poll that asked for
         * fewer), the rest queued or on their way. */
        completer_t early = {futures, 0, FREE_FUTURES / 4};
        complete_range(&early);
        int epoll_fd = watch(cq);
        wait_readable(epoll_fd, __func__, 0, 1);
        close(epoll_fd);
        gust_cq_event_t event;
        ASSERT_UEQ(gust_cq_poll(cq, &event, 1), 1);
        /* The rest complete while the queue is freed. */
        completer_t late = {futures, FREE_FUTURES / 4, FREE_FUTURES};
        pthread_t thread;
        ASSERT_EQ(pthread_create(&thread, NULL, complete_range, &late), 0);
        if (round % 2 == 0)
            sleep_ms(1);
        gust_cq_free(cq);
        ASSERT_EQ(pthread_join(thread, NULL), 0);
        gust_future_free(event.future);
        for (int i = 0; i < FREE_FUTURES; i++)
            gust_future_free(futures[i]);
        gust_pool_free(pool); /* every callback has returned */
        ASSERT_EQ(atomic_load(&destroyed), FREE_FUTURES);
    }
    ASSERT_EQ(count_fds(), fds_before);

    /* A future still pending at the free, completed after it. */
    gust_pool_t *pool = new_pool(1);
    gust_cq_t *cq = gust_cq_new();
    ASSERT_NOT_NULL(cq);
    gust_future_t *future = gust_future_new(pool);
    ASSERT_EQ(gust_cq_add(cq, future, NULL), GUST_OK);
    gust_cq_free(cq);
    ASSERT_EQ(count_fds(), fds_before + 1); /* the fd waits for the callback */
    atomic_store(&destroyed, 0);
    ASSERT_TRUE(gust_future_set_value(future, NULL, count_destroy));
    gust_future_free(future);
    gust_pool_free(pool);
    ASSERT_EQ(atomic_load(&destroyed), 1);
    ASSERT_EQ(count_fds(), fds_before);
}

/* The empty / non-empty race, free running: one thread adds and completes
 * futures one after another, as fast as it can, while two workers queue them
 * and the host, waking on the fd, takes one or two per poll, so most pushes
 * find the queue empty while a poll may be emptying it. A wakeup lost leaves
 * the host's epoll_wait to time out. */
typedef struct racer_s {
    gust_pool_t *pool;
    gust_cq_t *cq;
} racer_t;

static void *race_adds(void *arg)
{
    racer_t *racer = arg;
    for (long i = 0; i < RACE_ROUNDS; i++) {
        gust_future_t *future = gust_future_new(racer->pool);
        ASSERT_NOT_NULL(future);
        ASSERT_EQ(gust_cq_add(racer->cq, future, (void *)i), GUST_OK);
        ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
        gust_future_free(future);
    }
    return NULL;
}

static void empty_nonempty_race(void)
{
    gust_pool_t *pool = new_pool(2);
    gust_cq_t *cq = gust_cq_new();
    ASSERT_NOT_NULL(cq);
    int epoll_fd = watch(cq);
    racer_t racer = {pool, cq};
    pthread_t thread;
    ASSERT_EQ(pthread_create(&thread, NULL, race_adds, &racer), 0);
    unsigned char *seen = calloc(RACE_ROUNDS, 1);
    ASSERT_NOT_NULL(seen);
    uint64_t rng = 11;
    long num_seen = 0;
    gust_cq_event_t events[2];
    while (num_seen < RACE_ROUNDS) {
        wait_readable(epoll_fd, __func__, num_seen, RACE_ROUNDS);
        size_t num = gust_cq_poll(cq, events, 1 + rng_next(&rng) % 2);
        for (size_t k = 0; k < num; k++) {
            long index = (long)events[k].user_data;
            ASSERT_GE(index, 0);
            ASSERT_LT(index, RACE_ROUNDS);
            ASSERT_EQ(seen[index], 0);
            seen[index] = 1;
            gust_future_free(events[k].future);
        }
        num_seen += (long)num;
    }
    ASSERT_EQ(pthread_join(thread, NULL), 0);
    gust_pool_free(pool);
    ASSERT_UEQ(gust_cq_poll(cq, events, 2), 0);
    ASSERT_FALSE(readable(cq));
    free(seen);
    close(epoll_fd);
    gust_cq_free(cq);
}

/* The race the stress above can only hope to hit, made to happen: this
 * binary's read() stands in for libc's, and when told to, it lets a future
 * complete before it reads the queue's fd, and waits until the worker has
 * pushed it onto the empty queue and written the fd. The poll's read then
 * swallows that write: the fd must be readable again after the poll. */
static int trapped_fd = -1;
static _Atomic(gust_future_t *) complete_before_read;

ssize_t read(int fd, void *buf, size_t len)
{
    gust_future_t *future = fd == trapped_fd ? atomic_exchange(&complete_before_read, NULL) : NULL;
    if (future != NULL) {
        ASSERT_TRUE(gust_future_set_value(future, NULL, NULL));
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ASSERT_EQ(poll(&pfd, 1, LOST_MS), 1);
    }
    return syscall(SYS_read, fd, buf, len);
}

static void completion_during_the_poll_read(void)
{
    gust_pool_t *pool = new_pool(1);
    gust_cq_t *cq = gust_cq_new();
    ASSERT_NOT_NULL(cq);
    gust_future_t *future = gust_future_new(pool);
    ASSERT_NOT_NULL(future);
    ASSERT_EQ(gust_cq_add(cq, future, NULL), GUST_OK);
    trapped_fd = gust_cq_fd(cq);
    atomic_store(&complete_before_read, future);
    gust_cq_event_t event;
    ASSERT_UEQ(gust_cq_poll(cq, &event, 1), 0); /* the queue was empty at its exchange */
    ASSERT_PTR_EQ(atomic_load(&complete_before_read), NULL);
    ASSERT_TRUE(readable(cq));
    ASSERT_UEQ(gust_cq_poll(cq, &event, 1), 1);
    ASSERT_PTR_EQ(event.future, future);
    ASSERT_FALSE(readable(cq));
    trapped_fd = -1;
    gust_future_free(event.future);
    gust_future_free(future);
    gust_pool_free(pool);
    gust_cq_free(cq);
}

int main(void)
{
    level_follows_the_queue();
    completion_during_the_poll_read();
    many_futures_reach_an_epoll_host();
    free_with_futures_pending();
    empty_nonempty_race();
    return 0;
}
