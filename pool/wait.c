/* Waiting on a worker: a wait runs other tasks while it can, sleeps in the
 * worker's park when there are none, and nests only so deep.
 *
 * A task run by a wait sits on the waiter's stack, so the waiter cannot
 * return before that task does. If the task itself waits for something that
 * only the waiter beneath it would do after returning, neither can go on:
 * the thread is stuck, whatever the pool's size. That cannot be told from a
 * slow completion, so it is reported, not refused: once a wait has been done
 * but buried under a newer, pending one for BURIED_REPORT_NS, a line on
 * stderr names the worker. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "pool/internal.h"

/* Fruitless steps a waiting worker spins through before it sleeps: a
 * completion due within a few microseconds is caught without a sleep. */
enum { WAIT_SPIN_ROUNDS = 64 };

/* How long a done wait stays buried before it is reported. */
#define BURIED_REPORT_NS 1000000000u

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

bool gust__deadline_passed(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return !earlier(&now, deadline);
}

/* Stack a helping wait leaves for the tasks it runs, and for what they call:
 * a wait nearer the stack's end only sleeps, so a chain of waits, each
 * running the next, ends in waiting, not in overflowing the stack. */
#define STACK_RESERVE (256 * 1024)

void gust__wait_init_thread(gust__worker_t *self)
{
    pthread_attr_t attr;
    void *low;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return; /* no floor: waits help however deep, as they must */
    if (pthread_attr_getstack(&attr, &low, &size) == 0)
        self->stack_floor = (uintptr_t)low + (size / 4 < STACK_RESERVE ? size / 4 : STACK_RESERVE);
    pthread_attr_destroy(&attr);
}

bool gust__wait_enter(gust__worker_t *self, gust__wait_t *wait, bool (*done)(const void *what),
                      const void *what)
{
    /* A wait begun inside the worker's park (in an I/O callback, say) runs
     * tasks and parks itself: the worker is no sleeper meanwhile. */
    gust__leave_park(self);
    *wait = (gust__wait_t){.outer = self->waits, .done = done, .what = what};
    self->waits = wait;
    /* The stack grows down on every target gust builds for. */
    return (uintptr_t)__builtin_frame_address(0) > self->stack_floor;
}

void gust__wait_leave(gust__worker_t *self, gust__wait_t *wait)
{
    self->waits = wait->outer;
    /* A producer may have woken this worker, asleep in the wait, to search
     * for its work, and the wait ends without looking: another worker
     * searches instead, and this one runs on uncounted among the searchers,
     * who would keep every other wakeup from happening meanwhile. */
    gust__end_search(self, true);
}

/* Reports, once, an outer wait on this thread that is done but stuck under
 * the innermost one, which is about to sleep: nothing on this thread can
 * move. Returns whether the sleep must end in time to report it. */
static bool check_buried_wait(gust__worker_t *self, uint64_t *out_report_at_ns)
{
    gust__wait_t *inner = self->waits;
    unsigned above = 1;
    gust__wait_t *buried = inner->outer;
    while (buried != NULL && !buried->done(buried->what)) {
        buried = buried->outer;
        above++;
    }
    if (buried == NULL || inner->reported) {
        inner->buried_since_ns = 0;
        return false;
    }
    uint64_t now = monotonic_ns();
    if (inner->buried_since_ns == 0)
        inner->buried_since_ns = now;
    if (now - inner->buried_since_ns < BURIED_REPORT_NS) {
        *out_report_at_ns = inner->buried_since_ns + BURIED_REPORT_NS;
        return true;
    }
    inner->reported = true;
    fprintf(stderr,
            "gust: worker %u: a wait that is done has not returned for %" PRIu64
            " s: it ran a task that is itself waiting (%u waits up), and returns only after "
            "that task does; if that task waits for the code after the done wait, this is "
            "a deadlock\n",
            self->index, (now - inner->buried_since_ns) / 1000000000u, above);
    return false;
}

bool gust__wait_step(gust__worker_t *self, bool may_help, unsigned *idle_rounds)
{
    if (may_help && gust__worker_help(self)) {
        *idle_rounds = 0;
        return false;
    }
    if (++*idle_rounds < WAIT_SPIN_ROUNDS) {
        gust__cpu_relax();
        return false;
    }
    *idle_rounds = 0;
    return true;
}

void gust__wait_sleep(gust__worker_t *self, bool may_help, const struct timespec *deadline)
{
    struct timespec report_at;
    uint64_t report_at_ns;
    if (check_buried_wait(self, &report_at_ns)) {
        report_at.tv_sec = (time_t)(report_at_ns / 1000000000u);
        report_at.tv_nsec = (long)(report_at_ns % 1000000000u);
        if (deadline == NULL || earlier(&report_at, deadline))
            deadline = &report_at;
    }
    /* A wait that may not help leaves its deque to the thieves. */
    if (!may_help && gust__deque_share_all(&self->front.deque))
        gust__wake_one(self->front.pool);
    /* A wait that may help is woken by new work too, stopping or not (a wait
     * goes on through the pool's shutdown); one that may not must not take
     * a producer's wakeup, so only its completion, I/O or the deadline end
     * its sleep. */
    gust__park_for_wait(self, may_help, deadline);
}
