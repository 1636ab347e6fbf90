/* Timers: a binary min-heap of deadlines per worker. Start and stop are
 * O(log n); the earliest deadline sets the reactor's epoll timeout. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/internal.h"

enum { NOT_STARTED = UINT32_MAX };

uint64_t gust_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void gust_timer_init(gust_timer_t *timer)
{
    timer->heap_index = NOT_STARTED;
    timer->reactor = NULL;
}

bool gust_timer_active(const gust_timer_t *timer)
{
    return timer->heap_index != NOT_STARTED;
}

static void place(gust_timer_t **heap, uint32_t index, gust_timer_t *timer)
{
    heap[index] = timer;
    timer->heap_index = index;
}

static void sift_up(gust_timer_t **heap, uint32_t index)
{
    gust_timer_t *timer = heap[index];
    while (index > 0) {
        uint32_t parent = (index - 1) / 2;
        if (heap[parent]->deadline_ns <= timer->deadline_ns)
            break;
        place(heap, index, heap[parent]);
        index = parent;
    }
    place(heap, index, timer);
}

static void sift_down(gust_timer_t **heap, uint32_t len, uint32_t index)
{
    gust_timer_t *timer = heap[index];
    for (;;) {
        uint32_t child = 2 * index + 1;
        if (child >= len)
            break;
        if (child + 1 < len && heap[child + 1]->deadline_ns < heap[child]->deadline_ns)
            child++;
        if (timer->deadline_ns <= heap[child]->deadline_ns)
            break;
        place(heap, index, heap[child]);
        index = child;
    }
    place(heap, index, timer);
}

static void remove_at(gust__reactor_t *reactor, uint32_t index)
{
    gust_timer_t **heap = reactor->heap;
    heap[index]->heap_index = NOT_STARTED;
    uint32_t last = --reactor->heap_len;
    if (index == last)
        return;
    /* The last timer fills the hole and moves down or up to its place. */
    gust_timer_t *moved = heap[last];
    place(heap, index, moved);
    sift_down(heap, reactor->heap_len, index);
    sift_up(heap, moved->heap_index);
}

int gust_timer_start(gust_timer_t *timer, uint64_t timeout_ns, gust_timer_cb cb, void *data)
{
    return gust_timer_start_at(timer, gust_deadline_after(gust_now_ns(), timeout_ns), cb, data);
}

int gust_timer_start_at(gust_timer_t *timer, uint64_t deadline_ns, gust_timer_cb cb, void *data)
{
    gust__reactor_t *reactor = gust__current_reactor;
    if (reactor == NULL)
        return -EINVAL;
    gust_timer_stop(timer);
    if (reactor->heap_len == reactor->heap_cap) {
        uint32_t cap = reactor->heap_cap ? reactor->heap_cap * 2 : 64;
        gust_timer_t **heap = realloc(reactor->heap, cap * sizeof(*heap));
        if (heap == NULL)
            return -ENOMEM;
        reactor->heap = heap;
        reactor->heap_cap = cap;
    }
    timer->deadline_ns = deadline_ns;
    timer->cb = cb;
    timer->data = data;
    timer->reactor = reactor;
    place(reactor->heap, reactor->heap_len, timer);
    sift_up(reactor->heap, reactor->heap_len++);
    return 0;
}

void gust_timer_stop(gust_timer_t *timer)
{
    if (timer->heap_index == NOT_STARTED)
        return;
    remove_at(timer->reactor, timer->heap_index);
}

uint64_t gust__timers_next(const gust__reactor_t *reactor)
{
    return reactor->heap_len > 0 ? reactor->heap[0]->deadline_ns : UINT64_MAX;
}

bool gust__timers_fire(gust__reactor_t *reactor, uint64_t now)
{
    bool fired = false;
    /* A callback may start or stop timers; the heap is re-read each turn. */
    while (reactor->heap_len > 0 && reactor->heap[0]->deadline_ns <= now) {
        gust_timer_t *timer = reactor->heap[0];
        remove_at(reactor, 0);
        timer->cb(timer);
        fired = true;
    }
    return fired;
}
