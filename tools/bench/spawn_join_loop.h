/* tools/bench/spawn_join_loop.h: the loop that tools/bench:pool's part 2 and
 * tools/bench/spawn_join_ab time, in one place so that both time the same
 * code. Include after gust/pool.h; the functions are static, one copy per
 * program (spawn_join_ab compiles it against each revision's headers). */
#ifndef GUST_TOOLS_BENCH_SPAWN_JOIN_LOOP_H
#define GUST_TOOLS_BENCH_SPAWN_JOIN_LOOP_H

/* Out of line and with a compiler barrier, so the spawned task is a real
 * call that does nothing. */
__attribute__((noinline)) static void spawn_join_empty_task(void *arg)
{
    (void)arg;
    __asm__ volatile("" ::: "memory");
}

/* `iterations` times: group init, spawn of the empty task, wait. Call it on
 * a worker of `pool`, so that the group's owner is the worker. */
static void spawn_join_repeat(gust_pool_t *pool, long iterations)
{
    for (long i = 0; i < iterations; i++) {
        gust_group_t group;
        gust_group_init(&group, pool);
        gust_group_spawn(&group, spawn_join_empty_task, NULL);
        gust_group_wait(&group);
    }
}

#endif
