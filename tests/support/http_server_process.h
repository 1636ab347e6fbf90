/* The test server in a process of its own, for tests that count what the
 * client's process holds (file descriptors, memory, allocations) and must not
 * count the server's threads, sockets and buffers with it. */
#ifndef GUST_TESTS_SUPPORT_HTTP_SERVER_PROCESS_H
#define GUST_TESTS_SUPPORT_HTTP_SERVER_PROCESS_H

#include "tests/support/http_server.h"

typedef struct test_server_process_s test_server_process_t;

/* What the server has counted so far (see the functions of the same names
 * in http_server.h). */
typedef struct test_server_counts_s {
    unsigned long connections_accepted;
    unsigned long requests_served;
    unsigned long bytes_sent;
} test_server_counts_t;

/* test_server_process_start forks a process that runs test_server_start(opts)
 * and serves until test_server_process_stop. Call it before the caller starts
 * threads of its own (a fork copies only the calling thread). Aborts the test
 * if it cannot. */
test_server_process_t *test_server_process_start(const test_server_opts_t *opts);

/* test_server_process_origin: as test_server_origin (URLs are the origin
 * followed by a path); owned by p. */
const char *test_server_process_origin(const test_server_process_t *p);

/* test_server_process_counts asks the server process for its counts. */
test_server_counts_t test_server_process_counts(test_server_process_t *p);

/* test_server_process_stop stops the server, waits for its process and
 * frees p; aborts the test if the process did not exit cleanly. NULL does
 * nothing. */
void test_server_process_stop(test_server_process_t *p);

#endif
