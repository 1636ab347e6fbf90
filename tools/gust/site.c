/* The demo's local site: the project's test server (tests/support) on
 * 127.0.0.1 over HTTP, and over HTTPS with a certificate from a CA made for
 * the run; and a port where a socket is bound but never listens, so that
 * connecting to it is refused at once, with no race against another program
 * taking the port. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/http_server.h"
#include "tests/support/tls_certs.h"
#include "tools/gust/internal.h"

static int bind_dead_port(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    *out_port = ntohs(sin.sin_port);
    return fd;
}

bool site_start(site_t *site, bool tls)
{
    *site = (site_t){.dead_fd = -1};
    uint16_t port;
    site->dead_fd = bind_dead_port(&port);
    if (site->dead_fd < 0) {
        fprintf(stderr, "gust demo: cannot bind a port on 127.0.0.1: %s\n", strerror(errno));
        return false;
    }
    snprintf(site->dead_origin, sizeof(site->dead_origin), "http://127.0.0.1:%u", port);
    site->http = test_server_start(NULL); /* aborts, saying why, if it cannot */
    if (tls) {
        site->certs = tls_certs_make(NULL);
        if (site->certs == NULL) {
            fprintf(stderr, "gust demo: cannot make test certificates; HTTPS left out\n");
            return true;
        }
        test_server_opts_t o = test_server_opts_default();
        o.cert_file = site->certs->leaf[TLS_CERT_GOOD].cert_file;
        o.key_file = site->certs->leaf[TLS_CERT_GOOD].key_file;
        site->https = test_server_start(&o);
        site->ca_file = site->certs->ca_file;
    }
    return true;
}

const char *site_origin(const site_t *site, bool tls)
{
    return test_server_origin(tls && site->https != NULL ? site->https : site->http);
}

void site_stop(site_t *site)
{
    test_server_stop(site->https);
    test_server_stop(site->http);
    tls_certs_free(site->certs);
    if (site->dead_fd >= 0)
        close(site->dead_fd);
    *site = (site_t){.dead_fd = -1};
}
