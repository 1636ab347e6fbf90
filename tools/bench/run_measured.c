/* tools/bench/run_measured.c: runs one client of tools/bench/compare and
 * reports what wait4 says of it.
 *
 *     run_measured TIMEOUT_S PROGRAM [ARG]...
 *
 * Prints the program's output (stdout and stderr together), then one line
 *
 *     run-measured status=S wall_ns=W cpu_ns=C maxrss_kb=R timed_out=0|1
 *
 * where S is the exit status (128 + signal when killed), C the user and
 * system time of the program and the children it waited for, R its peak
 * RSS. Why not os.wait4 from the script: Linux keeps a process's peak RSS
 * across exec, so a client forked by the Python script would start with the
 * script's own RSS as its peak; forked from this small program it starts
 * with this one's (about 1 MiB). Exits 0 when the line is printed, 127 when
 * the program cannot be run, 2 for bad arguments. */
#include "tools/bench/measure.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    char *end = NULL;
    double timeout_s = argc >= 3 ? strtod(argv[1], &end) : 0;
    if (argc < 3 || end == argv[1] || *end != '\0' || timeout_s <= 0) {
        fprintf(stderr, "usage: run_measured TIMEOUT_S PROGRAM [ARG]...\n");
        return 2;
    }
    bench_child_t child;
    int rc = bench_run_child(argv + 2, (uint64_t)(timeout_s * 1e9), &child);
    bool timed_out = rc != 0 && errno == ETIMEDOUT;
    if (rc != 0 && !timed_out) {
        fprintf(stderr, "run_measured: %s: %s\n", argv[2], strerror(errno));
        return 127;
    }
    fwrite(child.output, 1, child.output_len, stdout);
    int status = WIFEXITED(child.status) ? WEXITSTATUS(child.status) : 128 + WTERMSIG(child.status);
    printf("\nrun-measured status=%d wall_ns=%llu cpu_ns=%llu maxrss_kb=%ld timed_out=%d\n", status,
           (unsigned long long)child.wall_ns, (unsigned long long)bench_rusage_cpu_ns(&child.usage),
           child.usage.ru_maxrss, timed_out ? 1 : 0);
    bench_child_free(&child);
    return 0;
}
