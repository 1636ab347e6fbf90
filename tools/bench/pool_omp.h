/* tools/bench/pool_omp.h: the OpenMP peer of the pool benchmark (gcc's
 * libgomp). Each call opens a parallel region of `num_threads` threads, the
 * caller being one of them. */
#ifndef GUST_BENCH_POOL_OMP_H
#define GUST_BENCH_POOL_OMP_H

#include <stdint.h>

/* peer_omp_fib computes fib(n) with one `omp task` per call and a taskwait,
 * started by one thread of a parallel region (parallel + single). */
long peer_omp_fib(unsigned num_threads, int n);

/* peer_omp_fill sets a[i] = 2 * i for i in [0, n) with `omp parallel for`
 * (static schedule). */
void peer_omp_fill(unsigned num_threads, int64_t *a, int64_t n);

/* The OpenMP version the compiler implements (the _OPENMP date, yyyymm). */
int peer_omp_version(void);

#endif
