/* tests/support/nginx.c: the nginx fixture (see nginx.h). */
#include "tests/support/nginx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Ports tried before giving up: another process may take the free port we
 * picked before nginx binds it. */
enum { START_ATTEMPTS = 5 };
/* How long nginx has to accept a connection, and to exit when stopped. */
enum { READY_TIMEOUT_MS = 5000, STOP_TIMEOUT_MS = 5000, POLL_MS = 5 };
/* The error log printed with a failure: its last bytes. */
enum { LOG_TAIL = 4096 };

struct nginx_s {
    pid_t pid; /* the master; 0 when not running */
    uint16_t port;
    char origin[32];
    char dir[PATH_MAX];
    char docroot[PATH_MAX];
    char conf[PATH_MAX];
    char log[PATH_MAX];
    char pid_file[PATH_MAX];
};

nginx_opts_t nginx_opts_default(void)
{
    return (nginx_opts_t){
        .binary = "/usr/sbin/nginx",
        .worker_processes = 1,
        .worker_connections = 20000,
    };
}

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a line on stderr; errno is left as it was. */
static void complain(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    fputs("nginx fixture: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
    errno = saved;
}

/* snprintf into a PATH_MAX buffer; false (errno ENAMETOOLONG) if cut. */
static bool path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return false;
    }
    return true;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nginx_pattern(void *buf, size_t len)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i % 251);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes every missing folder of `path` (a copy is cut at each '/') up to,
 * not including, its last component. */
static int make_parents(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *slash = strchr(buf + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return 0;
}

/* True if `rel` has an empty name or a ".." component. */
static bool bad_relative_path(const char *rel)
{
    if (*rel == '\0')
        return true;
    for (const char *p = rel; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        if (*p == '/')
            p++;
    }
    return rel[strlen(rel) - 1] == '/';
}

int nginx_add_file(nginx_t *server, const char *path, const void *data, size_t len)
{
    while (*path == '/')
        path++;
    if (bad_relative_path(path)) {
        errno = EINVAL;
        return -1;
    }
    char full[PATH_MAX], part[PATH_MAX];
    if (!path_join(full, server->docroot, path) || make_parents(full) != 0)
        return -1;
    /* Written aside in the same folder, then renamed over: nginx never
     * serves half a file. */
    if (snprintf(part, sizeof(part), "%s.partXXXXXX", full) >= (int)sizeof(part)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkostemp(part, O_CLOEXEC);
    if (fd < 0)
        return -1;
    bool written = fchmod(fd, 0644) == 0 && write_all(fd, data, len) == 0;
    int saved = errno;
    if (close(fd) != 0 && written) {
        written = false;
        saved = errno;
    }
    if (!written) {
        unlink(part);
        errno = saved;
        return -1;
    }
    if (rename(part, full) != 0) {
        int saved = errno;
        unlink(part);
        errno = saved;
        return -1;
    }
    return 0;
}

static int add_pattern_file(nginx_t *server, const char *path, size_t len)
{
    void *buf = malloc(len);
    if (buf == NULL)
        return -1;
    nginx_pattern(buf, len);
    int rc = nginx_add_file(server, path, buf, len);
    free(buf);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        complain("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Prints the last LOG_TAIL bytes of nginx's error log. */
static void print_log(const nginx_t *server)
{
    FILE *f = fopen(server->log, "re");
    if (f == NULL) {
        complain("no error log at %s: %s", server->log, strerror(errno));
        return;
    }
    char buf[LOG_TAIL + 1];
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > LOG_TAIL)
        fseek(f, -LOG_TAIL, SEEK_END);
    else
        fseek(f, 0, SEEK_SET);
    size_t n = fread(buf, 1, LOG_TAIL, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- %s ----\n%s%s---- end of log ----\n", server->log, buf,
            n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

static bool log_contains(const nginx_t *server, const char *needle)
{
    FILE *f = fopen(server->log, "re");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* A port that was free a moment ago: bound to 127.0.0.1:0, read, closed. */
static int pick_port(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof(addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    close(fd);
    *out_port = ntohs(addr.sin_port);
    return 0;
}

static bool can_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

/* True once nginx has written its pid file, which it does after binding its
 * listening socket: a connect that succeeds after that reaches this nginx,
 * not some other process that took the port. */
static bool pid_file_written(const nginx_t *server)
{
    FILE *f = fopen(server->pid_file, "re");
    if (f == NULL)
        return false;
    long pid = 0;
    bool ok = fscanf(f, "%ld", &pid) == 1 && pid == (long)server->pid;
    fclose(f);
    return ok;
}

static int write_conf(const nginx_t *server, const nginx_opts_t *o)
{
    FILE *f = fopen(server->conf, "we");
    if (f == NULL)
        return -1;
    const char *dir = server->dir;
    fprintf(f, "# Written by tests/support/nginx.c for one test run.\n");
    fprintf(f, "daemon off;\nmaster_process on;\nworker_processes %u;\n", o->worker_processes);
    /* As root the workers would switch to nobody, who cannot read a 0700
     * mkdtemp directory; as anyone else `user` is ignored with a warning. */
    if (geteuid() == 0)
        fprintf(f, "user root root;\n");
    fprintf(f, "pid %s;\nlock_file %s/nginx.lock;\nerror_log %s warn;\n", server->pid_file, dir,
            server->log);
    fprintf(f, "events {\n    worker_connections %u;\n}\n", o->worker_connections);
    /* sendfile off: nginx reads a small file into memory and writes it
     * with the response's head in one writev, one segment; with sendfile
     * the head and the file left in two, and two small pushed segments make
     * the client's kernel ACK at once, so every keep-alive request took four
     * segments instead of two, paid for by the server (which caps the
     * benchmarks' clients) and every client. (tcp_nopush would join them
     * too, but its cork held pipelined answers until a delayed ACK: wrk's
     * pipelining fell to 3,681 req/s in tools/bench/compare.) */
    fprintf(f, "http {\n"
               "    access_log off;\n"
               "    default_type application/octet-stream;\n"
               "    sendfile off;\n"
               "    tcp_nodelay on;\n"
               "    keepalive_requests 1000000;\n"
               "    keepalive_timeout 60s;\n");
    if (o->cache_open_files)
        fprintf(f, "    open_file_cache max=1024 inactive=60s;\n");
    static const char *const temp_paths[] = {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"};
    for (size_t i = 0; i < sizeof(temp_paths) / sizeof(temp_paths[0]); i++)
        fprintf(f, "    %s_temp_path %s/temp/%s;\n", temp_paths[i], dir, temp_paths[i]);
    bool tls = o->cert_file != NULL;
    if (tls) {
        /* Resumption both ways: session IDs from a cache shared by the
         * workers, and tickets (nginx makes their key at start). */
        fprintf(f, "    ssl_protocols TLSv1.2 TLSv1.3;\n"
                   "    ssl_session_cache shared:gust_tls:1m;\n"
                   "    ssl_session_timeout 10m;\n"
                   "    ssl_session_tickets on;\n");
    }
    if (o->extra_http_conf != NULL)
        fprintf(f, "    %s\n", o->extra_http_conf);
    fprintf(f,
            "    server {\n"
            "        listen 127.0.0.1:%u%s%s%s;\n"
            "        server_name localhost;\n"
            "        root %s;\n",
            server->port, tls ? " ssl" : "", o->listen_params != NULL ? " " : "",
            o->listen_params != NULL ? o->listen_params : "", server->docroot);
    if (tls)
        fprintf(f, "        ssl_certificate %s;\n        ssl_certificate_key %s;\n", o->cert_file,
                o->key_file);
    if (o->extra_server_conf != NULL)
        fprintf(f, "        %s\n", o->extra_server_conf);
    fprintf(f, "    }\n}\n");
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* Forks and execs nginx in the foreground, in a process group of its own,
 * with stdout and stderr appended to the error log. Only async-signal-safe
 * calls between fork and exec: the caller may have threads. */
static int spawn(nginx_t *server, const nginx_opts_t *o)
{
    char prefix[PATH_MAX];
    if (snprintf(prefix, sizeof(prefix), "%s/", server->dir) >= (int)sizeof(prefix)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *const argv[] = {
        (char *)o->binary, "-p", prefix, "-c", server->conf, "-e", server->log, NULL,
    };
    struct rlimit files;
    bool raise_files = false;
    rlim_t want = (rlim_t)o->worker_connections * 2 + 64;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < want) {
        files.rlim_cur = files.rlim_max < want ? files.rlim_max : want;
        raise_files = true;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        /* If the test dies, so does the server. The check after it closes
         * the race with a parent that died before the prctl. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int log = open(server->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
            _exit(127);
        closefrom(3);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (raise_files)
            setrlimit(RLIMIT_NOFILE, &files);
        execv(o->binary, argv);
        static const char msg[] = "nginx fixture: execv failed\n";
        ssize_t ignored = write(2, msg, sizeof(msg) - 1);
        (void)ignored;
        _exit(127);
    }
    /* Also from the parent, so the group exists whichever runs first. */
    setpgid(pid, pid);
    server->pid = pid;
    return 0;
}

/* True if the master has exited; it is left a zombie (WNOWAIT) so that its
 * pid, which is also its process group, cannot be reused before reap(). */
static bool exited(const nginx_t *server)
{
    siginfo_t info = {.si_pid = 0};
    return waitid(P_PID, (id_t)server->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == server->pid;
}

/* SIGKILLs what is left of the group, then reaps the master. */
static void reap(nginx_t *server)
{
    kill(-server->pid, SIGKILL);
    while (waitpid(server->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    server->pid = 0;
}

static void terminate(nginx_t *server)
{
    if (server->pid <= 0)
        return;
    kill(server->pid, SIGTERM);
    for (int64_t deadline = now_ms() + STOP_TIMEOUT_MS; !exited(server);) {
        if (now_ms() >= deadline) {
            complain("nginx (pid %d) still running %d ms after SIGTERM; SIGKILL", (int)server->pid,
                     STOP_TIMEOUT_MS);
            break;
        }
        sleep_ms(POLL_MS);
    }
    reap(server);
}

typedef enum start_result_e { STARTED, PORT_TAKEN, FAILED } start_result_t;

/* One attempt on a fresh port: returns once nginx accepts, or has failed. */
static start_result_t start_once(nginx_t *server, const nginx_opts_t *o)
{
    if (pick_port(&server->port) != 0) {
        complain("no free port: %s", strerror(errno));
        return FAILED;
    }
    snprintf(server->origin, sizeof(server->origin), "%s://127.0.0.1:%u",
             o->cert_file != NULL ? "https" : "http", server->port);
    unlink(server->pid_file);
    if (write_conf(server, o) != 0) {
        complain("cannot write %s: %s", server->conf, strerror(errno));
        return FAILED;
    }
    if (spawn(server, o) != 0) {
        complain("fork: %s", strerror(errno));
        return FAILED;
    }
    for (int64_t deadline = now_ms() + READY_TIMEOUT_MS;;) {
        if (exited(server)) {
            reap(server);
            if (log_contains(server, "Address already in use"))
                return PORT_TAKEN;
            complain("nginx exited at start on port %u", server->port);
            print_log(server);
            errno = EIO;
            return FAILED;
        }
        if (pid_file_written(server) && can_connect(server->port))
            return STARTED;
        if (now_ms() >= deadline) {
            complain("nginx accepted no connection on port %u within %d ms", server->port,
                     READY_TIMEOUT_MS);
            terminate(server);
            print_log(server);
            errno = ETIMEDOUT;
            return FAILED;
        }
        sleep_ms(POLL_MS);
    }
}

/* Makes the directory, its folders and the generated files. */
static int make_dir(nginx_t *server)
{
    const char *base = getenv("TEST_TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (!path_join(server->dir, base, "nginx.XXXXXX"))
        return -1;
    if (mkdtemp(server->dir) == NULL) {
        server->dir[0] = '\0';
        return -1;
    }
    char temp[PATH_MAX];
    if (!path_join(server->docroot, server->dir, "www") ||
        !path_join(server->conf, server->dir, "nginx.conf") ||
        !path_join(server->log, server->dir, "error.log") ||
        !path_join(server->pid_file, server->dir, "nginx.pid") ||
        !path_join(temp, server->dir, "temp") || mkdir(server->docroot, 0755) != 0 ||
        mkdir(temp, 0755) != 0)
        return -1;
    static const char index_html[] = NGINX_INDEX_HTML;
    if (add_pattern_file(server, "1k.bin", 1024) != 0 ||
        add_pattern_file(server, "64k.bin", 65536) != 0 ||
        nginx_add_file(server, "index.html", index_html, sizeof(index_html) - 1) != 0)
        return -1;
    return 0;
}

nginx_t *nginx_start(const nginx_opts_t *opts)
{
    nginx_opts_t o = opts != NULL ? *opts : nginx_opts_default();
    if (o.binary == NULL || o.worker_processes == 0 || o.worker_connections == 0 ||
        (o.cert_file == NULL) != (o.key_file == NULL)) {
        complain("bad options (binary, worker_processes and worker_connections must be set; "
                 "cert_file and key_file go together)");
        errno = EINVAL;
        return NULL;
    }
    if (access(o.binary, X_OK) != 0) {
        complain("%s: %s (Debian: apt-get install nginx-light)", o.binary, strerror(errno));
        errno = ENOENT;
        return NULL;
    }
    nginx_t *server = calloc(1, sizeof(*server));
    if (server == NULL)
        return NULL;
    if (make_dir(server) != 0) {
        complain("cannot make the server's directory under %s: %s",
                 server->dir[0] != '\0' ? server->dir : "$TEST_TMPDIR or /tmp", strerror(errno));
        goto fail;
    }
    for (int attempt = 1;; attempt++) {
        start_result_t r = start_once(server, &o);
        if (r == STARTED)
            return server;
        if (r == FAILED)
            goto fail;
        if (attempt == START_ATTEMPTS) {
            complain("port taken before nginx bound it, %d times", START_ATTEMPTS);
            print_log(server);
            errno = EADDRINUSE;
            goto fail;
        }
        /* The next attempt appends to the same log: start it afresh. */
        unlink(server->log);
    }

fail:;
    int saved = errno;
    terminate(server);
    if (server->dir[0] != '\0')
        remove_tree(server->dir);
    free(server);
    errno = saved;
    return NULL;
}

void nginx_stop(nginx_t *server)
{
    if (server == NULL)
        return;
    terminate(server);
    remove_tree(server->dir);
    free(server);
}

uint16_t nginx_port(const nginx_t *server)
{
    return server->port;
}

const char *nginx_origin(const nginx_t *server)
{
    return server->origin;
}

const char *nginx_dir(const nginx_t *server)
{
    return server->dir;
}

const char *nginx_docroot(const nginx_t *server)
{
    return server->docroot;
}

pid_t nginx_pid(const nginx_t *server)
{
    return server->pid;
}
