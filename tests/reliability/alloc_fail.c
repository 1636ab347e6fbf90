/* The wrapped allocation functions (see alloc_fail.h). */
#include "tests/reliability/alloc_fail.h"

#include <errno.h>
#include <execinfo.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t num, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
void __real_free(void *ptr);

/* Relaxed throughout: each counter is read on its own, after the threads
 * that count have been joined (or their work waited for). */
static atomic_bool armed;
static atomic_ulong numbered;
static atomic_ulong fail_at;
static atomic_bool injected;
static atomic_long live;

void alloc_fail_arm(unsigned long n)
{
    atomic_store(&numbered, 0);
    atomic_store(&fail_at, n);
    atomic_store(&injected, false);
    atomic_store(&live, 0);
    atomic_store(&armed, true);
}

unsigned long alloc_fail_disarm(void)
{
    atomic_store(&armed, false);
    return atomic_load(&numbered);
}

bool alloc_fail_injected(void)
{
    return atomic_load(&injected);
}

long alloc_fail_live(void)
{
    return atomic_load(&live);
}

/* Numbers an allocation; true if it is the one to fail. */
static bool should_fail(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    unsigned long n = atomic_fetch_add_explicit(&numbered, 1, memory_order_relaxed) + 1;
    if (n != atomic_load_explicit(&fail_at, memory_order_relaxed))
        return false;
    atomic_store_explicit(&injected, true, memory_order_relaxed);
    if (getenv("ALLOC_FAIL_BACKTRACE") != NULL) {
        /* Where the failure is injected, to find its site from N. */
        void *frames[32];
        fprintf(stderr, "allocation %lu fails here:\n", n);
        backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
    errno = ENOMEM;
    return true;
}

/* Counts a result: one more live allocation unless it is NULL. */
static void *counted(void *p)
{
    if (p != NULL && atomic_load_explicit(&armed, memory_order_relaxed))
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : counted(__real_malloc(size));
}

void *__wrap_calloc(size_t num, size_t size)
{
    return should_fail() ? NULL : counted(__real_calloc(num, size));
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    return should_fail() ? NULL : counted(__real_aligned_alloc(alignment, size));
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_realloc(ptr, size);
    /* A new block counts when there was none; a freed one (size 0) uncounts. */
    if (ptr == NULL)
        return counted(p);
    if (p == NULL && size == 0 && atomic_load_explicit(&armed, memory_order_relaxed))
        atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    return p;
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : counted(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : counted(__real_strndup(s, n));
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
    if (should_fail())
        return -1;
    int n = __real_vasprintf(out, fmt, ap);
    if (n >= 0)
        counted(*out);
    return n;
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = __wrap_vasprintf(out, fmt, ap);
    va_end(ap);
    return n;
}

void __wrap_free(void *ptr)
{
    if (ptr != NULL && atomic_load_explicit(&armed, memory_order_relaxed))
        atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    __real_free(ptr);
}
