/* Spawn + join of two versions of pool/, timed side by side in one process
 * (tools/bench/spawn_join_ab builds it; see there why).
 *
 * Compiled once per side with GUST_AB_SIDE, against that side's headers,
 * after which the script renames the side's gust symbols A_gust... or
 * B_gust...; and once without, for main. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef GUST_AB_SIDE

#include "gust/pool.h"
#include "tools/bench/spawn_join_loop.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct block_s {
    long iterations;
    double ns_each;
} block_t;

/* Times a block of tools/bench:pool's part 2 loop, on the worker. */
static void time_block(void *arg)
{
    block_t *block = arg;
    uint64_t start = now_ns();
    spawn_join_repeat(gust_pool_current(), block->iterations);
    block->ns_each = (double)(now_ns() - start) / (double)block->iterations;
}

gust_pool_t *gust_ab_pool_new(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 1;
    return gust_pool_new(&opts);
}

double gust_ab_time_block(gust_pool_t *pool, long iterations)
{
    block_t block = {iterations, 0};
    gust_group_t group;
    gust_group_init(&group, pool);
    if (!gust_group_spawn(&group, time_block, &block)) {
        fputs("spawn_join_ab: gust_group_spawn failed\n", stderr);
        exit(1);
    }
    gust_group_wait(&group);
    return block.ns_each;
}

#else

typedef struct gust_pool_s gust_pool_t;
gust_pool_t *A_gust_ab_pool_new(void);
double A_gust_ab_time_block(gust_pool_t *pool, long iterations);
gust_pool_t *B_gust_ab_pool_new(void);
double B_gust_ab_time_block(gust_pool_t *pool, long iterations);

enum { ITERATIONS = 500000 };

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at fraction q of the sorted array. */
static double quantile(double *values, int n, double q)
{
    qsort(values, (size_t)n, sizeof(*values), compare_doubles);
    return values[(int)(q * (n - 1))];
}

int main(int argc, char **argv)
{
    int blocks = argc > 1 ? atoi(argv[1]) : 200;
    if (blocks < 1) {
        fputs("usage: spawn_join_ab [BLOCKS]\n", stderr);
        return 2;
    }
    gust_pool_t *pool_a = A_gust_ab_pool_new(), *pool_b = B_gust_ab_pool_new();
    double *a = calloc((size_t)blocks, sizeof(double)), *b = calloc((size_t)blocks, sizeof(double));
    double *ratio = calloc((size_t)blocks, sizeof(double));
    if (pool_a == NULL || pool_b == NULL || a == NULL || b == NULL || ratio == NULL) {
        fputs("spawn_join_ab: out of memory\n", stderr);
        return 1;
    }
    for (int i = 0; i < blocks; i++) {
        /* Which side goes first alternates, so neither always follows the
         * other's warm caches. */
        if (i % 2 == 0) {
            a[i] = A_gust_ab_time_block(pool_a, ITERATIONS);
            b[i] = B_gust_ab_time_block(pool_b, ITERATIONS);
        } else {
            b[i] = B_gust_ab_time_block(pool_b, ITERATIONS);
            a[i] = A_gust_ab_time_block(pool_a, ITERATIONS);
        }
        ratio[i] = b[i] / a[i];
    }
    printf("%d blocks of %d spawn+joins on each side, interleaved\n", blocks, ITERATIONS);
    printf("A: min %.2f ns  p10 %.2f  median %.2f\n", quantile(a, blocks, 0),
           quantile(a, blocks, 0.1), quantile(a, blocks, 0.5));
    printf("B: min %.2f ns  p10 %.2f  median %.2f\n", quantile(b, blocks, 0),
           quantile(b, blocks, 0.1), quantile(b, blocks, 0.5));
    printf("B/A, block by block: p25 %.3f  median %.3f  p75 %.3f\n", quantile(ratio, blocks, 0.25),
           quantile(ratio, blocks, 0.5), quantile(ratio, blocks, 0.75));
    return 0;
}

#endif
