/* What /random?seed=S does: a behaviour picked from the seed alone, so the
 * server and the client that sent the request agree on it. */
#include "tests/support/http_server.h"
#include "tests/support/rng.h"

test_server_fault_t test_server_random_fault(uint64_t seed)
{
    /* Spread nearby seeds apart; xorshift needs a state other than 0. */
    uint64_t state = (seed + 1) * UINT64_C(0x9E3779B97F4A7C15) | 1;
    unsigned pick = (unsigned)(rng_next(&state) % 100);
    uint64_t r = rng_next(&state);
    test_server_fault_t f = {.kind = TEST_FAULT_NONE, .body_len = r % 4096};
    if (pick < 80)
        return f;
    if (pick < 85) {
        f.kind = TEST_FAULT_DELAY;
        f.ms = 1 + (long)(r % 10);
    } else if (pick < 89) {
        f.kind = TEST_FAULT_SLOW_BODY;
        f.body_len = 1 + r % 4;
        f.ms = 1 + (long)(r % 3);
    } else if (pick < 93) {
        f.kind = TEST_FAULT_RESET;
    } else if (pick < 97) {
        f.kind = TEST_FAULT_CLOSE_MID_BODY;
        f.body_len = 2 + r % 4096; /* at least one byte short */
    } else {
        f.kind = TEST_FAULT_MALFORMED_HEADER;
        f.variant = (unsigned)(r % 3);
    }
    return f;
}
