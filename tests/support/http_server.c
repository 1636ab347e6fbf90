/* The test server's life: the listener, the acceptor thread, a thread per
 * connection (with its TLS handshake, if any), and stopping all of them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/http_server_internal.h"

/* Live connections beyond this are closed as soon as they are accepted (the
 * tests open a few thousand at most). */
enum { MAX_CONNECTIONS = 20000 };

/* The backlog lets a test connect a few thousand sockets at once, before the
 * acceptor has caught up. */
enum { LISTEN_BACKLOG = 4096 };

/* A connection thread's buffers are on the heap, so a small stack is plenty
 * (with room for a sanitizer's redzones), and thousands of threads stay cheap. */
enum { CONN_STACK_SIZE = 256 * 1024 };

/* How long a connection that is closing keeps reading what its client still
 * sends: closing a socket with unread input makes the kernel send a reset,
 * which can make the client drop a response it has not read yet. */
enum { LINGER_MS = 500 };

/* How long the acceptor backs off when it is out of file descriptors. */
enum { ACCEPT_RETRY_MS = 10 };

_Noreturn void test_server__die(const char *what)
{
    fprintf(stderr, "test server: %s: %s\n", what, strerror(errno));
    fflush(stderr);
    abort();
}

test_server_opts_t test_server_opts_default(void)
{
    return (test_server_opts_t){
        .ipv6 = false,
        .cert_file = NULL,
        .key_file = NULL,
        .client_ca_file = NULL,
        .tls_max_version = 0,
        .handshake_stall = false,
    };
}

/* ---- Connections ----------------------------------------------------------- */

static void list_push(conn_t **head, conn_t *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static void list_remove(conn_t **head, conn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

static void conn_free(conn_t *c)
{
    free(c->in.data);
    free(c->body.data);
    free(c);
}

/* Each turn reads one request and answers it; the connection ends when
 * the route or the request says so, or when no request comes. */
static void serve(conn_t *c)
{
    test_server_t *s = c->server;
    for (;;) {
        request_t req;
        int status = test_server__read_request(c, &req);
        if (status < 0)
            break;
        if (status > 0) {
            test_server__reject(c, status);
            break;
        }
        /* An idle time set by a route bounds only the wait that follows it. */
        c->idle_ms = -1;
        /* Relaxed: see the counters in struct test_server_s. */
        atomic_fetch_add_explicit(&s->requests_served, 1, memory_order_relaxed);
        bool keep = test_server__route(c, &req);
        test_server__request_done(c, &req);
        if (!keep)
            break;
    }
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    test_server_t *s = c->server;

    if (s->handshake_stall)
        test_server__drain(c, -1); /* never a byte back: the client gives up */
    else if (s->tls_ctx == NULL || test_server__tls_accept(c))
        serve(c);
    test_server__tls_end(c);
    if (c->reset) {
        /* No FIN: close sends a reset at once. */
        struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
        if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) != 0)
            test_server__die("setsockopt(SO_LINGER)");
    } else {
        /* Sending our FIN first lets the client see the end of the response
         * at once; then linger (see LINGER_MS). */
        shutdown(c->fd, SHUT_WR);
        test_server__drain(c, LINGER_MS);
    }

    pthread_mutex_lock(&s->lock);
    close(c->fd);
    list_remove(&s->live, c);
    s->num_live--;
    list_push(&s->finished, c);
    pthread_cond_signal(&s->finished_cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Joins and frees every connection on the finished list. */
static void reap_finished(test_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    conn_t *c = s->finished;
    s->finished = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c != NULL) {
        conn_t *next = c->next;
        pthread_join(c->thread, NULL);
        conn_free(c);
        c = next;
    }
}

static void start_conn(test_server_t *s, int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        test_server__die("setsockopt(TCP_NODELAY)");

    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        test_server__die("calloc");
    c->server = s;
    c->fd = fd;
    c->io = &test_server__plain_io;
    c->idle_ms = -1;

    pthread_mutex_lock(&s->lock);
    if (s->num_live >= MAX_CONNECTIONS) {
        pthread_mutex_unlock(&s->lock);
        fprintf(stderr, "test server: over %d connections; closing a new one\n", MAX_CONNECTIONS);
        close(fd);
        free(c);
        return;
    }
    list_push(&s->live, c);
    s->num_live++;
    pthread_mutex_unlock(&s->lock);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, CONN_STACK_SIZE);
    errno = pthread_create(&c->thread, &attr, conn_main, c);
    pthread_attr_destroy(&attr);
    if (errno != 0)
        test_server__die("pthread_create(connection)");
}

/* ---- Accepting ------------------------------------------------------------- */

static void *accept_main(void *arg)
{
    test_server_t *s = arg;
    struct pollfd fds[2] = {
        {.fd = s->stop_fd, .events = POLLIN},
        {.fd = s->listen_fd, .events = POLLIN},
    };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            test_server__die("poll(listener)");
        }
        if (fds[0].revents != 0)
            return NULL;

        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The connection stays in the backlog: back off (still
                 * hearing a stop) until another connection may have closed. */
                poll(fds, 1, ACCEPT_RETRY_MS);
                continue;
            }
            /* EAGAIN: the client went away before we got to it. */
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                continue;
            test_server__die("accept4");
        }
        /* Relaxed: see the counters in struct test_server_s. */
        atomic_fetch_add_explicit(&s->connections_accepted, 1, memory_order_relaxed);
        reap_finished(s);
        start_conn(s, fd);
    }
}

/* ---- Starting and stopping --------------------------------------------------- */

/* Binds a listening socket to an ephemeral loopback port; sets s->port. */
static void listen_loopback(test_server_t *s, bool ipv6)
{
    struct sockaddr_storage addr = {0};
    socklen_t addr_len;
    if (ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        addr_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr_len = sizeof(*a);
    }

    /* Non-blocking, so that the acceptor never blocks in accept4 on a
     * connection that went away after poll reported it. */
    s->listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        test_server__die("socket");
    int one = 1;
    if (setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        test_server__die("setsockopt(SO_REUSEADDR)");
    if (bind(s->listen_fd, (struct sockaddr *)&addr, addr_len) != 0)
        test_server__die(ipv6 ? "bind([::1]:0)" : "bind(127.0.0.1:0)");
    if (listen(s->listen_fd, LISTEN_BACKLOG) != 0)
        test_server__die("listen");
    if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0)
        test_server__die("getsockname");
    s->port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                         : ((struct sockaddr_in *)&addr)->sin_port);
}

test_server_t *test_server_start(const test_server_opts_t *opts)
{
    test_server_opts_t o = opts != NULL ? *opts : test_server_opts_default();
    if ((o.cert_file == NULL) != (o.key_file == NULL) ||
        (o.client_ca_file != NULL && o.cert_file == NULL)) {
        errno = EINVAL;
        test_server__die("options: cert_file and key_file go together, and client_ca_file "
                         "needs them");
    }
    test_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        test_server__die("calloc");

    s->handshake_stall = o.handshake_stall;
    if (o.cert_file != NULL && !o.handshake_stall)
        s->tls_ctx = test_server__tls_new_ctx(&o);
    listen_loopback(s, o.ipv6);
    bool tls = o.cert_file != NULL || o.handshake_stall;
    snprintf(s->origin, sizeof(s->origin), "%s://%s:%u", tls ? "https" : "http",
             o.ipv6 ? "[::1]" : "127.0.0.1", (unsigned)s->port);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0)
        test_server__die("eventfd");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->finished_cond, NULL);
    atomic_init(&s->connections_accepted, 0);
    atomic_init(&s->requests_served, 0);
    atomic_init(&s->tls_handshakes, 0);
    atomic_init(&s->tls_resumed, 0);
    atomic_init(&s->bytes_sent, 0);

    errno = pthread_create(&s->acceptor, NULL, accept_main, s);
    if (errno != 0)
        test_server__die("pthread_create(acceptor)");
    return s;
}

void test_server_stop(test_server_t *s)
{
    if (s == NULL)
        return;

    /* Every wait in every thread polls stop_fd: the acceptor and the
     * connections that sleep or wait for a request see it at once. */
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
        test_server__die("write(stop eventfd)");
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);

    /* No connection starts any more. Shutting the sockets down ends the
     * connections blocked in send() to a client that does not read. */
    pthread_mutex_lock(&s->lock);
    for (conn_t *c = s->live; c != NULL; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (s->live != NULL)
        pthread_cond_wait(&s->finished_cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    reap_finished(s);

    test_server__tls_free_ctx(s->tls_ctx);
    pthread_cond_destroy(&s->finished_cond);
    pthread_mutex_destroy(&s->lock);
    close(s->stop_fd);
    free(s);
}

/* ---- Addresses and counters -------------------------------------------------- */

uint16_t test_server_port(const test_server_t *s)
{
    return s->port;
}

const char *test_server_origin(const test_server_t *s)
{
    return s->origin;
}

void test_server_url(const test_server_t *s, char *buf, size_t len, const char *path_fmt, ...)
{
    int n = snprintf(buf, len, "%s", s->origin);
    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "test_server_url: %zu bytes are too few for %s\n", len, s->origin);
        abort();
    }
    va_list ap;
    va_start(ap, path_fmt);
    int m = vsnprintf(buf + n, len - (size_t)n, path_fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= len - (size_t)n) {
        fprintf(stderr, "test_server_url: %zu bytes are too few for %s%s...\n", len, s->origin,
                path_fmt);
        abort();
    }
}

unsigned long test_server_connections_accepted(const test_server_t *s)
{
    /* Relaxed: see the counters in struct test_server_s. */
    return atomic_load_explicit(&s->connections_accepted, memory_order_relaxed);
}

unsigned long test_server_requests_served(const test_server_t *s)
{
    /* Relaxed: see the counters in struct test_server_s. */
    return atomic_load_explicit(&s->requests_served, memory_order_relaxed);
}

unsigned long test_server_tls_handshakes(const test_server_t *s)
{
    /* Relaxed: see the counters in struct test_server_s. */
    return atomic_load_explicit(&s->tls_handshakes, memory_order_relaxed);
}

unsigned long test_server_tls_resumed(const test_server_t *s)
{
    /* Relaxed: see the counters in struct test_server_s. */
    return atomic_load_explicit(&s->tls_resumed, memory_order_relaxed);
}

unsigned long test_server_bytes_sent(const test_server_t *s)
{
    /* Relaxed: see the counters in struct test_server_s. */
    return atomic_load_explicit(&s->bytes_sent, memory_order_relaxed);
}
