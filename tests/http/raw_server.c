/* See raw_server.h. */
#include "tests/http/raw_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/check.h"

/* Largest request head and body the server reads. */
enum { MAX_HEAD = 64 * 1024, MAX_BODY = 1 << 20 };

struct raw_conn_s {
    raw_server_t *server;
    int fd;
    unsigned index;
    pthread_t thread;
    raw_conn_t *next;
};

struct raw_server_s {
    int listen_fd;
    /* Written once by raw_server_stop; every wait polls it. */
    int stop_fd;
    uint16_t port;
    raw_handler_fn handler;
    void *arg;
    pthread_t acceptor;
    pthread_mutex_t lock;
    raw_conn_t *conns; /* every connection, joined at stop */
    /* Relaxed counters: each is read on its own. */
    atomic_uint accepted;
    atomic_uint requests;
};

/* Waits for input on fd (1), the server's stop (-1), or ms to pass (0; ms
 * < 0: no limit). */
static int wait_input(raw_server_t *s, int fd, long ms)
{
    struct pollfd fds[2] = {{.fd = s->stop_fd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    for (;;) {
        int n = poll(fds, fd >= 0 ? 2 : 1, ms < 0 ? -1 : (int)ms);
        if (n < 0 && errno == EINTR)
            continue;
        ASSERT_GE(n, 0);
        if (fds[0].revents != 0)
            return -1;
        return n > 0 ? 1 : 0;
    }
}

bool raw_send(raw_conn_t *conn, const char *data)
{
    return raw_write(conn, data, strlen(data));
}

bool raw_write(raw_conn_t *conn, const void *bytes, size_t len)
{
    const char *data = bytes;
    while (len > 0) {
        ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

bool raw_sleep(raw_conn_t *conn, long ms)
{
    return wait_input(conn->server, -1, ms) == 0;
}

/* Reads more into buf (at most cap bytes in all); false at the end. */
static bool fill(raw_conn_t *c, char *buf, size_t *len, size_t cap)
{
    if (*len >= cap || wait_input(c->server, c->fd, -1) <= 0)
        return false;
    ssize_t n;
    do {
        n = recv(c->fd, buf + *len, cap - *len, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    *len += (size_t)n;
    return true;
}

static size_t content_length(const char *head)
{
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            return strtoul(line + 2 + 15, NULL, 10);
    }
    return 0;
}

static void *conn_main(void *arg)
{
    raw_conn_t *c = arg;
    raw_server_t *s = c->server;
    char *buf = malloc(MAX_HEAD + MAX_BODY + 1);
    ASSERT_NOT_NULL(buf);
    size_t len = 0;
    for (unsigned index = 0;; index++) {
        char *end;
        buf[len] = '\0';
        while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
            if (!fill(c, buf, &len, MAX_HEAD))
                goto done;
            buf[len] = '\0';
        }
        size_t head_len = (size_t)(end + 4 - buf);
        raw_request_t req = {.conn_index = c->index, .index_on_conn = index};
        char *head = strndup(buf, head_len);
        ASSERT_NOT_NULL(head);
        size_t body_len = content_length(head);
        ASSERT_ULE(body_len, MAX_BODY);
        while (len < head_len + body_len) {
            if (!fill(c, buf, &len, MAX_HEAD + MAX_BODY)) {
                free(head);
                goto done;
            }
        }
        char *body = strndup(buf + head_len, body_len);
        ASSERT_NOT_NULL(body);
        req.head = head;
        req.body = body;
        req.body_len = body_len;
        ASSERT_EQ(sscanf(head, "%31s %1023s", req.method, req.target), 2);
        memmove(buf, buf + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        bool more = s->handler(s->arg, c, &req);
        free(head);
        free(body);
        if (!more)
            break;
    }
done:
    /* Everything sent was read, so closing sends a FIN, not a reset. */
    shutdown(c->fd, SHUT_RDWR);
    free(buf);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    raw_server_t *s = arg;
    for (;;) {
        if (wait_input(s, s->listen_fd, -1) < 0)
            return NULL;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            ASSERT_TRUE(errno == EAGAIN || errno == EINTR || errno == ECONNABORTED);
            continue;
        }
        raw_conn_t *c = calloc(1, sizeof(*c));
        ASSERT_NOT_NULL(c);
        c->server = s;
        c->fd = fd;
        c->index = atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        s->conns = c;
        ASSERT_EQ(pthread_create(&c->thread, NULL, conn_main, c), 0);
        pthread_mutex_unlock(&s->lock);
    }
}

raw_server_t *raw_server_start(raw_handler_fn handler, void *arg)
{
    raw_server_t *s = calloc(1, sizeof(*s));
    ASSERT_NOT_NULL(s);
    s->handler = handler;
    s->arg = arg;
    pthread_mutex_init(&s->lock, NULL);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(s->stop_fd, 0);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(s->listen_fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ASSERT_EQ(listen(s->listen_fd, 1024), 0);
    socklen_t addr_len = sizeof(addr);
    ASSERT_EQ(getsockname(s->listen_fd, (struct sockaddr *)&addr, &addr_len), 0);
    s->port = ntohs(addr.sin_port);
    ASSERT_EQ(pthread_create(&s->acceptor, NULL, acceptor_main, s), 0);
    return s;
}

void raw_server_stop(raw_server_t *s)
{
    if (s == NULL)
        return;
    uint64_t one = 1;
    ASSERT_EQ(write(s->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    ASSERT_EQ(pthread_join(s->acceptor, NULL), 0);
    /* The acceptor is gone, so the list no longer changes. */
    raw_conn_t *c = s->conns;
    while (c != NULL) {
        raw_conn_t *next = c->next;
        ASSERT_EQ(pthread_join(c->thread, NULL), 0);
        close(c->fd);
        free(c);
        c = next;
    }
    close(s->listen_fd);
    close(s->stop_fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

uint16_t raw_server_port(const raw_server_t *s)
{
    return s->port;
}

void raw_server_url(const raw_server_t *s, char *buf, size_t len, const char *path)
{
    int n = snprintf(buf, len, "http://127.0.0.1:%u%s", s->port, path);
    ASSERT_TRUE(n > 0 && (size_t)n < len);
}

unsigned raw_server_accepted(const raw_server_t *s)
{
    return atomic_load_explicit(&s->accepted, memory_order_relaxed);
}

unsigned raw_server_requests(const raw_server_t *s)
{
    return atomic_load_explicit(&s->requests, memory_order_relaxed);
}
