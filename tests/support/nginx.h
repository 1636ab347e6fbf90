/* A real nginx for tests and benchmarks: Debian's nginx-light on 127.0.0.1,
 * on a free port, with everything it writes inside one temporary directory.
 *
 *     nginx_t *server = nginx_start(NULL);
 *     if (server == NULL && errno == ENOENT)
 *         return 0; // not installed: skip (a message is on stderr)
 *     ASSERT_NOT_NULL(server);
 *     // GET http://127.0.0.1:<nginx_port(server)>/1k.bin ...
 *     nginx_stop(server);
 *
 * The directory is mkdtemp'd under $TEST_TMPDIR (Bazel's per-test folder) or
 * /tmp, and holds nginx.conf, error.log (nginx's error log and its stdout and
 * stderr), nginx.pid, temp/ (every temp path nginx may use) and www/, the
 * docroot. The docroot starts with three files the fixture writes:
 *
 *     /1k.bin      1,024 bytes of nginx_pattern
 *     /64k.bin     65,536 bytes of nginx_pattern
 *     /index.html  a short HTML page (NGINX_INDEX_HTML)
 *
 * and nginx_add_file adds more, before or while the server runs.
 *
 * nginx runs as a child process in the foreground (`daemon off`), with a
 * master and opts.worker_processes workers, in a process group of its own;
 * nginx_stop ends the whole group and removes the directory. The server is
 * tuned for benchmarks: no access log, 1,000,000 requests per keep-alive
 * connection, a 60 s keep-alive timeout, 20,000 connections per worker.
 *
 * With opts.cert_file and opts.key_file it serves HTTPS instead (nginx-light
 * has the ssl module): `listen 127.0.0.1:PORT ssl`, TLS 1.2 and 1.3, a
 * shared session cache and session tickets, so clients can resume; ALPN
 * selects http/1.1. nginx_origin is then "https://127.0.0.1:PORT".
 *
 * The master gets SIGTERM if the thread that called nginx_start exits first
 * (PR_SET_PDEATHSIG), so a test that crashes leaves no server behind: call
 * nginx_start from a thread that outlives the server, normally main. Works
 * as root (then with `user root;`, so that workers can read a 0700 temporary
 * directory) and as any other user. Not thread-safe for one server; separate
 * servers may be started and stopped from separate threads. */
#ifndef GUST_TESTS_SUPPORT_NGINX_H
#define GUST_TESTS_SUPPORT_NGINX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nginx_s nginx_t;

/* The content of the generated /index.html. */
#define NGINX_INDEX_HTML                                                                           \
    "<!DOCTYPE html>\n<title>gust test server</title>\n<p>Hello from nginx.</p>\n"

/* Options for nginx_start; start from nginx_opts_default(), whose values are
 * given with each field. Strings are copied into the configuration. */
typedef struct nginx_opts_s {
    /* The nginx binary. Default "/usr/sbin/nginx". */
    const char *binary;
    /* Worker processes. Default 1. */
    unsigned worker_processes;
    /* worker_connections per worker. Default 20000. The child's soft
     * RLIMIT_NOFILE is raised toward twice this (up to the hard limit). */
    unsigned worker_connections;
    /* Appended to `listen 127.0.0.1:PORT` (after the "ssl" cert_file adds),
     * e.g. "reuseport"; NULL for nothing. Default NULL. */
    const char *listen_params;
    /* HTTPS with this certificate (PEM, leaf first) and key (PEM), both or
     * neither; files outside the fixture's directory, readable by nginx.
     * tests/support/tls_certs.h makes them. Default NULL: plain HTTP. */
    const char *cert_file;
    const char *key_file;
    /* Keep served files open between requests (open_file_cache), saving
     * nginx an open, a stat and a close per request: for benchmarks, where
     * the server's work caps every client. Tests leave it off so that a file
     * changed on disk is served as it is now. Default false. */
    bool cache_open_files;
    /* Directives appended inside the http block (after the fixture's) and
     * inside the server block, e.g. ssl_certificate ... or
     * "location = /hi { return 200 \"hi\\n\"; }"; NULL for none. Files they
     * name must exist before nginx_start: keep them outside the fixture's
     * directory, which does not exist yet. Default NULL. */
    const char *extra_http_conf;
    const char *extra_server_conf;
} nginx_opts_t;

/* nginx_opts_default returns the defaults listed above. */
nginx_opts_t nginx_opts_default(void);

/* nginx_start writes the directory and configuration, starts nginx on a
 * free port (retrying on another port if that one was taken meanwhile) and
 * returns once a TCP connect to it succeeds. `opts` NULL means the defaults.
 * Returns NULL, with a message on stderr, on failure: errno is ENOENT when
 * the nginx binary is missing (a test may skip), EINVAL for bad options,
 * ETIMEDOUT when nginx did not accept connections within 5 s, EIO when it
 * exited (the message then includes its error log), or the errno of the
 * call that failed. Nothing is left behind on failure. */
nginx_t *nginx_start(const nginx_opts_t *opts);

/* nginx_stop sends SIGTERM to the master, waits up to 5 s for it, then
 * SIGKILLs the process group (the master and any worker left), reaps the
 * master and removes the directory. NULL does nothing. */
void nginx_stop(nginx_t *server);

/* The port on 127.0.0.1. */
uint16_t nginx_port(const nginx_t *server);

/* "http://127.0.0.1:PORT", or "https://..." with a certificate (borrowed, no
 * slash at the end); append a path such as "/1k.bin" for a URL. */
const char *nginx_origin(const nginx_t *server);

/* The temporary directory and the docroot inside it (borrowed). */
const char *nginx_dir(const nginx_t *server);
const char *nginx_docroot(const nginx_t *server);

/* The master's process id (also its process group). */
pid_t nginx_pid(const nginx_t *server);

/* nginx_add_file writes `len` bytes as the file `path` of the docroot
 * ("/a/b.txt" or "a/b.txt"), making the folders on the way. The file appears
 * whole (written aside, then renamed), so it may be added while nginx
 * serves. Returns 0, or -1 with errno set (EINVAL for an empty path or one
 * with a ".." component). */
int nginx_add_file(nginx_t *server, const char *path, const void *data, size_t len);

/* nginx_pattern fills `buf` with the bytes of the generated .bin files:
 * byte i is i % 251 (a prime, so that a slip by a power of two shows). */
void nginx_pattern(void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
