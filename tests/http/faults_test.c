/* The client against every behaviour of the test server, as a table kept
 * as data (faults.txt, its format at its top): each case names a route (or a
 * URL), the request and client options, and the exact outcome: a status with
 * its body, or the error code with words its message must contain (every
 * message must also name the URL).
 *
 * Most cases then send a second request on the same client, to check what
 * the first one left behind: the connection kept alive and reused (its
 * framing was read exactly), or closed and replaced. The runtime has one
 * worker, so a kept-alive connection is always the next request's to take.
 * Each case runs in a process of its own, so that one failing case does not
 * hide the others. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/http/client_util.h"
#include "tests/support/http_server.h"
#include "tests/support/runtime.h"

typedef enum body_e {
    BODY_ANY,     /* not checked */
    BODY_PATTERN, /* body_len bytes of the pattern */
    BODY_TEXT,    /* exactly `body` */
    BODY_ZEROS,   /* body_len zero bytes */
    BODY_GZIP,    /* body_len bytes (-1: any) starting with the gzip magic */
} body_t;

/* What a second request on the same client must find afterwards. */
typedef enum then_e {
    THEN_NONE,
    THEN_REUSE,        /* the connection is kept alive and reused */
    THEN_NEW_CONN,     /* it was closed; the next request opens another */
    THEN_NOTHING_SENT, /* the request failed before any connection */
} then_t;

/* One row of the table. */
typedef struct fault_case_s {
    char *line;       /* the row's text, which every string below points into */
    unsigned line_no; /* in faults.txt */
    const char *name;
    /* The request. */
    const char *method; /* NULL: GET */
    const char *path;   /* on the test server */
    const char *url;    /* instead of path: a URL, printf'd with the port `port` names */
    enum { PORT_REFUSED, PORT_UNANSWERED } port;
    const char *header_name;
    const char *header_value;
    const char *body; /* sent from memory */
    unsigned connect_timeout_ms;
    unsigned header_timeout_ms;
    unsigned total_timeout_ms;
    size_t max_body_bytes;
    int max_redirects;
    bool no_decompress;
    bool stream; /* the body goes to on_body, and is checked there */
    /* Client options; 0: the default. */
    size_t max_header_bytes;
    unsigned max_headers;
    size_t max_decoded_bytes;
    /* The outcome: an error ... */
    int err;
    const char *message; /* in the message, printf'd with the same port as url */
    unsigned min_ms;     /* the error came no sooner */
    /* ... or a response. */
    int status;
    body_t body_kind;
    long body_len;
    const char *body_text;
    const char *resp_header; /* a header it must have, with this value */
    const char *resp_value;
    const char *final_path; /* gust_response_url's path; NULL: the request's */
    /* Afterwards. */
    unsigned sleep_ms; /* before the second request */
    then_t then;
} fault_case_t;

/* ---- Reading the table (faults.txt) ---- */

/* Where a row is read, for messages about it. */
typedef struct row_s {
    const char *file;
    unsigned line_no;
} row_t;

#define ROW_FAIL_(row, ...)                                                                        \
    do {                                                                                           \
        fprintf(stderr, "%s:%u: ", (row)->file, (row)->line_no);                                   \
        CHECK_FAIL_(__VA_ARGS__);                                                                  \
    } while (0)

/* Splits `text` in place into words separated by blanks; a "quoted" part
 * (C escapes \r \n \t \" \\) may hold blanks. Returns the number of words,
 * at most `max`. */
static size_t split_words(const row_t *row, char *text, char **out_words, size_t max)
{
    size_t n = 0;
    char *r = text, *w = text; /* decoding only shortens, so w never passes r */
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '\0')
            return n;
        if (n == max)
            ROW_FAIL_(row, "more than %zu words", max);
        out_words[n++] = w;
        bool quoted = false;
        for (; *r != '\0' && (quoted || (*r != ' ' && *r != '\t')); r++) {
            if (*r == '"') {
                quoted = !quoted;
                continue;
            }
            if (quoted && *r == '\\') {
                r++;
                switch (*r) {
                case 'r':
                    *w++ = '\r';
                    break;
                case 'n':
                    *w++ = '\n';
                    break;
                case 't':
                    *w++ = '\t';
                    break;
                case '"':
                case '\\':
                    *w++ = *r;
                    break;
                default:
                    ROW_FAIL_(row, "unknown escape \\%c", *r);
                }
                continue;
            }
            *w++ = *r;
        }
        if (quoted)
            ROW_FAIL_(row, "unterminated quote");
        bool more = *r != '\0';
        *w = '\0'; /* may be the blank at r */
        if (more)
            r++;
        w = r;
    }
}

/* A number with an optional KiB or MiB suffix. */
static long parse_num(const row_t *row, const char *text)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (end == text || errno != 0)
        ROW_FAIL_(row, "\"%s\" is not a number", text);
    if (strcmp(end, "KiB") == 0)
        return n * 1024;
    if (strcmp(end, "MiB") == 0)
        return n * 1024 * 1024;
    if (*end != '\0')
        ROW_FAIL_(row, "\"%s\" is not a number", text);
    return n;
}

/* The error code whose gust name is `name` ("CONN_CLOSED"), or 0. */
static int err_by_name(const char *name)
{
#define CODE_IF_NAMED_(err_name, code, message)                                                    \
    if (strcmp(#err_name, name) == 0)                                                              \
        return code;
    GUST_ERR_MAP(CODE_IF_NAMED_)
    GUST_HTTP_ERR_MAP(CODE_IF_NAMED_)
#undef CODE_IF_NAMED_
    return 0;
}

/* Splits "key=value" at its '=': returns the value, or NULL if there is none. */
static char *split_key(char *word)
{
    char *eq = strchr(word, '=');
    if (eq == NULL)
        return NULL;
    *eq = '\0';
    return eq + 1;
}

static void parse_request(const row_t *row, fault_case_t *c, char *column)
{
    char *words[3];
    if (split_words(row, column, words, 3) != 2)
        ROW_FAIL_(row, "the request is METHOD and a path or URL");
    c->method = strcmp(words[0], "GET") == 0 ? NULL : words[0];
    if (words[1][0] == '/')
        c->path = words[1];
    else
        c->url = words[1];
}

static void parse_options(const row_t *row, fault_case_t *c, char *column)
{
    char *words[16];
    size_t n = split_words(row, column, words, 16);
    for (size_t i = 0; i < n; i++) {
        const char *key = words[i];
        char *value = split_key(words[i]);
        if (value == NULL)
            ROW_FAIL_(row, "option %s has no value", key);
        if (strcmp(key, "header_name") == 0)
            c->header_name = value;
        else if (strcmp(key, "header_value") == 0)
            c->header_value = value;
        else if (strcmp(key, "body") == 0)
            c->body = value;
        else if (strcmp(key, "connect_timeout_ms") == 0)
            c->connect_timeout_ms = (unsigned)parse_num(row, value);
        else if (strcmp(key, "header_timeout_ms") == 0)
            c->header_timeout_ms = (unsigned)parse_num(row, value);
        else if (strcmp(key, "total_timeout_ms") == 0)
            c->total_timeout_ms = (unsigned)parse_num(row, value);
        else if (strcmp(key, "max_body_bytes") == 0)
            c->max_body_bytes = (size_t)parse_num(row, value);
        else if (strcmp(key, "max_redirects") == 0)
            c->max_redirects = (int)parse_num(row, value);
        else if (strcmp(key, "no_decompress") == 0)
            c->no_decompress = parse_num(row, value) != 0;
        else if (strcmp(key, "stream") == 0)
            c->stream = parse_num(row, value) != 0;
        else if (strcmp(key, "max_header_bytes") == 0)
            c->max_header_bytes =
                strcmp(value, "max") == 0 ? GUST_MAX_HEADER_BYTES : (size_t)parse_num(row, value);
        else if (strcmp(key, "max_headers") == 0)
            c->max_headers = (unsigned)parse_num(row, value);
        else if (strcmp(key, "max_decoded_bytes") == 0)
            c->max_decoded_bytes = (size_t)parse_num(row, value);
        else if (strcmp(key, "port") == 0 && strcmp(value, "unanswered") == 0)
            c->port = PORT_UNANSWERED;
        else if (strcmp(key, "port") == 0 && strcmp(value, "refused") == 0)
            c->port = PORT_REFUSED;
        else if (strcmp(key, "sleep_ms") == 0)
            c->sleep_ms = (unsigned)parse_num(row, value);
        else
            ROW_FAIL_(row, "unknown option %s=%s", key, value);
    }
}

/* The body after a status: pattern=N, text=T, zeros=N, gzip=N|any. */
static void parse_body(const row_t *row, fault_case_t *c, const char *kind, const char *value)
{
    if (strcmp(kind, "pattern") == 0) {
        c->body_kind = BODY_PATTERN;
        c->body_len = parse_num(row, value);
    } else if (strcmp(kind, "text") == 0) {
        c->body_kind = BODY_TEXT;
        c->body_text = value;
    } else if (strcmp(kind, "zeros") == 0) {
        c->body_kind = BODY_ZEROS;
        c->body_len = parse_num(row, value);
    } else if (strcmp(kind, "gzip") == 0) {
        c->body_kind = BODY_GZIP;
        c->body_len = strcmp(value, "any") == 0 ? -1 : parse_num(row, value);
    } else {
        ROW_FAIL_(row, "unknown outcome %s=%s", kind, value);
    }
}

static void parse_outcome(const row_t *row, fault_case_t *c, char *column)
{
    char *words[8];
    size_t n = split_words(row, column, words, 8);
    if (n == 0)
        ROW_FAIL_(row, "no outcome");
    if (words[0][0] >= '0' && words[0][0] <= '9') {
        c->status = (int)parse_num(row, words[0]);
    } else {
        c->err = err_by_name(words[0]);
        if (c->err == 0)
            ROW_FAIL_(row, "%s is neither a status nor a gust_err name", words[0]);
    }
    for (size_t i = 1; i < n; i++) {
        const char *key = words[i];
        char *value = split_key(words[i]);
        if (value == NULL)
            ROW_FAIL_(row, "%s has no value", key);
        if (c->err != 0 && strcmp(key, "message") == 0) {
            c->message = value;
        } else if (c->err != 0 && strcmp(key, "min_ms") == 0) {
            c->min_ms = (unsigned)parse_num(row, value);
        } else if (c->err == 0 && strcmp(key, "header") == 0) {
            char *colon = strchr(value, ':');
            if (colon == NULL)
                ROW_FAIL_(row, "header=%s is not Name:value", value);
            *colon = '\0';
            c->resp_header = value;
            c->resp_value = colon + 1;
        } else if (c->err == 0 && strcmp(key, "final") == 0) {
            c->final_path = value;
        } else if (c->err == 0) {
            parse_body(row, c, key, value);
        } else {
            ROW_FAIL_(row, "unknown outcome %s=%s for an error", key, value);
        }
    }
}

static then_t parse_then(const row_t *row, char *column)
{
    char *words[2];
    size_t n = split_words(row, column, words, 2);
    if (n == 0)
        return THEN_NONE;
    if (n == 1 && strcmp(words[0], "reuse") == 0)
        return THEN_REUSE;
    if (n == 1 && strcmp(words[0], "new-conn") == 0)
        return THEN_NEW_CONN;
    if (n == 1 && strcmp(words[0], "nothing-sent") == 0)
        return THEN_NOTHING_SENT;
    ROW_FAIL_(row, "then is reuse, new-conn, nothing-sent or empty");
}

/* Reads one row: the line (which *c takes and every string in it points
 * into) has five columns separated by '|'. */
static void parse_row(const row_t *row, char *line, fault_case_t *c)
{
    char *columns[5];
    size_t n = 0;
    for (char *p = line; n < 5; n++) {
        columns[n] = p;
        p = strchr(p, '|');
        if (p == NULL) {
            n++;
            break;
        }
        *p++ = '\0';
    }
    if (n != 5)
        ROW_FAIL_(row, "%zu columns, not 5 (name | request | options | outcome | then)", n);
    *c = (fault_case_t){.line = line, .line_no = row->line_no};
    char *name_end = columns[0] + strlen(columns[0]);
    while (name_end > columns[0] && name_end[-1] == ' ')
        *--name_end = '\0';
    c->name = columns[0];
    parse_request(row, c, columns[1]);
    parse_options(row, c, columns[2]);
    parse_outcome(row, c, columns[3]);
    c->then = parse_then(row, columns[4]);
}

/* Reads every case of the table at `path`; the caller frees them with
 * free_cases. */
static fault_case_t *read_cases(const char *path, size_t *out_num)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        CHECK_FAIL_("fopen %s: %s", path, strerror(errno));
    fault_case_t *cases = NULL;
    size_t num = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    for (row_t row = {path, 1}; (len = getline(&line, &cap, f)) >= 0; row.line_no++) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len || line[0] == '#')
            continue;
        cases = realloc(cases, (num + 1) * sizeof(*cases));
        ASSERT_NOT_NULL(cases);
        char *copy = strdup(line);
        ASSERT_NOT_NULL(copy);
        parse_row(&row, copy, &cases[num++]);
    }
    free(line);
    ASSERT_EQ(fclose(f), 0);
    *out_num = num;
    return cases;
}

static void free_cases(fault_case_t *cases, size_t num)
{
    for (size_t i = 0; i < num; i++)
        free(cases[i].line);
    free(cases);
}

/* A port on 127.0.0.1 where a connect is never answered: a listener with
 * no room in its accept queue, which it never empties, drops every SYN. */
static int unanswered_listener(uint16_t *out_port, int *out_fillers, size_t num_fillers)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ASSERT_EQ(listen(fd, 0), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *out_port = ntohs(addr.sin_port);
    /* Fill the queue: connects that complete or hang, either way held. */
    for (size_t i = 0; i < num_fillers; i++) {
        out_fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ASSERT_GE(out_fillers[i], 0);
        int rc = connect(out_fillers[i], (struct sockaddr *)&addr, sizeof(addr));
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS);
    }
    return fd;
}

/* A port on 127.0.0.1 where a connect is refused: bound, never listening,
 * so nobody else can take it while the test runs. */
static int refusing_socket(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *out_port = ntohs(addr.sin_port);
    return fd;
}

/* A body streamed to on_body, collected for check_body. */
typedef struct streamed_s {
    char *data; /* NUL-terminated */
    size_t len;
} streamed_t;

static int collect_streamed(void *arg, const void *chunk, size_t len)
{
    streamed_t *s = arg;
    s->data = realloc(s->data, s->len + len + 1);
    ASSERT_NOT_NULL(s->data);
    memcpy(s->data + s->len, chunk, len);
    s->len += len;
    s->data[s->len] = '\0';
    return 0;
}

/* Checks the body, as the response holds it or as it was streamed. */
static void check_body(const fault_case_t *c, const outcome_t *out, const streamed_t *streamed)
{
    size_t len;
    const unsigned char *body = (const unsigned char *)body_of(out, &len);
    if (c->stream) {
        ASSERT_UEQ(len, 0);
        body = streamed->data != NULL ? (const unsigned char *)streamed->data
                                      : (const unsigned char *)"";
        len = streamed->len;
    }
    ASSERT_EQ(body[len], '\0');
    switch (c->body_kind) {
    case BODY_ANY:
        break;
    case BODY_PATTERN:
        ASSERT_UEQ(len, (size_t)c->body_len);
        assert_pattern(body, len, 0);
        break;
    case BODY_TEXT:
        ASSERT_UEQ(len, strlen(c->body_text));
        ASSERT_EQ(memcmp(body, c->body_text, len), 0);
        break;
    case BODY_ZEROS:
        ASSERT_UEQ(len, (size_t)c->body_len);
        for (size_t i = 0; i < len; i++) {
            if (body[i] != 0)
                CHECK_FAIL_("byte %zu of the zeros is 0x%02x", i, body[i]);
        }
        break;
    case BODY_GZIP:
        if (c->body_len >= 0)
            ASSERT_UEQ(len, (size_t)c->body_len);
        ASSERT_UGE(len, 18);
        ASSERT_EQ(body[0], 0x1f);
        ASSERT_EQ(body[1], 0x8b);
        break;
    }
}

/* The second request: what the first left behind. */
static void check_then(const fault_case_t *c, gust_client_t *client, test_server_t *server,
                       unsigned long accepted_before, unsigned long served_before)
{
    gust_client_stats_t stats = client_stats(client);
    if (c->then == THEN_NOTHING_SENT) {
        ASSERT_UEQ(stats.connections_opened, 0);
        ASSERT_UEQ(test_server_connections_accepted(server), accepted_before);
        ASSERT_UEQ(test_server_requests_served(server), served_before);
        return;
    }
    if (c->then == THEN_NONE)
        return;
    ASSERT_UEQ(stats.connections_opened, 1);
    if (c->sleep_ms > 0)
        sleep_ms(c->sleep_ms);
    char url[256];
    test_server_url(server, url, sizeof(url), "/bytes?n=%d", 100);
    outcome_t next = get_wait(client, url);
    ASSERT_RESPONSE(next, 200);
    assert_pattern_body(&next, 100);
    stats = client_stats(client);
    if (c->then == THEN_REUSE) {
        ASSERT_TRUE(gust_response_reused(next.resp));
        ASSERT_UEQ(stats.connections_opened, 1);
        ASSERT_UEQ(test_server_connections_accepted(server) - accepted_before, 1);
    } else {
        ASSERT_FALSE(gust_response_reused(next.resp));
        ASSERT_UEQ(stats.connections_opened, 2);
        ASSERT_UEQ(test_server_connections_accepted(server) - accepted_before, 2);
    }
    outcome_clear(&next);
}

static void run_case(const fault_case_t *c, gust_runtime_t *runtime, test_server_t *server,
                     const uint16_t *ports)
{
    gust_client_opts_t opts = gust_client_opts_default();
    if (c->max_header_bytes != 0)
        opts.max_header_bytes = c->max_header_bytes;
    if (c->max_headers != 0)
        opts.max_headers = c->max_headers;
    if (c->max_decoded_bytes != 0)
        opts.max_decoded_bytes = c->max_decoded_bytes;
    gust_client_t *client = new_client(runtime, &opts);

    char url[512];
    if (c->url != NULL)
        snprintf(url, sizeof(url), c->url, ports[c->port]);
    else
        test_server_url(server, url, sizeof(url), "%s", c->path);
    gust_header_t header = {c->header_name, c->header_value};
    gust_request_t req = {
        .method = c->method,
        .url = url,
        .headers = &header,
        .num_headers = c->header_name != NULL ? 1 : 0,
        .body = c->body,
        .body_len = c->body != NULL ? (ssize_t)strlen(c->body) : 0,
        .connect_timeout_ns = c->connect_timeout_ms * MS,
        .header_timeout_ns = c->header_timeout_ms * MS,
        .total_timeout_ns = c->total_timeout_ms * MS,
        .max_body_bytes = c->max_body_bytes,
        .max_redirects = c->max_redirects,
        .no_decompress = c->no_decompress,
    };
    streamed_t streamed = {0};
    if (c->stream) {
        req.on_body = collect_streamed;
        req.on_body_arg = &streamed;
    }
    unsigned long accepted_before = test_server_connections_accepted(server);
    unsigned long served_before = test_server_requests_served(server);
    outcome_t out = send_wait(client, &req);

    if (c->err != 0) {
        ASSERT_ERROR(out, c->err);
        ASSERT_EQ(out.state, GUST_FUTURE_ERROR);
        /* The message names the URL and the cause, with the URL's control
         * characters shown as '?' so that no message can forge log lines. */
        char shown[sizeof(url)];
        for (size_t i = 0; i < sizeof(url); i++)
            shown[i] = (url[i] > 0 && url[i] < ' ') || url[i] == 0x7f ? '?' : url[i];
        ASSERT_CONTAINS(out.message, shown);
        ASSERT_PTR_EQ(strpbrk(out.message, "\r\n"), NULL);
        if (c->message != NULL) {
            char want[256];
            snprintf(want, sizeof(want), c->message, ports[c->port]);
            ASSERT_CONTAINS(out.message, want);
        }
        ASSERT_UGE(out.elapsed_ns, c->min_ms * MS);
        fprintf(stderr, "    -> %s: %s\n", gust_err_name(out.err), out.message);
    } else {
        ASSERT_RESPONSE(out, c->status);
        check_body(c, &out, &streamed);
        if (c->resp_header != NULL)
            ASSERT_STR_EQ(gust_response_header(out.resp, c->resp_header), c->resp_value);
        char final_url[512];
        if (c->final_path != NULL)
            test_server_url(server, final_url, sizeof(final_url), "%s", c->final_path);
        ASSERT_STR_EQ(gust_response_url(out.resp), c->final_path != NULL ? final_url : url);
    }
    outcome_clear(&out);
    free(streamed.data);
    check_then(c, client, server, accepted_before, served_before);
    gust_client_free(client);
}

/* Seconds one case may take, its server and runtime included. */
enum { CASE_LIMIT_S = 20 };

typedef struct child_arg_s {
    const fault_case_t *c;
    const uint16_t *ports; /* by port kind */
} child_arg_t;

/* In a child process (see run_in_child): the case with its own server and
 * runtime. */
static void run_case_child(const void *arg)
{
    const child_arg_t *a = arg;
    test_server_t *server = test_server_start(NULL);
    gust_runtime_t *runtime = new_runtime(1, 2);
    run_case(a->c, runtime, server, a->ports);
    gust_runtime_free(runtime);
    test_server_stop(server);
}

/* A head limit past http-parser's own cannot be kept: the client refuses it. */
static void max_header_bytes_is_capped(void)
{
    gust_client_opts_t opts = gust_client_opts_default();
    opts.max_header_bytes = GUST_MAX_HEADER_BYTES + 1;
    errno = 0;
    ASSERT_NULL(gust_client_new(NULL, &opts));
    ASSERT_EQ(errno, EINVAL);
}

int main(int argc, char **argv)
{
    ASSERT_EQ(argc, 2); /* the table's path */
    size_t n;
    fault_case_t *cases = read_cases(argv[1], &n);
    max_header_bytes_is_capped();
    uint16_t ports[2];
    int refusing_fd = refusing_socket(&ports[PORT_REFUSED]);
    int fillers[4];
    int unanswered_fd = unanswered_listener(&ports[PORT_UNANSWERED], fillers, 4);

    size_t failed = 0;
    bool *passed = calloc(n, sizeof(*passed));
    ASSERT_NOT_NULL(passed);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "[%zu/%zu] %s (line %u)\n", i + 1, n, cases[i].name, cases[i].line_no);
        uint64_t start = now_ns();
        child_arg_t arg = {&cases[i], ports};
        passed[i] = run_in_child(run_case_child, &arg, CASE_LIMIT_S);
        if (passed[i])
            fprintf(stderr, "    ok (%llu ms)\n", (unsigned long long)((now_ns() - start) / MS));
        else
            failed++;
    }
    ASSERT_EQ(close(refusing_fd), 0);
    ASSERT_EQ(close(unanswered_fd), 0);
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ(close(fillers[i]), 0);

    if (failed > 0) {
        fprintf(stderr, "\n%zu of %zu cases FAILED:\n", failed, n);
        for (size_t i = 0; i < n; i++) {
            if (!passed[i])
                fprintf(stderr, "  %s:%u: %s\n", argv[1], cases[i].line_no, cases[i].name);
        }
    } else {
        fprintf(stderr, "%zu cases passed\n", n);
    }
    free(passed);
    free_cases(cases, n);
    return failed > 0 ? 1 : 0;
}
