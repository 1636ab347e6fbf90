/* The file descriptors a test process has open, for checking that a
 * server's stop leaves none behind. */
#ifndef GUST_TESTS_SUPPORT_FDS_H
#define GUST_TESTS_SUPPORT_FDS_H

#include <dirent.h>

#include "tests/support/check.h"

/* How many entries /proc/self/fd lists now (the directory's own fd, "." and
 * ".." included: compare two counts, not a count with a number). */
static inline int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    ASSERT_NOT_NULL(dir);
    int n = 0;
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n;
}

#endif
