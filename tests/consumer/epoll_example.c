/* A host with its own event loop: one thread, plain epoll, never blocking
 * anywhere but in epoll_wait. It sends N GETs with gust_http_send and takes
 * their completions from a gust completion queue whose fd sits in its epoll
 * set beside its other fds; none of its code runs on gust's workers. The
 * server the requests go to is served by the same loop (a listening socket
 * and its connections on 127.0.0.1), so a loop that blocked would stall its
 * own requests. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gust/client.h"
#include "gust/completion.h"

enum { NUM_REQUESTS = 50, MAX_CONNS = 64, CONN_BUF = 4096, TIMEOUT_MS = 10000 };

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

/* One server connection: the bytes of requests not answered yet. */
typedef struct conn_s {
    int fd;
    size_t len;
    char buf[CONN_BUF];
} conn_t;

/* What the loop's epoll_event.data.ptr points to besides connections. */
static char listener_tag, queue_tag;

static int listen_loopback(int *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0)
        FAIL("listen: %s", strerror(errno));
    *out_port = ntohs(addr.sin_port);
    return fd;
}

static void watch(int epoll_fd, int fd, void *ptr)
{
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = ptr};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
        FAIL("epoll_ctl: %s", strerror(errno));
}

static void accept_all(int epoll_fd, int listen_fd)
{
    int fd;
    while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        conn_t *conn = calloc(1, sizeof(*conn));
        if (conn == NULL)
            FAIL("out of memory");
        conn->fd = fd;
        watch(epoll_fd, fd, conn);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        FAIL("accept: %s", strerror(errno));
}

/* Reads what the client sent and answers each complete request head with
 * its path as the body; a closed connection is freed. */
static void serve(conn_t *conn)
{
    ssize_t got;
    while ((got = read(conn->fd, conn->buf + conn->len, CONN_BUF - conn->len)) > 0) {
        conn->len += (size_t)got;
        char *end;
        while ((end = memmem(conn->buf, conn->len, "\r\n\r\n", 4)) != NULL) {
            char path[256];
            if (sscanf(conn->buf, "GET %255s HTTP/1.1", path) != 1)
                FAIL("not a GET: %.*s", (int)(end - conn->buf), conn->buf);
            char response[512];
            int len =
                snprintf(response, sizeof(response),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(path), path);
            /* A few hundred bytes into an empty socket buffer: never short. */
            if (write(conn->fd, response, (size_t)len) != len)
                FAIL("write: %s", strerror(errno));
            size_t used = (size_t)(end + 4 - conn->buf);
            memmove(conn->buf, conn->buf + used, conn->len - used);
            conn->len -= used;
        }
        if (conn->len == CONN_BUF)
            FAIL("request head too long");
    }
    if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        close(conn->fd); /* leaves the epoll set with it */
        free(conn);
    }
}

/* Takes every completion queued and checks each response; returns how many. */
static int take_completions(gust_cq_t *cq, pthread_t host)
{
    gust_cq_event_t events[16];
    size_t num = gust_cq_poll(cq, events, 16);
    for (size_t i = 0; i < num; i++) {
        if (!pthread_equal(pthread_self(), host))
            FAIL("a completion handled off the host's thread");
        intptr_t index = (intptr_t)events[i].user_data;
        gust_response_t *resp = gust_http_response(events[i].future);
        if (resp == NULL)
            FAIL("request %d: %s", (int)index, gust_future_message(events[i].future));
        char expected[32];
        snprintf(expected, sizeof(expected), "/item/%d", (int)index);
        size_t body_len;
        const char *body = gust_response_body(resp, &body_len);
        if (gust_response_status(resp) != 200 || body_len != strlen(expected) ||
            memcmp(body, expected, body_len) != 0)
            FAIL("request %d: status %d, body %.*s", (int)index, gust_response_status(resp),
                 (int)body_len, body);
        gust_future_free(events[i].future);
    }
    return (int)num;
}

int main(void)
{
    pthread_t host = pthread_self();
    int port;
    int listen_fd = listen_loopback(&port);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    gust_client_t *client = gust_client_new(NULL, NULL);
    gust_cq_t *cq = gust_cq_new();
    if (epoll_fd < 0 || client == NULL || cq == NULL)
        FAIL("setup: %s", strerror(errno));
    watch(epoll_fd, listen_fd, &listener_tag);
    watch(epoll_fd, gust_cq_fd(cq), &queue_tag);

    for (int i = 0; i < NUM_REQUESTS; i++) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/item/%d", port, i);
        gust_request_t req = {.url = url};
        gust_future_t *future = gust_http_send(client, &req);
        if (future == NULL || gust_cq_add(cq, future, (void *)(intptr_t)i) != 0)
            FAIL("request %d: out of memory", i);
        gust_future_free(future); /* the queue holds its own reference */
    }

    int done = 0;
    while (done < NUM_REQUESTS) {
        struct epoll_event events[MAX_CONNS];
        int n = epoll_wait(epoll_fd, events, MAX_CONNS, TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            FAIL("stalled with %d of %d responses", done, NUM_REQUESTS);
        for (int i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            if (ptr == &listener_tag)
                accept_all(epoll_fd, listen_fd);
            else if (ptr == &queue_tag)
                done += take_completions(cq, host);
            else
                serve(ptr);
        }
    }
    printf("%d responses through the completion queue, all on the host's thread\n", done);
    gust_cq_free(cq);
    /* The client's idle connections are the loop's to serve no longer:
     * freeing the client closes them. */
    gust_client_free(client);
    close(listen_fd);
    close(epoll_fd);
    return 0;
}
