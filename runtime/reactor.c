/* The per-worker reactor: fds on epoll (edge-triggered, see reactor.h), the
 * eventfd that wakes a parked worker, and the idle hooks through which the
 * pool parks its workers in epoll_wait. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pool/internal.h"

#include "runtime/internal.h"

_Thread_local gust__reactor_t *gust__current_reactor __attribute__((tls_model("initial-exec")));

/* Events taken from epoll per call: enough to amortise the syscall, few
 * enough that timers and tasks are not kept waiting behind one batch. */
enum { BATCH_SIZE = 64 };

bool gust__reactor_init(gust__reactor_t *reactor, gust_runtime_t *runtime, unsigned index)
{
    reactor->runtime = runtime;
    reactor->index = index;
    reactor->heap = NULL;
    reactor->heap_len = 0;
    reactor->heap_cap = 0;
    reactor->batch = NULL;
    gust__inject_init(&reactor->mailbox);
    reactor->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    reactor->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (reactor->epoll_fd < 0 || reactor->wake_fd < 0)
        goto fail;
    /* Level-triggered, unlike the fds of users: a wake written before the
     * worker parks must make epoll_wait return until it is read. data.ptr
     * NULL marks it. */
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(reactor->epoll_fd, EPOLL_CTL_ADD, reactor->wake_fd, &event) != 0)
        goto fail;
    return true;

fail:
    gust__reactor_destroy(reactor);
    return false;
}

void gust__reactor_destroy(gust__reactor_t *reactor)
{
    if (reactor->epoll_fd >= 0)
        close(reactor->epoll_fd);
    if (reactor->wake_fd >= 0)
        close(reactor->wake_fd);
    reactor->epoll_fd = reactor->wake_fd = -1;
    gust__inject_drain(&reactor->mailbox);
    free(reactor->heap);
    reactor->heap = NULL;
}

int gust_io_start(gust_io_t *io, int fd, uint32_t events, gust_io_cb cb, void *data)
{
    gust__reactor_t *reactor = gust__current_reactor;
    if (reactor == NULL)
        return -EINVAL;
    struct epoll_event event = {.events = events | EPOLLET, .data.ptr = io};
    /* Only a registration that succeeded touches io: a refused one (say,
     * EEXIST for an io already started) must leave it working as it was. No
     * event can arrive before the fields are set: this worker dispatches. */
    if (epoll_ctl(reactor->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
        return -errno;
    io->fd = fd;
    io->events = event.events;
    io->cb = cb;
    io->data = data;
    io->reactor = reactor;
    return 0;
}

void gust_io_stop(gust_io_t *io)
{
    gust__reactor_t *reactor = io->reactor;
    if (reactor == NULL)
        return;
    epoll_ctl(reactor->epoll_fd, EPOLL_CTL_DEL, io->fd, NULL);
    /* Events of this io may wait later in a batch being dispatched, here or
     * in an outer dispatch; the caller may free io as soon as we return. */
    for (gust__batch_t *batch = reactor->batch; batch != NULL; batch = batch->outer) {
        for (int i = 0; i < batch->len; i++) {
            if (batch->events[i].data.ptr == io)
                batch->events[i].events = 0;
        }
    }
    io->reactor = NULL;
}

static void drain_wake_fd(gust__reactor_t *reactor)
{
    uint64_t count;
    while (read(reactor->wake_fd, &count, sizeof(count)) > 0) {
    }
}

/* Waits up to timeout_ms for events and dispatches them; true if any. */
static bool wait_and_dispatch(gust__reactor_t *reactor, int timeout_ms)
{
    struct epoll_event events[BATCH_SIZE];
    int n = epoll_wait(reactor->epoll_fd, events, BATCH_SIZE, timeout_ms);
    if (n <= 0)
        return false;
    bool user_events = false;
    gust__batch_t batch = {events, n, reactor->batch};
    reactor->batch = &batch;
    for (int i = 0; i < n; i++) {
        gust_io_t *io = events[i].data.ptr;
        if (io == NULL) {
            drain_wake_fd(reactor);
            continue;
        }
        if (events[i].events == 0)
            continue; /* stopped by an earlier callback of this batch */
        user_events = true;
        io->cb(io, events[i].events);
    }
    reactor->batch = batch.outer;
    return user_events;
}

/* Most posted tasks run per call, so a stream of posts cannot starve the
 * rest of the worker's loop. */
enum { MAILBOX_BATCH = 64 };

bool gust__reactor_run_mailbox(gust__reactor_t *reactor)
{
    gust__task_t tasks[MAILBOX_BATCH];
    size_t n = gust__inject_pop(&reactor->mailbox, tasks, MAILBOX_BATCH);
    for (size_t i = 0; i < n; i++)
        tasks[i].fn(tasks[i].arg);
    return n > 0;
}

/* Milliseconds epoll_wait may sleep before the next timer is due, or the
 * park's deadline passes: rounded up, so a timer never fires early. -1 with
 * neither. */
static int timeout_ms(const gust__reactor_t *reactor)
{
    uint64_t next = gust__timers_next(reactor);
    const struct timespec *deadline = gust__park_deadline();
    /* A deadline centuries away (a saturated one) is no deadline. */
    if (deadline != NULL && (uint64_t)deadline->tv_sec < UINT64_MAX / 1000000000u - 1) {
        uint64_t ns = (uint64_t)deadline->tv_sec * 1000000000u + (uint64_t)deadline->tv_nsec;
        if (ns < next)
            next = ns;
    }
    if (next == UINT64_MAX)
        return -1;
    uint64_t now = gust_now_ns();
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static bool handle_outside_events(gust__reactor_t *reactor, int wait_ms)
{
    bool did = wait_and_dispatch(reactor, wait_ms);
    did |= gust__timers_fire(reactor, gust_now_ns());
    did |= gust__reactor_run_mailbox(reactor);
    return did;
}

bool gust__reactor_poll(void *arg, unsigned index)
{
    gust_runtime_t *runtime = arg;
    return handle_outside_events(&runtime->reactors[index], 0);
}

void gust__reactor_park(void *arg, unsigned index)
{
    gust_runtime_t *runtime = arg;
    gust__reactor_t *reactor = &runtime->reactors[index];
    /* Something posted since the pool last polled: run it instead of
     * sleeping (its eventfd write would end the sleep at once anyway). */
    if (gust__reactor_run_mailbox(reactor))
        return;
    handle_outside_events(reactor, timeout_ms(reactor));
}

void gust__reactor_unpark(void *arg, unsigned index)
{
    gust_runtime_t *runtime = arg;
    uint64_t one = 1;
    /* A full counter (never in practice) still leaves the fd readable. */
    ssize_t written = write(runtime->reactors[index].wake_fd, &one, sizeof(one));
    (void)written;
}
