// tools/bench/pool_tbb.cc: the oneTBB peer (see pool_tbb.h).
#include "tools/bench/pool_tbb.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

#include <time.h>

struct peer_tbb_s {
    // TBB's default limit is one thread per CPU, caller included; an arena
    // with no reserved slot needs one more worker than that to have
    // num_threads of them.
    tbb::global_control limit;
    tbb::task_arena arena;

    peer_tbb_s(unsigned num_threads, unsigned num_reserved)
        : limit(tbb::global_control::max_allowed_parallelism, num_threads + 1),
          arena(static_cast<int>(num_threads), num_reserved)
    {
        arena.initialize();
    }
};

extern "C" peer_tbb_t *peer_tbb_new(unsigned num_threads, unsigned num_reserved) noexcept
{
    return new peer_tbb_s(num_threads, num_reserved);
}

extern "C" void peer_tbb_free(peer_tbb_t *tbb) noexcept
{
    delete tbb;
}

static long fib(int n)
{
    if (n < 2) {
        return n;
    }
    long x = 0;
    tbb::task_group g;
    g.run([&] { x = fib(n - 1); });
    long y = fib(n - 2);
    g.wait();
    return x + y;
}

extern "C" long peer_tbb_fib(peer_tbb_t *tbb, int n) noexcept
{
    long r = 0;
    tbb->arena.execute([&] { r = fib(n); });
    return r;
}

// Queens placed on rows [0, row) cover cols, and diagonals d1 and d2 on
// this row; returns the ways to fill the rest.
static long queens(unsigned all, unsigned cols, unsigned d1, unsigned d2)
{
    if (cols == all) {
        return 1;
    }
    unsigned open = all & ~(cols | d1 | d2);
    long counts[32] = {0};
    int k = 0;
    tbb::task_group g;
    while (open != 0) {
        unsigned bit = open & (0u - open);
        open ^= bit;
        long *out = &counts[k++];
        unsigned c = cols | bit, a = ((d1 | bit) << 1) & all, b = (d2 | bit) >> 1;
        if (open != 0) {
            g.run([=] { *out = queens(all, c, a, b); });
        } else {
            *out = queens(all, c, a, b);
        }
    }
    g.wait();
    long sum = 0;
    for (int i = 0; i < k; i++) {
        sum += counts[i];
    }
    return sum;
}

extern "C" long peer_tbb_queens(peer_tbb_t *tbb, int n) noexcept
{
    long r = 0;
    tbb->arena.execute([&] { r = queens((1u << n) - 1, 0, 0, 0); });
    return r;
}

static uint64_t now_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Kept out of line so that the compiler cannot see the task is empty and
// drop it: gust's empty task is a call through a pointer too.
__attribute__((noinline)) static void empty_body()
{
    __asm__ volatile("" ::: "memory");
}

extern "C" uint64_t peer_tbb_spawn_join(peer_tbb_t *tbb, long iters) noexcept
{
    uint64_t elapsed = 0;
    tbb->arena.execute([&] {
        uint64_t t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            tbb::task_group g;
            g.run([] { empty_body(); });
            g.wait();
        }
        elapsed = now_ns() - t0;
    });
    return elapsed;
}

extern "C" void peer_tbb_fill(peer_tbb_t *tbb, int64_t *a, int64_t n) noexcept
{
    tbb->arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, n),
                          [a](const tbb::blocked_range<int64_t> &r) {
                              for (int64_t i = r.begin(); i < r.end(); i++) {
                                  a[i] = 2 * i;
                              }
                          });
    });
}

extern "C" void peer_tbb_enqueue(peer_tbb_t *tbb, void (*fn)(void *), void *arg) noexcept
{
    tbb->arena.enqueue([fn, arg] { fn(arg); });
}

extern "C" const char *peer_tbb_version(void) noexcept
{
    return TBB_runtime_version();
}
