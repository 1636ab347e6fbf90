/* The runtime's life: a pool whose idle hooks are the reactors, the
 * blocking threads, and posting work to one worker. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pool/internal.h"

#include "runtime/internal.h"

gust_runtime_opts_t gust_runtime_opts_default(void)
{
    gust_runtime_opts_t opts;
    opts.pool = gust_pool_opts_default();
    opts.blocking_threads = 4;
    opts.fd_table_hint = 1024;
    return opts;
}

/* Grows the descriptor table to `want` entries (see fd_table_hint) by
 * duplicating `fd` to the highest of them and closing the copy. Best
 * effort: failing costs only the later waits. */
static void grow_fd_table(int fd, unsigned want)
{
    struct rlimit limit;
    if (want < 2 || getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    if (limit.rlim_cur != RLIM_INFINITY && want > limit.rlim_cur)
        want = (unsigned)limit.rlim_cur;
    if (want > INT_MAX)
        want = INT_MAX;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, (int)want - 1);
    if (copy >= 0)
        close(copy);
}

static void thread_start(void *arg, unsigned index)
{
    gust_runtime_t *runtime = arg;
    gust__current_reactor = &runtime->reactors[index];
    if (runtime->opts.pool.on_thread_start != NULL)
        runtime->opts.pool.on_thread_start(runtime->opts.pool.hook_arg, index);
}

static void thread_stop(void *arg, unsigned index)
{
    gust_runtime_t *runtime = arg;
    gust__reactor_t *reactor = &runtime->reactors[index];
    /* The pool stops a worker once no task is visible, but posts to this
     * worker are not visible to the pool: run them, and whatever they spawn,
     * before leaving. */
    while (gust__reactor_run_mailbox(reactor) || gust_pool_help()) {
    }
    if (runtime->opts.pool.on_thread_stop != NULL)
        runtime->opts.pool.on_thread_stop(runtime->opts.pool.hook_arg, index);
    gust__current_reactor = NULL;
}

static void free_reactors(gust_runtime_t *runtime)
{
    for (unsigned i = 0; i < runtime->num_reactors; i++)
        gust__reactor_destroy(&runtime->reactors[i]);
    free(runtime->reactors);
}

gust_runtime_t *gust_runtime_new(const gust_runtime_opts_t *opts_in)
{
    gust_runtime_opts_t opts = opts_in != NULL ? *opts_in : gust_runtime_opts_default();
    const gust_pool_idle_hooks_t *idle = &opts.pool.idle;
    if (idle->poll != NULL || idle->park != NULL || idle->unpark != NULL ||
        opts.blocking_threads == 0) {
        errno = EINVAL;
        return NULL;
    }
    gust_runtime_t *runtime = calloc(1, sizeof(*runtime));
    if (runtime == NULL)
        return NULL;
    runtime->opts = opts;

    /* The reactors are made before the pool, so settle its size here. */
    gust_pool_opts_t pool_opts = opts.pool;
    pool_opts.num_threads = gust__resolve_num_threads(pool_opts.num_threads);
    runtime->reactors = calloc(pool_opts.num_threads, sizeof(gust__reactor_t));
    if (runtime->reactors == NULL)
        goto fail;
    for (; runtime->num_reactors < pool_opts.num_threads; runtime->num_reactors++) {
        if (!gust__reactor_init(&runtime->reactors[runtime->num_reactors], runtime,
                                runtime->num_reactors))
            goto fail;
    }
    /* Before the blocking threads and the pool start, so that growing the
     * table waits for nobody. */
    grow_fd_table(runtime->reactors[0].epoll_fd, opts.fd_table_hint);
    runtime->blocking = gust__blocking_new(opts.blocking_threads);
    if (runtime->blocking == NULL)
        goto fail;

    pool_opts.on_thread_start = thread_start;
    pool_opts.on_thread_stop = thread_stop;
    pool_opts.hook_arg = runtime;
    pool_opts.idle = (gust_pool_idle_hooks_t){
        .poll = gust__reactor_poll,
        .park = gust__reactor_park,
        .unpark = gust__reactor_unpark,
        .arg = runtime,
    };
    runtime->pool = gust_pool_new(&pool_opts);
    if (runtime->pool == NULL)
        goto fail;
    return runtime;

fail:
    gust__blocking_free(runtime->blocking);
    free_reactors(runtime);
    free(runtime);
    return NULL;
}

void gust_runtime_free(gust_runtime_t *runtime)
{
    if (runtime == NULL)
        return;
    gust__refuse_own_worker(runtime->pool, "gust_runtime_free");
    /* Blocking calls first: their futures' callbacks still need the pool. */
    gust__blocking_free(runtime->blocking);
    gust_pool_free(runtime->pool);
    free_reactors(runtime);
    free(runtime);
}

gust_pool_t *gust_runtime_pool(const gust_runtime_t *runtime)
{
    return runtime->pool;
}

gust_runtime_t *gust_runtime_current(void)
{
    gust__reactor_t *reactor = gust__current_reactor;
    return reactor != NULL ? reactor->runtime : NULL;
}

bool gust_runtime_post(gust_runtime_t *runtime, unsigned index, gust_task_fn fn, void *arg)
{
    if (index >= runtime->num_reactors) {
        errno = EINVAL;
        return false;
    }
    gust__task_t task = {fn, arg, GUST__NO_GROUP};
    if (!gust__inject_push(&runtime->reactors[index].mailbox, &task))
        return false;
    /* The eventfd stays readable until the worker reads it, so a worker
     * about to park in epoll_wait cannot miss this. */
    gust__reactor_unpark(runtime, index);
    return true;
}
