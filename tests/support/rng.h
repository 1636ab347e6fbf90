/* A small deterministic random generator for tests (xorshift64*): quick, and
 * good enough to pick operations and gaps; a failing seed reproduces. */
#ifndef GUST_TESTS_SUPPORT_RNG_H
#define GUST_TESTS_SUPPORT_RNG_H

#include <stdint.h>

/* Advances *state (which must not be 0) and returns the next value. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#endif
