/* serve: the project's test server for shell tests of the gust command.
 *
 *     serve [--tls]
 *
 * Starts the test server (tests/support/http_server.h) on 127.0.0.1, and with
 * --tls a second one over HTTPS with certificates from tls_certs, and binds a
 * port that refuses connections; prints one "NAME VALUE" line for each, then
 * "ready", and serves until its stdin reaches its end (the test closes it, or
 * dies), or for at most 300 s:
 *
 *     http http://127.0.0.1:40123
 *     https https://127.0.0.1:40124
 *     ca /tmp/.../ca.pem
 *     dead http://127.0.0.1:40125
 *     ready */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/check.h"
#include "tests/support/http_server.h"
#include "tests/support/tls_certs.h"

enum { MAX_LIFE_MS = 300 * 1000 };

int main(int argc, char **argv)
{
    bool tls = argc > 1 && strcmp(argv[1], "--tls") == 0;
    if (argc > 2 || (argc == 2 && !tls)) {
        fprintf(stderr, "usage: serve [--tls]\n");
        return 2;
    }
    test_server_t *http = test_server_start(NULL);
    printf("http %s\n", test_server_origin(http));

    tls_certs_t *certs = NULL;
    test_server_t *https = NULL;
    if (tls) {
        certs = tls_certs_make(NULL);
        ASSERT_NOT_NULL(certs);
        test_server_opts_t o = test_server_opts_default();
        o.cert_file = certs->leaf[TLS_CERT_GOOD].cert_file;
        o.key_file = certs->leaf[TLS_CERT_GOOD].key_file;
        https = test_server_start(&o);
        printf("https %s\nca %s\n", test_server_origin(https), certs->ca_file);
    }

    /* Bound and never listening: a connect gets RST, so "connection refused",
     * and no other program can take the port meanwhile. */
    int dead = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(dead, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ASSERT_EQ(bind(dead, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(getsockname(dead, (struct sockaddr *)&sin, &len), 0);
    printf("dead http://127.0.0.1:%u\nready\n", ntohs(sin.sin_port));
    fflush(stdout);

    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    char buf[256];
    while (poll(&p, 1, MAX_LIFE_MS) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) > 0) {
    }

    close(dead);
    test_server_stop(https);
    test_server_stop(http);
    tls_certs_free(certs);
    return 0;
}
