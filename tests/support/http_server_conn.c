/* A test server connection's I/O: blocking sends and receives through the
 * connection's transport (plain here, TLS in http_server_tls.c), and waits
 * that end early when the server stops. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tests/support/http_server_internal.h"

/* The smallest room recv is given, so a request arrives in few calls. */
enum { RECV_MIN = 16 * 1024 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the server to stop (returns -1), for input or an error on c's
 * socket if `input` (returns 1), or for timeout_ms (-1: no limit) to pass
 * (returns 0). */
static int wait_event(conn_t *c, bool input, long timeout_ms)
{
    struct pollfd fds[2] = {
        {.fd = c->server->stop_fd, .events = POLLIN},
        {.fd = c->fd, .events = POLLIN},
    };
    int64_t deadline = INT64_MAX;
    if (timeout_ms >= 0 && timeout_ms < INT64_MAX / 2)
        deadline = now_ms() + timeout_ms;
    for (;;) {
        int timeout = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        int n = poll(fds, input ? 2 : 1, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            test_server__die("poll(connection)");
        }
        if (fds[0].revents != 0)
            return -1;
        if (n > 0)
            return 1;
        if (now_ms() >= deadline)
            return 0;
    }
}

static void buf_reserve(buf_t *b, size_t cap)
{
    if (cap <= b->cap)
        return;
    size_t new_cap = b->cap < RECV_MIN ? RECV_MIN : b->cap;
    while (new_cap < cap)
        new_cap *= 2;
    char *data = realloc(b->data, new_cap);
    if (data == NULL)
        test_server__die("realloc");
    b->data = data;
    b->cap = new_cap;
}

void test_server__buf_append(buf_t *b, const void *data, size_t len)
{
    buf_reserve(b, b->len + len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* ---- The plain transport ------------------------------------------------------ */

static long plain_read(conn_t *c, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = recv(c->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

static long plain_write(conn_t *c, const void *data, size_t len)
{
    ssize_t n;
    do {
        n = send(c->fd, data, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

static bool plain_buffered(const conn_t *c)
{
    (void)c;
    return false;
}

const conn_io_t test_server__plain_io = {
    .read = plain_read,
    .write = plain_write,
    .buffered = plain_buffered,
};

/* ---- Through the connection's transport ---------------------------------------- */

bool test_server__send(conn_t *c, const void *data, size_t len)
{
    const char *p = data;
    /* A blocked send ends when test_server_stop shuts the socket down. */
    while (len > 0) {
        long n = c->io->write(c, p, len);
        if (n <= 0)
            return false;
        /* Relaxed: see the counters in struct test_server_s. */
        atomic_fetch_add_explicit(&c->server->bytes_sent, (unsigned long)n, memory_order_relaxed);
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool test_server__sleep(conn_t *c, long ms)
{
    return wait_event(c, false, ms) == 0;
}

long test_server__recv(conn_t *c, int timeout_ms, size_t limit)
{
    buf_t *b = &c->in;
    if (b->len >= limit)
        return -1;
    if (!c->io->buffered(c) && wait_event(c, true, timeout_ms) <= 0)
        return 0;
    buf_reserve(b, b->len + RECV_MIN);
    size_t room = b->cap - b->len;
    if (room > limit - b->len)
        room = limit - b->len;
    long n = c->io->read(c, b->data + b->len, room);
    if (n <= 0)
        return 0;
    b->len += (size_t)n;
    return n;
}

void test_server__drain(conn_t *c, long ms)
{
    int64_t deadline = ms < 0 ? INT64_MAX : now_ms() + ms;
    char scratch[4096];
    for (;;) {
        int64_t left = ms < 0 ? -1 : deadline - now_ms();
        if (ms >= 0 && left <= 0)
            return;
        if (wait_event(c, true, (long)left) <= 0)
            return;
        /* The socket itself, whatever c->io is (see the header). */
        if (plain_read(c, scratch, sizeof(scratch)) <= 0)
            return;
    }
}
