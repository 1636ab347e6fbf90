/* A C program built against an installed gust (pkg-config gust): fib(N) by
 * fork-join task groups on a pool, whose inline fast paths call into the
 * library from this file, then an HTTP GET whose body must match.
 *
 *     consumer URL EXPECTED_BODY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/pool.h"
#include "gust/version.h"

typedef struct {
    int n;
    long result;
} fib_t;

static void fib(void *arg)
{
    fib_t *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return;
    }
    fib_t left = {f->n - 1, 0};
    fib_t right = {f->n - 2, 0};
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    gust_group_spawn(&group, fib, &left);
    fib(&right);
    gust_group_wait(&group);
    f->result = left.result + right.result;
}

static int check_pool(void)
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    gust_pool_t *pool = gust_pool_new(&opts);
    if (pool == NULL) {
        perror("gust_pool_new");
        return 1;
    }
    fib_t root = {20, 0};
    gust_group_t group;
    gust_group_init(&group, pool);
    int ok = gust_group_spawn(&group, fib, &root);
    gust_group_wait(&group);
    gust_pool_free(pool);
    if (!ok || root.result != 6765) {
        fprintf(stderr, "fib(20) = %ld, expected 6765\n", root.result);
        return 1;
    }
    return 0;
}

static int check_get(const char *url, const char *expected)
{
    gust_client_t *client = gust_client_new(NULL, NULL);
    if (client == NULL) {
        perror("gust_client_new");
        return 1;
    }
    gust_response_t *resp = NULL;
    char *message = NULL;
    int err = gust_http_get(client, url, &resp, &message);
    int status = 1;
    if (err != 0) {
        fprintf(stderr, "GET %s: %s: %s\n", url, gust_err_name(err), message);
    } else {
        size_t len = 0;
        const char *body = gust_response_body(resp, &len);
        if (gust_response_status(resp) == 200 && len == strlen(expected) &&
            memcmp(body, expected, len) == 0)
            status = 0;
        else
            fprintf(stderr, "GET %s: status %d, %zu bytes: not the expected body\n", url,
                    gust_response_status(resp), len);
    }
    free(message);
    gust_response_free(resp);
    gust_client_free(client);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: consumer URL EXPECTED_BODY\n");
        return 2;
    }
    if (check_pool() != 0 || check_get(argv[1], argv[2]) != 0)
        return 1;
    printf("consumer (C): gust %s: fib(20) on a pool, GET %s\n", gust_version_string(), argv[1]);
    return 0;
}
