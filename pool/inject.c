/* The injection queue; pool/inject.h explains the design. */
#include "pool/inject.h"

#include <stdlib.h>

void gust__inject_init(gust__inject_t *queue)
{
    atomic_init(&queue->stub.next, NULL);
    atomic_init(&queue->tail, &queue->stub);
    atomic_flag_clear(&queue->consumer_lock);
    atomic_init(&queue->head, &queue->stub);
}

/* Links `node` at the tail. seq_cst exchange: it is the store half of the
 * parking handshake (a worker that registered as sleeping and then sees the
 * old tail will be woken by the caller, which fences and checks sleepers). */
static void link_node(gust__inject_t *queue, gust__inject_node_t *node)
{
    atomic_store_explicit(&node->next, NULL, memory_order_relaxed);
    gust__inject_node_t *prev = atomic_exchange_explicit(&queue->tail, node, memory_order_seq_cst);
    /* Release: the consumer's acquire load of prev->next sees node's task. */
    atomic_store_explicit(&prev->next, node, memory_order_release);
}

bool gust__inject_push(gust__inject_t *queue, const gust__task_t *task)
{
    gust__inject_node_t *node = malloc(sizeof(*node));
    if (node == NULL)
        return false;
    node->task = *task;
    link_node(queue, node);
    return true;
}

/* Consumer's end, under the lock: relaxed, the lock orders it. */
static gust__inject_node_t *get_head(gust__inject_t *queue)
{
    return atomic_load_explicit(&queue->head, memory_order_relaxed);
}

static void set_head(gust__inject_t *queue, gust__inject_node_t *node)
{
    atomic_store_explicit(&queue->head, node, memory_order_relaxed);
}

/* Takes one node while holding the consumer lock, or NULL (see pop). */
static gust__inject_node_t *take_node(gust__inject_t *queue)
{
    gust__inject_node_t *head = get_head(queue);
    /* Acquire: pairs with link_node's release store of next. */
    gust__inject_node_t *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &queue->stub) {
        if (next == NULL)
            return NULL;
        set_head(queue, next);
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next != NULL) {
        set_head(queue, next);
        return head;
    }
    /* head is the last linked node. If a producer swapped tail but has not
     * linked yet, wait for it by returning nothing now. */
    if (atomic_load_explicit(&queue->tail, memory_order_acquire) != head)
        return NULL;
    /* Put the stub behind head so head can be taken. */
    link_node(queue, &queue->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next == NULL)
        return NULL;
    set_head(queue, next);
    return head;
}

size_t gust__inject_pop(gust__inject_t *queue, gust__task_t *out, size_t max)
{
    /* Peek first: idle workers poll often, and the lock's read-modify-write
     * would bounce its line between them for nothing. */
    if (gust__inject_looks_empty(queue))
        return 0;
    /* Acquire/release: the lock hands queue->head from consumer to consumer. */
    if (atomic_flag_test_and_set_explicit(&queue->consumer_lock, memory_order_acquire))
        return 0;
    size_t count = 0;
    while (count < max) {
        gust__inject_node_t *node = take_node(queue);
        if (node == NULL)
            break;
        out[count++] = node->task;
        free(node);
    }
    atomic_flag_clear_explicit(&queue->consumer_lock, memory_order_release);
    return count;
}

bool gust__inject_looks_empty(gust__inject_t *queue)
{
    return atomic_load_explicit(&queue->head, memory_order_seq_cst) == &queue->stub &&
           atomic_load_explicit(&queue->tail, memory_order_seq_cst) == &queue->stub;
}

size_t gust__inject_drain(gust__inject_t *queue)
{
    size_t count = 0;
    gust__task_t task;
    while (gust__inject_pop(queue, &task, 1) == 1)
        count++;
    return count;
}
