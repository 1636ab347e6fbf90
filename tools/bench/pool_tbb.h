/* tools/bench/pool_tbb.h: the oneTBB peer of the pool benchmark, behind a C
 * interface so that the C driver never includes a TBB header and the C++ file
 * never includes gust/pool.h.
 *
 * None of these functions throws (they are noexcept in C++): a C++ exception
 * ends the program. */
#ifndef GUST_BENCH_POOL_TBB_H
#define GUST_BENCH_POOL_TBB_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define PEER_TBB_NOTHROW noexcept
#else
#define PEER_TBB_NOTHROW
#endif

typedef struct peer_tbb_s peer_tbb_t;

/* peer_tbb_new makes a task_arena of `num_threads` threads, of which
 * `num_reserved` are slots kept for the threads that call into the arena
 * (1: the caller of execute takes part, as gust's waiting worker does;
 * 0: every slot is a TBB worker, for enqueue from outside). Raises TBB's
 * process-wide thread limit to match, so one handle at a time. */
peer_tbb_t *peer_tbb_new(unsigned num_threads, unsigned num_reserved) PEER_TBB_NOTHROW;
void peer_tbb_free(peer_tbb_t *tbb) PEER_TBB_NOTHROW;

/* peer_tbb_fib computes fib(n) in the arena, one task_group and one run()
 * per call. */
long peer_tbb_fib(peer_tbb_t *tbb, int n) PEER_TBB_NOTHROW;

/* peer_tbb_queens counts the solutions of n-queens in the arena, one
 * task_group per board and one run() per queen placed but the last. */
long peer_tbb_queens(peer_tbb_t *tbb, int n) PEER_TBB_NOTHROW;

/* peer_tbb_spawn_join runs `iters` times: task_group g; g.run(empty);
 * g.wait(). Returns the nanoseconds the loop took inside the arena. */
uint64_t peer_tbb_spawn_join(peer_tbb_t *tbb, long iters) PEER_TBB_NOTHROW;

/* peer_tbb_fill sets a[i] = 2 * i for i in [0, n) with tbb::parallel_for. */
void peer_tbb_fill(peer_tbb_t *tbb, int64_t *a, int64_t n) PEER_TBB_NOTHROW;

/* peer_tbb_enqueue queues fn(arg) on the arena with task_arena::enqueue.
 * Any thread may call it. */
void peer_tbb_enqueue(peer_tbb_t *tbb, void (*fn)(void *), void *arg) PEER_TBB_NOTHROW;

/* The oneTBB runtime's version string. */
const char *peer_tbb_version(void) PEER_TBB_NOTHROW;

#ifdef __cplusplus
}
#endif

#endif
