/* tools/bench/pool_omp.c: the OpenMP peer (see pool_omp.h). */
#include "tools/bench/pool_omp.h"

#include <omp.h>

static long fib(int n)
{
    if (n < 2) {
        return n;
    }
    long x = 0;
#pragma omp task shared(x)
    x = fib(n - 1);
    long y = fib(n - 2);
#pragma omp taskwait
    return x + y;
}

long peer_omp_fib(unsigned num_threads, int n)
{
    long r = 0;
#pragma omp parallel num_threads(num_threads) shared(r)
#pragma omp single
    r = fib(n);
    return r;
}

void peer_omp_fill(unsigned num_threads, int64_t *a, int64_t n)
{
#pragma omp parallel for num_threads(num_threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        a[i] = 2 * i;
    }
}

int peer_omp_version(void)
{
    return _OPENMP;
}
