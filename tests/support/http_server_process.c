/* The test server in a child process, driven over a pair of pipes: the
 * child answers each byte it reads with its counts, and stops when its
 * command pipe closes. */
#include "tests/support/http_server_process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/check.h"

struct test_server_process_s {
    pid_t pid;
    int command_fd; /* the parent writes a byte to ask for counts; closes it to stop */
    int answer_fd;  /* the child writes its origin once, then counts */
    char origin[64];
};

static void read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            CHECK_FAIL_("test server process: read: %s", n == 0 ? "end of file" : strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static void write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            CHECK_FAIL_("test server process: write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* The child: serve until the command pipe closes. */
static _Noreturn void serve_commands(const test_server_opts_t *opts, int command_fd, int answer_fd)
{
    test_server_t *server = test_server_start(opts);
    char origin[64] = {0};
    snprintf(origin, sizeof(origin), "%s", test_server_origin(server));
    write_all(answer_fd, origin, sizeof(origin));
    for (;;) {
        char command;
        ssize_t n = read(command_fd, &command, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        test_server_counts_t counts = {
            .connections_accepted = test_server_connections_accepted(server),
            .requests_served = test_server_requests_served(server),
            .bytes_sent = test_server_bytes_sent(server),
        };
        write_all(answer_fd, &counts, sizeof(counts));
    }
    test_server_stop(server);
    exit(0); /* with exit handlers: a sanitizer's leak check runs here too */
}

test_server_process_t *test_server_process_start(const test_server_opts_t *opts)
{
    int commands[2], answers[2];
    ASSERT_EQ(pipe2(commands, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(answers, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(commands[1]);
        close(answers[0]);
        serve_commands(opts, commands[0], answers[1]);
    }
    close(commands[0]);
    close(answers[1]);
    test_server_process_t *p = calloc(1, sizeof(*p));
    ASSERT_NOT_NULL(p);
    p->pid = pid;
    p->command_fd = commands[1];
    p->answer_fd = answers[0];
    read_all(p->answer_fd, p->origin, sizeof(p->origin));
    return p;
}

const char *test_server_process_origin(const test_server_process_t *p)
{
    return p->origin;
}

test_server_counts_t test_server_process_counts(test_server_process_t *p)
{
    write_all(p->command_fd, "c", 1);
    test_server_counts_t counts;
    read_all(p->answer_fd, &counts, sizeof(counts));
    return counts;
}

void test_server_process_stop(test_server_process_t *p)
{
    if (p == NULL)
        return;
    close(p->command_fd);
    int status;
    while (waitpid(p->pid, &status, 0) < 0)
        ASSERT_EQ(errno, EINTR);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        CHECK_FAIL_("test server process: ended with status 0x%x", status);
    close(p->answer_fd);
    free(p);
}
