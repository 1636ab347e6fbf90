/* tools/bench/deque_wrap.c: what a spawn and join cost where the deque's
 * ring wraps, on a plain ring and on a mirrored one (pool/deque.c).
 *
 *     bazel run -c opt //tools/bench:deque_wrap [-- --runs=N]
 *
 * The owner pushes two tasks and pops them, as a worker does (the inline
 * fast path first, the full push or pop where it declines), a million times
 * per run: once with the pushes in the middle of the ring, once straddling
 * the index where the ring wraps. A 256-slot ring is plain (its slots fill
 * no whole pages) and its fast paths stop there; a 512-slot ring is mapped
 * twice and they run on. Each figure is the median of --runs runs (default
 * 9) after one warm-up; the ratio is straddling over the middle, same ring,
 * same run. */
#include "pool/deque.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ITERATIONS = 1000000, MAX_RUNS = 99 };

static int num_runs = 9;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void empty_task(void *arg)
{
    (void)arg;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ns per iteration of two pushes and two pops on `deque`. */
static double time_run(gust__deque_t *deque)
{
    gust__task_t task = {empty_task, NULL, GUST__NO_GROUP}, out;
    bool shared;
    uint64_t start = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        for (int k = 0; k < 2; k++)
            if (!gust__deque_try_push(deque, task.fn, task.arg, task.group) &&
                !gust__deque_push(deque, &task, &shared)) {
                fputs("deque_wrap: push failed\n", stderr);
                exit(1);
            }
        for (int k = 0; k < 2; k++)
            if (!gust__deque_try_pop(deque, &out) && !gust__deque_pop(deque, &out, &shared)) {
                fputs("deque_wrap: pop found the deque empty\n", stderr);
                exit(1);
            }
    }
    return (double)(now_ns() - start) / ITERATIONS;
}

/* The median of num_runs runs on a deque of 2^log2_capacity slots whose
 * first push goes to index `first_index`; *out_mirrored says whether the
 * ring was mapped twice. */
static double median_ns(unsigned log2_capacity, uint32_t first_index, bool *out_mirrored)
{
    gust__deque_t deque;
    if (!gust__deque_init_at(&deque, log2_capacity, first_index)) {
        fputs("deque_wrap: out of memory\n", stderr);
        exit(1);
    }
    *out_mirrored = deque.owner_ring->mirrored;
    double ns[MAX_RUNS];
    time_run(&deque); /* warm-up */
    for (int r = 0; r < num_runs; r++)
        ns[r] = time_run(&deque);
    gust__deque_destroy(&deque);
    qsort(ns, (size_t)num_runs, sizeof(ns[0]), compare_doubles);
    return ns[num_runs / 2];
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--runs=", 7) == 0 && atoi(argv[i] + 7) >= 1 &&
            atoi(argv[i] + 7) <= MAX_RUNS) {
            num_runs = atoi(argv[i] + 7);
        } else {
            fprintf(stderr, "usage: %s [--runs=N], N from 1 to %d\n", argv[0], MAX_RUNS);
            return 2;
        }
    }
    printf("two pushes and two pops, ns per iteration (median of %d runs of %d)\n", num_runs,
           ITERATIONS);
    printf("  %-10s %-9s %10s %12s %8s\n", "ring", "kind", "middle", "straddling", "ratio");
    for (unsigned log2_capacity = 8; log2_capacity <= 9; log2_capacity++) {
        uint32_t capacity = UINT32_C(1) << log2_capacity;
        bool mirrored;
        double middle = median_ns(log2_capacity, capacity / 2, &mirrored);
        /* The first push fills the ring's last slot, the second wraps. */
        double straddling = median_ns(log2_capacity, capacity - 1, &mirrored);
        printf("  %4u slots %-9s %10.2f %12.2f %7.2fx\n", capacity,
               mirrored ? "mirrored" : "plain", middle, straddling, straddling / middle);
    }
    return 0;
}
