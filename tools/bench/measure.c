/* tools/bench/measure.c: see measure.h. */
#include "tools/bench/measure.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t timeval_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

uint64_t bench_rusage_cpu_ns(const struct rusage *ru)
{
    return timeval_ns(ru->ru_utime) + timeval_ns(ru->ru_stime);
}

uint64_t bench_self_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return bench_rusage_cpu_ns(&ru);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *values, int num)
{
    double *sorted = malloc((size_t)num * sizeof(*sorted));
    if (sorted == NULL)
        return values[0];
    memcpy(sorted, values, (size_t)num * sizeof(*sorted));
    qsort(sorted, (size_t)num, sizeof(*sorted), cmp_double);
    double median = num % 2 == 1 ? sorted[num / 2] : (sorted[num / 2 - 1] + sorted[num / 2]) / 2;
    free(sorted);
    return median;
}

const char *bench_which(const char *name, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/bin";
    for (const char *dir = path;;) {
        size_t len = strcspn(dir, ":");
        int n = snprintf(buf, cap, "%.*s/%s", (int)len, len > 0 ? dir : ".", name);
        if (n > 0 && (size_t)n < cap && access(buf, X_OK) == 0)
            return buf;
        if (dir[len] == '\0')
            break;
        dir += len + 1;
    }
    int n = snprintf(buf, cap, "/usr/bin/%s", name);
    return n > 0 && (size_t)n < cap && access(buf, X_OK) == 0 ? buf : NULL;
}

/* Appends what `fd` has to the output; false at EOF. */
static bool drain(int fd, bench_child_t *out, size_t *cap)
{
    if (*cap - out->output_len < 4096) {
        size_t new_cap = *cap * 2 + 4096;
        char *p = realloc(out->output, new_cap);
        if (p == NULL)
            return false; /* give up reading; the program still runs to its end */
        out->output = p;
        *cap = new_cap;
    }
    ssize_t n = read(fd, out->output + out->output_len, *cap - out->output_len - 1);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    out->output_len += (size_t)n;
    out->output[out->output_len] = '\0';
    return n > 0;
}

int bench_run_child(char *const argv[], uint64_t timeout_ns, bench_child_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    int output[2], exec_err[2];
    if (pipe2(output, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(exec_err, O_CLOEXEC) != 0) {
        close(output[0]);
        close(output[1]);
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(output[0]), close(output[1]), close(exec_err[0]), close(exec_err[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(output[1], 1);
        dup2(output[1], 2);
        execvp(argv[0], argv);
        /* exec_err is close-on-exec: the parent reads EOF on success, and
         * this errno on failure. */
        int err = errno;
        ssize_t ignored = write(exec_err[1], &err, sizeof(err));
        (void)ignored;
        _exit(127);
    }
    close(output[1]);
    close(exec_err[1]);

    bool timed_out = false;
    for (bool open = true; open;) {
        uint64_t now = bench_now_ns();
        if (now - t0 >= timeout_ns) {
            kill(pid, SIGKILL);
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = output[0], .events = POLLIN};
        int left_ms = (int)((timeout_ns - (now - t0)) / 1000000u) + 1;
        if (poll(&p, 1, left_ms) > 0)
            open = drain(output[0], out, &cap);
    }
    close(output[0]);
    while (wait4(pid, &out->status, 0, &out->usage) < 0 && errno == EINTR) {
    }
    out->wall_ns = bench_now_ns() - t0;

    int err = 0;
    ssize_t n = read(exec_err[0], &err, sizeof(err));
    close(exec_err[0]);
    if (n == (ssize_t)sizeof(err)) {
        bench_child_free(out);
        errno = err;
        return -1;
    }
    if (out->output == NULL) {
        out->output = calloc(1, 1);
        if (out->output == NULL) {
            errno = ENOMEM;
            return -1;
        }
    }
    if (timed_out) {
        errno = ETIMEDOUT;
        return -1;
    }
    return 0;
}

void bench_child_free(bench_child_t *child)
{
    free(child->output);
    child->output = NULL;
    child->output_len = 0;
}

bool bench_run_peer(char *const argv[], const char *name, uint64_t timeout_ns, bench_child_t *out,
                    bench_result_t *r)
{
    if (bench_run_child(argv, timeout_ns, out) != 0) {
        int err = errno;
        if (err == ETIMEDOUT)
            bench_child_free(out);
        bench_set_why(r, err == ENOENT ? BENCH_MISSING : BENCH_FAILED, "%s: %s", argv[0],
                      strerror(err));
        return false;
    }
    if (!WIFEXITED(out->status) || WEXITSTATUS(out->status) != 0) {
        bench_set_why(r, BENCH_FAILED, "%s exited with status %d: %.120s", name, out->status,
                      out->output);
        bench_child_free(out);
        return false;
    }
    return true;
}

void bench_program_version(const char *path, char *buf, size_t cap)
{
    char *argv[] = {(char *)path, "--version", NULL};
    bench_child_t child;
    if (bench_run_child(argv, 10ull * 1000000000ull, &child) == 0) {
        snprintf(buf, cap, "%.*s", (int)strcspn(child.output, "\n"), child.output);
        bench_child_free(&child);
    }
}

bool bench_flag_ulong(const char *arg, const char *name, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0 || arg[len] != '=')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg + len + 1, &end, 10);
    if (errno != 0 || end == arg + len + 1 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bench: %s wants a number from %lu to %lu\n", name, min, max);
        exit(2);
    }
    *out = v;
    return true;
}
