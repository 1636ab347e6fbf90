/* A runtime and a client made from the options the commands share. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

bool client_new(client_t *out, const client_opts_t *opts)
{
    *out = (client_t){0};
    gust_runtime_opts_t ro = gust_runtime_opts_default();
    ro.pool.num_threads = opts->threads;
    ro.pool.thread_name_prefix = "gust";
    ro.blocking_threads = 2; /* name lookups */
    /* A socket per connection and some to spare. */
    if (opts->max_per_host > ro.fd_table_hint - 64)
        ro.fd_table_hint = opts->max_per_host + 64;
    out->runtime = gust_runtime_new(&ro);
    if (out->runtime == NULL) {
        fprintf(stderr, "gust: cannot start the runtime: %s\n", strerror(errno));
        return false;
    }
    gust_client_opts_t co = gust_client_opts_default();
    if (opts->total_timeout_ns != 0)
        co.total_timeout_ns = opts->total_timeout_ns;
    co.max_per_host = opts->max_per_host;
    co.pipeline_depth = opts->pipeline_depth;
    co.insecure = opts->insecure;
    co.ca_file = opts->ca_file;
    co.user_agent = "gust/" GUST_CLI_VERSION;
    co.headers = opts->headers;
    co.num_headers = opts->num_headers;
    out->client = gust_client_new(out->runtime, &co);
    if (out->client == NULL) {
        int err = errno;
        if (err == EINVAL && opts->ca_file != NULL)
            fprintf(stderr, "gust: cannot use the CA file %s\n", opts->ca_file);
        else
            fprintf(stderr, "gust: cannot make the client: %s\n", strerror(err));
        gust_runtime_free(out->runtime);
        out->runtime = NULL;
        return false;
    }
    return true;
}

void client_free(client_t *c)
{
    gust_client_free(c->client);
    gust_runtime_free(c->runtime);
    *c = (client_t){0};
}

/* An HTTP token character (RFC 9110, 5.6.2). */
static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Parses "Name: value" into a header pointing into a copy of `line`
 * (*out_copy, freed by the caller); false if it is malformed. */
static bool parse_header(const char *line, gust_header_t *out, char **out_copy)
{
    const char *colon = strchr(line, ':');
    if (colon == NULL || colon == line)
        return false;
    for (const char *p = line; p < colon; p++) {
        if (!is_tchar((unsigned char)*p))
            return false;
    }
    for (const char *p = colon; *p != '\0'; p++) {
        if (*p == '\r' || *p == '\n')
            return false;
    }
    char *copy = strdup(line);
    if (copy == NULL)
        return false;
    char *value = copy + (colon - line);
    *value++ = '\0';
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        value[--len] = '\0';
    *out = (gust_header_t){.name = copy, .value = value};
    *out_copy = copy;
    return true;
}

bool client_option(args_t *a, int opt, client_opts_t *co, client_headers_t *headers)
{
    unsigned long n;
    switch (opt) {
    case OPT_THREADS:
        if (!args_uint(a, "--threads", a->value, 1, 1024, &n))
            return false;
        co->threads = (unsigned)n;
        return true;
    case OPT_TIMEOUT:
        return args_seconds(a, "--timeout", a->value, 86400, &co->total_timeout_ns);
    case OPT_INSECURE:
        co->insecure = true;
        return true;
    case OPT_CACERT:
        co->ca_file = a->value;
        return true;
    case OPT_HEADER:
        if (headers->num == CLIENT_MAX_HEADERS) {
            snprintf(a->error, sizeof(a->error), "at most %d headers", CLIENT_MAX_HEADERS);
            return false;
        }
        if (!parse_header(a->value, &headers->list[headers->num], &headers->copies[headers->num])) {
            snprintf(a->error, sizeof(a->error), "bad header '%s' (want 'Name: value')", a->value);
            return false;
        }
        headers->num++;
        return true;
    default:
        return false;
    }
}

void client_headers_free(client_headers_t *h)
{
    for (size_t i = 0; i < h->num; i++)
        free(h->copies[i]);
    h->num = 0;
}
