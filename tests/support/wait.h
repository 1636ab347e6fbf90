/* Bounded waiting for tests: a wait that would hang fails the test with a
 * message naming what it waited for, instead of running into Bazel's
 * timeout; and the time since a start, for tests that bound a wait
 * themselves. */
#ifndef GUST_TESTS_SUPPORT_WAIT_H
#define GUST_TESTS_SUPPORT_WAIT_H

#include <errno.h>
#include <semaphore.h>
#include <time.h>

#include "tests/support/check.h"

/* Waits for `sem` for at most `seconds`. */
static inline void wait_sem(sem_t *sem, int seconds, const char *what)
{
    struct timespec deadline;
    ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &deadline), 0);
    deadline.tv_sec += seconds;
    while (sem_timedwait(sem, &deadline) != 0) {
        if (errno == ETIMEDOUT)
            CHECK_FAIL_("%s: not done within %d s", what, seconds);
        ASSERT_EQ(errno, EINTR);
    }
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ASSERT_EQ(errno, EINTR);
}

/* Milliseconds since `since`, a CLOCK_MONOTONIC time. */
static inline long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

#endif
