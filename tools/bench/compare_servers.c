/* tools/bench/compare_servers.c: the delay server of tools/bench/compare.
 *
 *     compare_servers [--ports=N] [--delay-ms=D]
 *
 * Listens on N ephemeral ports of 127.0.0.1 (default 2), prints one line
 * "port P" for each and then "ready", and serves HTTP/1.1 keep-alive GETs
 * until its stdin ends (the script that started it closes the pipe or
 * dies). Every answer is "200 OK":
 *
 *   - GET /now/N answers at once with an N-byte body (N <= 65536). The
 *     answers to the requests of one read go out in one write, as a server
 *     built for pipelining does (nginx writes each answer on its own), so
 *     that a pipelining client's gain is its own and not capped by the
 *     server;
 *   - GET /hold/N answers, with a 2-byte body, once N such requests wait at
 *     the same time (or after HOLD_TIMEOUT_S), so a client that sends N of
 *     them must hold N connections open at once;
 *   - any other GET answers, with a 2-byte body, D ms after its request came
 *     (default 50).
 *
 * One thread, one epoll set. The delay is the same for every request, so
 * the waiting answers are due in the order they came: a FIFO ring with one
 * timerfd set to its head is the whole timer. Pipelined requests on one
 * connection are answered in order for the same reason; a /now request
 * behind waiting ones joins the ring, due at once, and so waits its turn.
 * A connection is known by its fd and a generation number, so an answer due
 * on a connection closed meanwhile (whose fd was reused) is dropped. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_PORTS = 8,
    MAX_FDS = 1 << 17,
    HEAD_MAX = 8192,
    HOLD_TIMEOUT_S = 60,
    NOW_BODY_MAX = 65536,
    OK_BODY = -1 /* a due answer's body: "ok" */
};

static char filler[NOW_BODY_MAX]; /* the bodies of /now answers */

/* Tags in epoll_event.data.u64 above the fds. */
enum { TAG_LISTEN = 1u << 20, TAG_TIMER = 2u << 20, TAG_STDIN = 3u << 20 };

typedef struct conn_s {
    uint32_t gen;     /* 0: no connection on this fd */
    uint32_t waiting; /* its answers in the rings */
    bool want_out;    /* EPOLLOUT is in its epoll interest */
    size_t in_len;
    char in[HEAD_MAX];
    char *out; /* answers not yet written */
    size_t out_len, out_cap;
} conn_t;

typedef struct due_s {
    int fd;
    uint32_t gen;
    int32_t body_len; /* OK_BODY, or the length of a /now body */
    uint64_t at_ns;
} due_t;

/* A FIFO ring of due answers; grows by doubling. */
typedef struct ring_s {
    due_t *items;
    size_t head, len, cap;
} ring_t;

static conn_t **conns; /* by fd, allocated on first use */
static uint32_t next_gen = 1;
static int epfd, timerfd;
static uint64_t delay_ns = 50 * 1000000ull;
static ring_t delayed, held;
static uint64_t held_since_ns;

static void die(const char *what)
{
    fprintf(stderr, "compare_servers: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void ring_push(ring_t *r, due_t d)
{
    if (r->len == r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 1024;
        due_t *items = malloc(cap * sizeof(*items));
        if (items == NULL)
            die("malloc");
        for (size_t i = 0; i < r->len; i++)
            items[i] = r->items[(r->head + i) % r->cap];
        free(r->items);
        r->items = items;
        r->head = 0;
        r->cap = cap;
    }
    r->items[(r->head + r->len++) % r->cap] = d;
}

static due_t ring_pop(ring_t *r)
{
    due_t d = r->items[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return d;
}

static void arm_timer(void)
{
    struct itimerspec its = {0};
    uint64_t at = 0;
    if (delayed.len > 0)
        at = delayed.items[delayed.head].at_ns;
    if (held.len > 0) {
        uint64_t hold_at = held_since_ns + HOLD_TIMEOUT_S * 1000000000ull;
        if (at == 0 || hold_at < at)
            at = hold_at;
    }
    if (at != 0) {
        /* An answer already due fires at once: any past time does. */
        its.it_value.tv_sec = (time_t)(at / 1000000000ull);
        its.it_value.tv_nsec = (long)(at % 1000000000ull);
    }
    if (timerfd_settime(timerfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime");
}

static void close_conn(int fd)
{
    conn_t *c = conns[fd];
    c->gen = 0;
    c->waiting = 0;
    c->want_out = false; /* closing the fd leaves the epoll set */
    c->in_len = 0;
    c->out_len = 0;
    close(fd);
}

/* Writes what is queued on fd; waits for EPOLLOUT when the socket is full. */
static void flush_conn(int fd)
{
    conn_t *c = conns[fd];
    size_t done = 0;
    while (done < c->out_len) {
        ssize_t n = send(fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            close_conn(fd);
            return;
        }
        done += (size_t)n;
    }
    memmove(c->out, c->out + done, c->out_len - done);
    c->out_len -= done;
    /* Only a change of interest costs a syscall. */
    bool want_out = c->out_len > 0;
    if (want_out != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u64 = fd};
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        c->want_out = want_out;
    }
}

static void append_out(conn_t *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = (c->out_len + len) * 2;
        char *out = realloc(c->out, cap);
        if (out == NULL)
            die("realloc");
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* Queues one answer on c; the caller flushes. */
static void append_answer(conn_t *c, int32_t body_len)
{
    char head[128];
    const char *body = body_len == OK_BODY ? "ok" : filler;
    size_t len = body_len == OK_BODY ? 2 : (size_t)body_len;
    int head_len = snprintf(head, sizeof(head),
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: %s\r\n"
                            "Content-Length: %zu\r\n"
                            "\r\n",
                            body_len == OK_BODY ? "text/plain" : "application/octet-stream", len);
    append_out(c, head, (size_t)head_len);
    append_out(c, body, len);
}

static void send_answer(due_t d)
{
    conn_t *c = conns[d.fd];
    if (c == NULL || c->gen != d.gen)
        return; /* closed meanwhile */
    c->waiting--;
    append_answer(c, d.body_len);
    if (!c->want_out)
        flush_conn(d.fd);
}

static void on_timer(void)
{
    uint64_t expirations;
    if (read(timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        die("read timerfd");
    uint64_t now = now_ns();
    while (delayed.len > 0 && delayed.items[delayed.head].at_ns <= now)
        send_answer(ring_pop(&delayed));
    if (held.len > 0 && now >= held_since_ns + HOLD_TIMEOUT_S * 1000000000ull) {
        while (held.len > 0)
            send_answer(ring_pop(&held));
    }
    arm_timer();
}

/* One request head, ended by CRLF CRLF, is in c->in[0..len). */
static void on_request(int fd, conn_t *c, size_t len)
{
    due_t d = {.fd = fd, .gen = c->gen, .body_len = OK_BODY};
    unsigned long hold = 0;
    char path[64] = "";
    bool now = false;
    if (sscanf(c->in, "%*s %63s", path) == 1 && strncmp(path, "/hold/", 6) == 0)
        hold = strtoul(path + 6, NULL, 10);
    if (strncmp(path, "/now/", 5) == 0) {
        unsigned long body_len = strtoul(path + 5, NULL, 10);
        d.body_len = (int32_t)(body_len < NOW_BODY_MAX ? body_len : NOW_BODY_MAX);
        now = true;
    }
    memmove(c->in, c->in + len, c->in_len - len);
    c->in_len -= len;
    if (now && c->waiting == 0) {
        append_answer(c, d.body_len); /* written once the read is parsed */
        return;
    }
    c->waiting++;
    if (now) {
        d.at_ns = now_ns();
        ring_push(&delayed, d);
    } else if (hold > 0) {
        if (held.len == 0)
            held_since_ns = now_ns();
        ring_push(&held, d);
        if (held.len >= hold) {
            while (held.len > 0)
                send_answer(ring_pop(&held));
        }
    } else {
        d.at_ns = now_ns() + delay_ns;
        ring_push(&delayed, d);
    }
}

static void on_readable(int fd)
{
    conn_t *c = conns[fd];
    for (;;) {
        size_t room = sizeof(c->in) - c->in_len;
        ssize_t n = recv(fd, c->in + c->in_len, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            close_conn(fd);
            return;
        }
        c->in_len += (size_t)n;
        for (;;) {
            char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (end == NULL)
                break;
            end[0] = '\0'; /* ends the request line for sscanf */
            on_request(fd, c, (size_t)(end - c->in) + 4);
        }
        if (c->in_len == sizeof(c->in)) {
            close_conn(fd); /* a head too large: not one of ours */
            return;
        }
        if (c->out_len > 0 && !c->want_out) {
            flush_conn(fd);
            if (c->gen == 0)
                return;
        }
        if ((size_t)n < room)
            break; /* drained; epoll is level-triggered and says when more comes */
    }
    arm_timer();
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "compare_servers: accept: %s\n", strerror(errno));
            return;
        }
        if (fd >= MAX_FDS) {
            close(fd);
            continue;
        }
        if (conns[fd] == NULL && (conns[fd] = calloc(1, sizeof(conn_t))) == NULL)
            die("calloc");
        conns[fd]->gen = next_gen++;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
}

static int listen_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 65535) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        die("bind/listen");
    printf("port %u\n", ntohs(a.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    unsigned long num_ports = 2;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--ports=", 8) == 0) {
            num_ports = strtoul(argv[i] + 8, NULL, 10);
        } else if (strncmp(argv[i], "--delay-ms=", 11) == 0) {
            delay_ns = strtoull(argv[i] + 11, NULL, 10) * 1000000ull;
        } else {
            fprintf(stderr, "usage: compare_servers [--ports=N] [--delay-ms=D]\n");
            return 2;
        }
    }
    if (num_ports < 1 || num_ports > MAX_PORTS) {
        fprintf(stderr, "compare_servers: --ports takes 1 to %d\n", MAX_PORTS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(filler, 'x', sizeof(filler));
    /* As many connections as the hard limit allows. */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    conns = calloc(MAX_FDS, sizeof(*conns));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (conns == NULL || epfd < 0 || timerfd < 0)
        die("setup");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_TIMER};
    epoll_ctl(epfd, EPOLL_CTL_ADD, timerfd, &ev);
    ev.data.u64 = TAG_STDIN;
    epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
    for (unsigned long i = 0; i < num_ports; i++) {
        int lfd = listen_any();
        ev.data.u64 = TAG_LISTEN | (uint64_t)lfd;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) != 0)
            die("epoll_ctl");
    }
    printf("ready\n");
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64 & ~(uint64_t)(TAG_LISTEN - 1);
            int fd = (int)(events[i].data.u64 & (TAG_LISTEN - 1));
            if (tag == TAG_STDIN) {
                char buf[256];
                ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
                if (r <= 0 && !(r < 0 && errno == EINTR))
                    return 0; /* the script is gone */
            } else if (tag == TAG_TIMER) {
                on_timer();
            } else if (tag == TAG_LISTEN) {
                on_accept(fd);
            } else if (conns[fd] != NULL && conns[fd]->gen != 0) {
                if (events[i].events & EPOLLOUT)
                    flush_conn(fd);
                if (conns[fd]->gen != 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    on_readable(fd);
            }
        }
    }
}
