/* The progress bar: one line on stderr, redrawn in place 10 times a second
 * from the run's counters by a thread of its own, so it moves even while no
 * request completes. Only on a terminal: piped or redirected, stderr gets no
 * control codes and nothing before the summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/gust/internal.h"

#define TICK_NS (100 * NS_PER_MS)
#define BAR_WIDTH 24

static void format_duration(char *buf, size_t len, uint64_t secs)
{
    if (secs < 60)
        snprintf(buf, len, "%lus", (unsigned long)secs);
    else if (secs < 3600)
        snprintf(buf, len, "%lu:%02lu", (unsigned long)(secs / 60), (unsigned long)(secs % 60));
    else
        snprintf(buf, len, "%lu:%02lu:%02lu", (unsigned long)(secs / 3600),
                 (unsigned long)(secs / 60 % 60), (unsigned long)(secs % 60));
}

static void bar(char *buf, double fraction)
{
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int full = (int)(fraction * BAR_WIDTH);
    buf[0] = '[';
    for (int i = 0; i < BAR_WIDTH; i++)
        buf[1 + i] = i < full ? '#' : '.';
    buf[BAR_WIDTH + 1] = ']';
    buf[BAR_WIDTH + 2] = '\0';
}

/* Under p->lock. */
static void draw(progress_t *p)
{
    uint64_t now = now_ns();
    unsigned long done = atomic_load_explicit(&p->stats->done, memory_order_relaxed);
    unsigned long errors = atomic_load_explicit(&p->stats->failed, memory_order_relaxed) +
                           atomic_load_explicit(&p->stats->http_errors, memory_order_relaxed);
    unsigned long total = atomic_load_explicit(&p->total, memory_order_relaxed);
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)done / secs : 0;
    char b[BAR_WIDTH + 3], eta[32];
    if (p->end_ns != 0) {
        uint64_t left = now < p->end_ns ? (p->end_ns - now) / NS_PER_S : 0;
        bar(b, secs / ((double)(p->end_ns - p->start_ns) / 1e9));
        format_duration(eta, sizeof(eta), left);
        fprintf(p->out, "\r %lu done %s %.0f req/s, %lu errors, %s left\033[K", done, b, rate,
                errors, eta);
    } else if (total != 0 && done <= total) {
        bar(b, (double)done / (double)total);
        if (rate > 0 && done > 0)
            format_duration(eta, sizeof(eta), (uint64_t)((double)(total - done) / rate + 0.999));
        else
            snprintf(eta, sizeof(eta), "?");
        fprintf(p->out, "\r %lu/%lu %s %3.0f%% %.0f req/s, %lu errors, ETA %s\033[K", done, total,
                b, 100.0 * (double)done / (double)total, rate, errors, eta);
    } else {
        format_duration(eta, sizeof(eta), (uint64_t)secs);
        fprintf(p->out, "\r %lu done, %.0f req/s, %lu errors, %s\033[K", done, rate, errors, eta);
    }
    fflush(p->out);
    p->drawn = true;
}

/* Under p->lock. */
static void erase(progress_t *p)
{
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
        p->drawn = false;
    }
}

static void *run(void *arg)
{
    progress_t *p = arg;
    if (p->count_path != NULL) {
        unsigned long n = urls_count(p->count_path, &p->stop);
        if (n != 0)
            atomic_store_explicit(&p->total, n, memory_order_relaxed);
    }
    pthread_mutex_lock(&p->lock);
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        draw(p);
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += (long)TICK_NS;
        if (at.tv_nsec >= (long)NS_PER_S) {
            at.tv_sec++;
            at.tv_nsec -= (long)NS_PER_S;
        }
        while (!atomic_load_explicit(&p->stop, memory_order_relaxed) &&
               pthread_cond_timedwait(&p->cond, &p->lock, &at) != ETIMEDOUT) {
        }
    }
    erase(p);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void progress_start(progress_t *p, const stats_t *stats, bool enabled, unsigned long total,
                    const char *count_path, uint64_t end_ns)
{
    *p = (progress_t){.stats = stats, .out = stderr, .start_ns = now_ns(), .end_ns = end_ns};
    atomic_init(&p->total, total);
    atomic_init(&p->stop, false);
    if (!enabled || !isatty(STDERR_FILENO))
        return;
    if (count_path != NULL && total == 0 && (p->count_path = strdup(count_path)) == NULL)
        return;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&p->lock, NULL);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->count_path);
        p->count_path = NULL;
        return;
    }
    p->active = true;
}

void progress_stop(progress_t *p)
{
    if (!p->active)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->count_path);
    p->count_path = NULL;
    p->active = false;
}

void progress_lock(progress_t *p)
{
    if (!p->active)
        return;
    pthread_mutex_lock(&p->lock);
    erase(p);
}

void progress_unlock(progress_t *p)
{
    if (p->active)
        pthread_mutex_unlock(&p->lock);
}
