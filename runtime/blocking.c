/* The blocking-call threads: a few plain threads, a mutex and a condition
 * variable around a FIFO of calls. Calls are rare and slow (name lookups,
 * files), so a lock costs nothing that matters here, and the workers only
 * ever enqueue: a saturated set of blocking threads never stalls them. */
#include <errno.h>
#include <stdlib.h>

#include "runtime/internal.h"

typedef struct call_s {
    struct call_s *next;
    gust_blocking_fn fn;
    void *arg;
    void (*destroy)(void *value);
    gust_future_t *future; /* a reference held until completed */
} call_t;

struct gust__blocking_s {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    call_t *head; /* oldest first */
    call_t *tail;
    bool stopping;
    unsigned num_threads;
    pthread_t threads[];
};

static void *blocking_main(void *arg)
{
    gust__blocking_t *blocking = arg;
    pthread_mutex_lock(&blocking->lock);
    for (;;) {
        while (blocking->head == NULL && !blocking->stopping)
            pthread_cond_wait(&blocking->ready, &blocking->lock);
        call_t *call = blocking->head;
        if (call == NULL)
            break; /* stopping, and nothing queued */
        blocking->head = call->next;
        if (blocking->head == NULL)
            blocking->tail = NULL;
        pthread_mutex_unlock(&blocking->lock);

        void *value = call->fn(call->arg);
        if (!gust_future_set_value(call->future, value, call->destroy) && call->destroy != NULL)
            call->destroy(value); /* cancelled meanwhile: nobody owns it */
        gust_future_free(call->future);
        free(call);

        pthread_mutex_lock(&blocking->lock);
    }
    pthread_mutex_unlock(&blocking->lock);
    return NULL;
}

gust__blocking_t *gust__blocking_new(unsigned num_threads)
{
    gust__blocking_t *blocking = calloc(1, sizeof(*blocking) + num_threads * sizeof(pthread_t));
    if (blocking == NULL)
        return NULL;
    pthread_mutex_init(&blocking->lock, NULL);
    pthread_cond_init(&blocking->ready, NULL);
    for (; blocking->num_threads < num_threads; blocking->num_threads++) {
        int rc = pthread_create(&blocking->threads[blocking->num_threads], NULL, blocking_main,
                                blocking);
        if (rc != 0) {
            gust__blocking_free(blocking);
            errno = rc;
            return NULL;
        }
    }
    return blocking;
}

void gust__blocking_free(gust__blocking_t *blocking)
{
    if (blocking == NULL)
        return;
    pthread_mutex_lock(&blocking->lock);
    blocking->stopping = true;
    pthread_cond_broadcast(&blocking->ready);
    pthread_mutex_unlock(&blocking->lock);
    /* The threads finish every queued call before they exit: each future
     * completes exactly once, with its real result. */
    for (unsigned i = 0; i < blocking->num_threads; i++)
        pthread_join(blocking->threads[i], NULL);
    pthread_cond_destroy(&blocking->ready);
    pthread_mutex_destroy(&blocking->lock);
    free(blocking);
}

gust_future_t *gust_runtime_block(gust_runtime_t *runtime, gust_blocking_fn fn, void *arg,
                                  void (*destroy)(void *value))
{
    gust_future_t *future = gust_future_new(runtime->pool);
    call_t *call = malloc(sizeof(*call));
    if (future == NULL || call == NULL) {
        gust_future_free(future);
        free(call);
        return NULL;
    }
    *call = (call_t){NULL, fn, arg, destroy, gust_future_up_ref(future)};
    gust__blocking_t *blocking = runtime->blocking;
    pthread_mutex_lock(&blocking->lock);
    if (blocking->tail != NULL)
        blocking->tail->next = call;
    else
        blocking->head = call;
    blocking->tail = call;
    pthread_cond_signal(&blocking->ready);
    pthread_mutex_unlock(&blocking->lock);
    return future;
}
