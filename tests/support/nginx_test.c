/* The nginx fixture: it serves its generated files over keep-alive with a
 * plain blocking socket, takes extra configuration and added files, and
 * leaves neither process nor directory behind. Skips (passes, with a
 * message) where nginx is not installed. */
#include "tests/support/nginx.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/support/check.h"

/* A response read off a keep-alive connection; bytes past it stay in the
 * connection's buffer for the next one. */
typedef struct response_s {
    int status;
    long content_length; /* -1 when absent */
    bool close;          /* Connection: close */
    char *body;
} response_t;

typedef struct conn_s {
    int fd;
    char buf[1 << 17];
    size_t len;
} conn_t;

static void conn_open(conn_t *c, uint16_t port)
{
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(c->fd, 0);
    /* A server that stops answering fails the test instead of hanging it. */
    struct timeval tv = {.tv_sec = 5};
    ASSERT_EQ(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    ASSERT_EQ(connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
}

static void conn_close(conn_t *c)
{
    ASSERT_EQ(close(c->fd), 0);
}

/* Reads more bytes into the buffer; false at EOF. */
static bool conn_fill(conn_t *c)
{
    ASSERT_ULT(c->len, sizeof(c->buf));
    ssize_t n;
    do
        n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        CHECK_FAIL_("read: %s", strerror(errno));
    c->len += (size_t)n;
    return n > 0;
}

static void conn_get(conn_t *c, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    ASSERT_GT(n, 0);
    ASSERT_EQ(write(c->fd, req, (size_t)n), n);
}

/* Reads one response with a Content-Length body (all nginx sends for static
 * files and `return`). */
static response_t conn_read(conn_t *c)
{
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        ASSERT_TRUE(conn_fill(c));
    size_t head_len = (size_t)(end - c->buf) + 4;
    char *head = strndup(c->buf, head_len);
    ASSERT_NOT_NULL(head);

    response_t r = {.content_length = -1};
    ASSERT_EQ(sscanf(head, "HTTP/1.1 %d ", &r.status), 1);
    for (char *line = strstr(head, "\r\n") + 2; *line != '\r'; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            r.content_length = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Connection:", 11) == 0)
            r.close = strncasecmp(line + 11 + strspn(line + 11, " "), "close", 5) == 0;
    }
    free(head);
    ASSERT_GE(r.content_length, 0);

    size_t body_len = (size_t)r.content_length;
    while (c->len < head_len + body_len)
        ASSERT_TRUE(conn_fill(c));
    r.body = malloc(body_len + 1);
    ASSERT_NOT_NULL(r.body);
    memcpy(r.body, c->buf + head_len, body_len);
    r.body[body_len] = '\0';
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    return r;
}

/* Checks a 200 with the generated pattern of `len` bytes, and frees it. */
static void check_pattern(response_t r, size_t len)
{
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.content_length, (long)len);
    ASSERT_FALSE(r.close);
    char *want = malloc(len);
    ASSERT_NOT_NULL(want);
    nginx_pattern(want, len);
    ASSERT_EQ(memcmp(r.body, want, len), 0);
    free(want);
    free(r.body);
}

static void get_pattern(conn_t *c, const char *path, size_t len)
{
    conn_get(c, path);
    check_pattern(conn_read(c), len);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Stops `server` and checks that its process group and directory are
 * gone. */
static void stop_and_check(nginx_t *server)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", nginx_dir(server));
    pid_t pid = nginx_pid(server);
    ASSERT_TRUE(exists(dir));
    nginx_stop(server);
    ASSERT_FALSE(exists(dir));
    ASSERT_EQ(kill(-pid, 0), -1);
    ASSERT_EQ(errno, ESRCH);
}

static void test_defaults(void)
{
    nginx_t *server = nginx_start(NULL);
    ASSERT_NOT_NULL(server);
    ASSERT_UGT(nginx_port(server), 0);
    char origin[64];
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%u", nginx_port(server));
    ASSERT_STR_EQ(nginx_origin(server), origin);
    ASSERT_EQ(strncmp(nginx_docroot(server), nginx_dir(server), strlen(nginx_dir(server))), 0);
    const char *tmpdir = getenv("TEST_TMPDIR");
    if (tmpdir != NULL)
        ASSERT_EQ(strncmp(nginx_dir(server), tmpdir, strlen(tmpdir)), 0);

    conn_t *c = malloc(sizeof(*c));
    ASSERT_NOT_NULL(c);
    conn_open(c, nginx_port(server));
    get_pattern(c, "/1k.bin", 1024);
    /* The same socket again: keep-alive, and a body over many reads. */
    get_pattern(c, "/64k.bin", 65536);
    conn_get(c, "/index.html");
    response_t r = conn_read(c);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, NGINX_INDEX_HTML);
    free(r.body);
    /* Two requests before reading: answered in order on the same socket. */
    conn_get(c, "/64k.bin");
    conn_get(c, "/1k.bin");
    check_pattern(conn_read(c), 65536);
    check_pattern(conn_read(c), 1024);
    conn_get(c, "/missing");
    r = conn_read(c);
    ASSERT_EQ(r.status, 404);
    free(r.body);

    /* Files added while it runs, in new folders. */
    ASSERT_EQ(nginx_add_file(server, "/a/b/c.txt", "added\n", 6), 0);
    conn_get(c, "/a/b/c.txt");
    r = conn_read(c);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "added\n");
    free(r.body);
    ASSERT_EQ(nginx_add_file(server, "a/../x", "x", 1), -1);
    ASSERT_EQ(errno, EINVAL);
    ASSERT_EQ(nginx_add_file(server, "/", "x", 1), -1);
    ASSERT_EQ(errno, EINVAL);

    conn_close(c);
    free(c);
    stop_and_check(server);
}

static void test_options(void)
{
    nginx_opts_t o = nginx_opts_default();
    o.worker_processes = 2;
    o.extra_http_conf = "server_tokens off;";
    o.extra_server_conf = "location = /hello { return 200 \"hello\\n\"; }";
    nginx_t *server = nginx_start(&o);
    ASSERT_NOT_NULL(server);
    /* A second server beside the first one of this test, on its own port. */
    nginx_t *other = nginx_start(NULL);
    ASSERT_NOT_NULL(other);
    ASSERT_UNE(nginx_port(server), nginx_port(other));

    conn_t *c = malloc(sizeof(*c));
    ASSERT_NOT_NULL(c);
    conn_open(c, nginx_port(server));
    for (int i = 0; i < 3; i++) {
        conn_get(c, "/hello");
        response_t r = conn_read(c);
        ASSERT_EQ(r.status, 200);
        ASSERT_STR_EQ(r.body, "hello\n");
        free(r.body);
    }
    conn_close(c);
    conn_open(c, nginx_port(other));
    get_pattern(c, "/1k.bin", 1024);
    conn_close(c);
    free(c);
    stop_and_check(other);
    stop_and_check(server);
}

static void test_bad_config(void)
{
    nginx_opts_t o = nginx_opts_default();
    o.extra_server_conf = "no_such_directive on;";
    fprintf(stderr, "(a failed start follows, with its log)\n");
    errno = 0;
    ASSERT_NULL(nginx_start(&o));
    ASSERT_EQ(errno, EIO);
}

/* Under Bazel every server's directory is in $TEST_TMPDIR: none is left,
 * not even from a failed start. */
static void test_no_directory_left(void)
{
    const char *tmpdir = getenv("TEST_TMPDIR");
    if (tmpdir == NULL)
        return;
    DIR *d = opendir(tmpdir);
    ASSERT_NOT_NULL(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "nginx.", 6) == 0)
            CHECK_FAIL_("%s/%s was left behind", tmpdir, e->d_name);
    }
    closedir(d);
}

int main(void)
{
    nginx_t *probe = nginx_start(NULL);
    if (probe == NULL && errno == ENOENT) {
        printf("nginx is not installed: skipped\n");
        return 0;
    }
    ASSERT_NOT_NULL(probe);
    nginx_stop(probe);

    test_defaults();
    test_options();
    test_bad_config();
    test_no_directory_left();
    printf("nginx fixture: ok\n");
    return 0;
}
