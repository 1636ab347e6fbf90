// The C++ twin of consumer.c: the same pool and HTTP checks, compiled as
// C++17 against the installed headers.
//
//     consumer_cxx URL EXPECTED_BODY
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gust/client.h"
#include "gust/err.h"
#include "gust/pool.h"
#include "gust/version.h"

namespace
{

struct Fib {
    int n;
    long result;
};

void fib(void *arg)
{
    Fib *f = static_cast<Fib *>(arg);
    if (f->n < 2) {
        f->result = f->n;
        return;
    }
    Fib left{f->n - 1, 0};
    Fib right{f->n - 2, 0};
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    gust_group_spawn(&group, fib, &left);
    fib(&right);
    gust_group_wait(&group);
    f->result = left.result + right.result;
}

bool check_pool()
{
    gust_pool_opts_t opts = gust_pool_opts_default();
    opts.num_threads = 2;
    gust_pool_t *pool = gust_pool_new(&opts);
    if (pool == nullptr) {
        std::perror("gust_pool_new");
        return false;
    }
    Fib root{20, 0};
    gust_group_t group;
    gust_group_init(&group, pool);
    bool ok = gust_group_spawn(&group, fib, &root);
    gust_group_wait(&group);
    gust_pool_free(pool);
    if (!ok || root.result != 6765) {
        std::fprintf(stderr, "fib(20) = %ld, expected 6765\n", root.result);
        return false;
    }
    return true;
}

bool check_get(const char *url, const std::string &expected)
{
    gust_client_t *client = gust_client_new(nullptr, nullptr);
    if (client == nullptr) {
        std::perror("gust_client_new");
        return false;
    }
    gust_response_t *resp = nullptr;
    char *message = nullptr;
    int err = gust_http_get(client, url, &resp, &message);
    bool ok = false;
    if (err != 0) {
        std::fprintf(stderr, "GET %s: %s: %s\n", url, gust_err_name(err), message);
    } else {
        size_t len = 0;
        const char *body = static_cast<const char *>(gust_response_body(resp, &len));
        ok = gust_response_status(resp) == 200 && std::string(body, len) == expected;
        if (!ok)
            std::fprintf(stderr, "GET %s: status %d, %zu bytes: not the expected body\n", url,
                         gust_response_status(resp), len);
    }
    std::free(message);
    gust_response_free(resp);
    gust_client_free(client);
    return ok;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: consumer_cxx URL EXPECTED_BODY\n");
        return 2;
    }
    if (!check_pool() || !check_get(argv[1], argv[2]))
        return 1;
    std::printf("consumer (C++): gust %s: fib(20) on a pool, GET %s\n", gust_version_string(),
                argv[1]);
    return 0;
}
