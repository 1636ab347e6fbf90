/* Taking a fuzz target's parameters off the front of its input: each take
 * returns 0 once the input runs out, so every byte string is a valid input. */
#ifndef GUST_TESTS_FUZZ_INPUT_H
#define GUST_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_input_s {
    const uint8_t *data;
    size_t len;
} fuzz_input_t;

static inline uint8_t take_byte(fuzz_input_t *in)
{
    if (in->len == 0)
        return 0;
    in->len--;
    return *in->data++;
}

static inline uint16_t take_u16(fuzz_input_t *in)
{
    uint16_t high = take_byte(in);
    return (uint16_t)(high << 8 | take_byte(in));
}

#endif
