// gust used from C++17 through its public headers: the pool (submit, task
// groups on the inline fast paths, parallel_for), futures, the runtime and
// the HTTP client, with lambdas and std::atomic in the caller's code.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <semaphore.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/future.h"
#include "gust/pool.h"
#include "gust/reactor.h"
#include "gust/response.h"
#include "gust/version.h"
#include "tests/support/check.h"
#include "tests/support/wait.h"

// The test server is a C library whose header does not declare C linkage.
extern "C" {
#include "tests/support/http_server.h"
}

namespace
{

constexpr int kWaitS = 10;

// Fork-join fib on task groups: the left half spawned, the right half run
// here, then a join; from a worker every group takes the inline fast paths.
struct Fib {
    int n;
    long result;
};

void fib_task(void *arg)
{
    Fib *fib = static_cast<Fib *>(arg);
    if (fib->n < 2) {
        fib->result = fib->n;
        return;
    }
    Fib left{fib->n - 1, 0};
    Fib right{fib->n - 2, 0};
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    ASSERT_TRUE(gust_group_spawn(&group, fib_task, &left));
    fib_task(&right);
    gust_group_wait(&group);
    fib->result = left.result + right.result;
}

void test_pool()
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 4;
    gust_pool_t *pool = gust_pool_new(&opts);
    ASSERT_NOT_NULL(pool);
    ASSERT_NULL(gust_pool_current());

    // submit, and what a task sees of its worker.
    struct Submitted {
        gust_pool_t *pool;
        std::atomic<gust_pool_t *> seen{nullptr};
        sem_t done;
    } submitted;
    submitted.pool = pool;
    ASSERT_EQ(sem_init(&submitted.done, 0, 0), 0);
    ASSERT_TRUE(gust_pool_submit(
        pool,
        [](void *arg) {
            Submitted *s = static_cast<Submitted *>(arg);
            ASSERT_GE(gust_worker_index(), 0);
            s->seen.store(gust_pool_current());
            ASSERT_EQ(sem_post(&s->done), 0);
        },
        &submitted));
    wait_sem(&submitted.done, kWaitS, "submitted task");
    ASSERT_PTR_EQ(submitted.seen.load(), pool);
    ASSERT_EQ(sem_destroy(&submitted.done), 0);

    // A group owned outside the pool, whose task forks and joins on a worker.
    Fib fib{20, 0};
    gust_group_t group;
    gust_group_init(&group, pool);
    ASSERT_TRUE(gust_group_spawn(&group, fib_task, &fib));
    gust_group_wait(&group);
    ASSERT_EQ(fib.result, 6765);

    // parallel_for covers every index once.
    constexpr int64_t kN = 100000;
    static std::atomic<int> hits[kN];
    ASSERT_TRUE(gust_parallel_for(
        pool, 0, kN, 64,
        [](void *, int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; i++)
                hits[i].fetch_add(1, std::memory_order_relaxed);
        },
        nullptr));
    for (int64_t i = 0; i < kN; i++)
        ASSERT_EQ(hits[i].load(), 1);

#ifndef GUST_POOL_NO_STATS
    // The fork-join spawns went through the inline push, which counts.
    gust_worker_stats_t stats[4];
    ASSERT_UEQ(gust_pool_stats(pool, stats, 4), 4);
    uint64_t spawned = 0;
    for (const gust_worker_stats_t &s : stats)
        spawned += s.spawned;
    ASSERT_UGT(spawned, 0);
#endif
    gust_pool_free(pool);
}

void test_future()
{
    gust_pool_t *pool = gust_pool_new(nullptr);
    ASSERT_NOT_NULL(pool);
    gust_future_t *future = gust_future_new(pool);
    ASSERT_NOT_NULL(future);

    struct Done {
        std::atomic<int> value{0};
        sem_t ran;
    } done;
    ASSERT_EQ(sem_init(&done.ran, 0, 0), 0);
    ASSERT_EQ(gust_future_on_done(
                  future,
                  [](gust_future_t *f, void *arg) {
                      Done *d = static_cast<Done *>(arg);
                      d->value.store(*static_cast<int *>(gust_future_value(f)));
                      ASSERT_EQ(sem_post(&d->ran), 0);
                  },
                  &done),
              0);

    int *value = static_cast<int *>(std::malloc(sizeof(int)));
    ASSERT_NOT_NULL(value);
    *value = 42;
    ASSERT_TRUE(gust_future_set_value(future, value, std::free));
    ASSERT_FALSE(gust_future_set_error(future, GUST_ERR_IO, nullptr));
    ASSERT_EQ(gust_future_wait(future), GUST_FUTURE_VALUE);
    wait_sem(&done.ran, kWaitS, "on_done callback");
    ASSERT_EQ(done.value.load(), 42);
    ASSERT_EQ(sem_destroy(&done.ran), 0);
    gust_future_free(future);
    gust_pool_free(pool);
}

void test_http_get()
{
    test_server_t *server = test_server_start(nullptr);
    gust_runtime_opts_t opts = gust_runtime_opts_default();
    opts.pool.num_threads = 2;
    gust_runtime_t *runtime = gust_runtime_new(&opts);
    ASSERT_NOT_NULL(runtime);
    ASSERT_NOT_NULL(gust_runtime_pool(runtime));
    gust_client_t *client = gust_client_new(runtime, nullptr);
    ASSERT_NOT_NULL(client);

    char url[128];
    test_server_url(server, url, sizeof url, "/bytes?n=%d", 1000);
    gust_response_t *resp = nullptr;
    char *message = nullptr;
    ASSERT_EQ(gust_http_get(client, url, &resp, &message), 0);
    ASSERT_NULL(message);
    ASSERT_EQ(gust_response_status(resp), 200);
    size_t len = 0;
    const char *body = static_cast<const char *>(gust_response_body(resp, &len));
    ASSERT_UEQ(len, 1000);
    for (size_t i = 0; i < len; i++)
        ASSERT_EQ(body[i], 'a' + static_cast<int>(i % 26));

    gust_response_free(resp);
    gust_client_free(client);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

} // namespace

int main()
{
    ASSERT_UEQ(gust_version(), GUST_VERSION_HEX);
    test_pool();
    test_future();
    test_http_get();
    return 0;
}
