/* tools/bench/measure.h: what the HTTP benchmarks and their peers share:
 * a clock, CPU time from getrusage, medians, running a program to its end
 * with its output and the CPU time wait4 reports for it (a peer's program,
 * or one asked for its version), and reading numeric flags. */
#ifndef GUST_TOOLS_BENCH_MEASURE_H
#define GUST_TOOLS_BENCH_MEASURE_H

#include "tools/bench/http_peer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* User + system CPU time of `ru`, in nanoseconds. */
uint64_t bench_rusage_cpu_ns(const struct rusage *ru);

/* User + system CPU time of this process so far (all its threads, not its
 * children), in nanoseconds. */
uint64_t bench_self_cpu_ns(void);

/* The median of `num` values (> 0); the array is left unchanged. */
double bench_median(const double *values, int num);

/* A program run by bench_run_child. */
typedef struct bench_child_s {
    int status;   /* as from waitpid */
    char *output; /* stdout and stderr together, NUL-terminated; owned */
    size_t output_len;
    struct rusage usage; /* from wait4: the program and its reaped children */
    uint64_t wall_ns;    /* from fork to exit */
} bench_child_t;

/* bench_run_child runs argv[0] (a path, or a name looked up in $PATH) with
 * stdin from /dev/null and stdout and stderr captured, and waits for it,
 * killing it after `timeout_ns`. Returns 0 with *out filled (free it with
 * bench_child_free), or -1 with errno set: ENOENT when the program cannot
 * be executed (errno of the failed execvp), ETIMEDOUT when it was killed
 * (*out is filled then too). */
int bench_run_child(char *const argv[], uint64_t timeout_ns, bench_child_t *out);

void bench_child_free(bench_child_t *child);

/* bench_run_peer runs the program of a peer named `name` (argv[0], a path)
 * as bench_run_child does and checks that it exited with status 0. Returns
 * true with *out filled (free it with bench_child_free); else false with
 * nothing to free and the status and reason of `r` set: BENCH_MISSING when
 * the program cannot be executed, BENCH_FAILED when it failed to run, timed
 * out or exited otherwise. */
bool bench_run_peer(char *const argv[], const char *name, uint64_t timeout_ns, bench_child_t *out,
                    bench_result_t *r);

/* bench_program_version runs `path --version` and writes the first line of
 * what it prints to `buf`; leaves buf as it is if the program does not
 * run. */
void bench_program_version(const char *path, char *buf, size_t cap);

/* bench_which finds `name` in $PATH (else in /usr/bin), writing its path
 * to `buf`. Returns buf, or NULL if there is no executable of that name. */
const char *bench_which(const char *name, char *buf, size_t cap);

/* bench_flag_ulong reads `arg` as "NAME=VALUE" (name given with its
 * dashes, "--runs"). Returns false if arg is another flag; exits with a
 * message and status 2 if the value is not a number from min to max. */
bool bench_flag_ulong(const char *arg, const char *name, unsigned long min, unsigned long max,
                      unsigned long *out);

#endif
