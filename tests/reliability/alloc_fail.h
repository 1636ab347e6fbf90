/* An allocator that fails on request, for allocation-failure torture
 * (curl's method): linked with -Wl,--wrap for each function below, every
 * call to them from code linked statically into the test binary (gust's
 * libraries, the test) comes here. System libraries (libc's own, BoringSSL,
 * zlib) are not wrapped.
 *
 * Once armed, allocations are numbered from 1 across all threads, and the
 * one numbered `fail_at` returns NULL (with errno ENOMEM); every other one
 * succeeds. Allocations and frees are counted while armed, so a test can
 * check that everything allocated was freed. With $ALLOC_FAIL_BACKTRACE set,
 * the failing allocation prints its stack to stderr. */
#ifndef GUST_TESTS_RELIABILITY_ALLOC_FAIL_H
#define GUST_TESTS_RELIABILITY_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* alloc_fail_arm starts numbering (and counting) allocations: the
 * fail_at-th fails; 0 fails none. */
void alloc_fail_arm(unsigned long fail_at);

/* alloc_fail_disarm stops numbering; returns how many allocations were
 * numbered. */
unsigned long alloc_fail_disarm(void);

/* alloc_fail_injected says whether the armed failure has happened. */
bool alloc_fail_injected(void);

/* alloc_fail_live returns allocations minus frees since alloc_fail_arm. */
long alloc_fail_live(void);

#endif
