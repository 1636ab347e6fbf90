/* A program outside gust's workspace: sums a range on a pool through the
 * public header and checks the result. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "gust/pool.h"

static void add_range(void *arg, int64_t lo, int64_t hi)
{
    int64_t sum = 0;
    for (int64_t i = lo; i < hi; i++)
        sum += i;
    atomic_fetch_add((_Atomic int64_t *)arg, sum);
}

int main(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    gust_pool_t *pool = gust_pool_new(&opts);
    if (pool == NULL) {
        perror("gust_pool_new");
        return 1;
    }
    _Atomic int64_t sum = 0;
    const int64_t n = 1000000;
    if (!gust_parallel_for(pool, 0, n, 1000, add_range, &sum)) {
        perror("gust_parallel_for");
        return 1;
    }
    gust_pool_free(pool);
    int64_t expected = n * (n - 1) / 2;
    if (sum != expected) {
        fprintf(stderr, "sum %lld, expected %lld\n", (long long)sum, (long long)expected);
        return 1;
    }
    printf("consumer: sum of [0, %lld) = %lld\n", (long long)n, (long long)sum);
    return 0;
}
