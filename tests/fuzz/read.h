/* Reading one response from bytes the way a connection does (http/conn.c):
 * pieces fed to the reader in order, the connection's end after the last
 * one, and everything the reader made of it kept in one comparable result.
 * The response fuzz targets and the byte-boundary test share it. */
#ifndef GUST_TESTS_FUZZ_READ_H
#define GUST_TESTS_FUZZ_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/internal.h"

typedef struct read_result_s {
    int err;         /* 0: a complete response */
    char why[128];   /* the error in words, when err != 0 */
    size_t used;     /* input bytes the response took, when complete */
    bool keep_alive; /* when complete */
    int status;
    int http_minor;
    size_t num_headers;
    char *head; /* the reason, then "name: value" lines, NUL-joined */
    size_t head_len;
    char *body; /* decoded, or as streamed to on_body */
    size_t body_len;
} read_result_t;

/* A response seed's flags byte (response_fuzz, split_test): what the
 * request was and the caps the reader enforces. */
enum {
    READ_HEAD = 1,       /* the answer to a HEAD request */
    READ_DECOMPRESS = 2, /* gzip and deflate bodies decoded */
    READ_SMALL_CAPS = 4, /* 256 bytes of head, 4 headers, 512 body bytes, 1024 decoded */
    READ_STREAM = 8,     /* the body streamed to a callback (when split) */
};
reader_opts_t read_options(uint8_t flags);

/* Feeds data[0, len) to a fresh reader in pieces that end at cuts[0] <
 * cuts[1] < ... (each at most len), then the rest; empty pieces are
 * skipped, as a socket never gives one. After the last byte, unless the
 * response is complete or failed, the connection ends (gust__reader_end).
 * `stream` sends the body to on_body instead of the response. */
void read_response(const reader_opts_t *opts, bool stream, const void *data, size_t len,
                   const size_t *cuts, size_t num_cuts, read_result_t *out);

/* Whether bytes read in pieces gave what they gave read whole: the same
 * response byte for byte, or the same error. */
bool read_split_agrees(const read_result_t *whole, const read_result_t *split);

/* Fails the check, printing both results, unless read_split_agrees.
 * `what` says how the bytes were split. */
void check_split(const read_result_t *whole, const read_result_t *split, const char *what);

void read_result_clear(read_result_t *r);

#endif
