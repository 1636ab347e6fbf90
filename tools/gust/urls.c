/* URLs one per line, read as they are needed: imap's generator asks for the
 * next one only when a slot frees, so a file of ten million URLs is never in
 * memory at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The URL on a line (trimmed in place), or NULL for a blank or comment line. */
static char *url_of(char *line, size_t len)
{
    while (len > 0 && is_space(line[len - 1]))
        line[--len] = '\0';
    while (is_space(*line))
        line++;
    return *line == '\0' || *line == '#' ? NULL : line;
}

int urls_open(urls_t *u, const char *path)
{
    *u = (urls_t){0};
    if (path == NULL || strcmp(path, "-") == 0) {
        u->in = stdin;
        u->name = "stdin";
        return 0;
    }
    u->in = fopen(path, "r");
    u->name = path;
    return u->in != NULL ? 0 : errno;
}

const char *urls_next(urls_t *u)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&u->line, &u->cap, u->in);
        if (n < 0) {
            if (ferror(u->in))
                u->err = errno != 0 ? errno : EIO;
            return NULL;
        }
        const char *url = url_of(u->line, (size_t)n);
        if (url != NULL)
            return url;
    }
}

void urls_close(urls_t *u)
{
    if (u->in != NULL && u->in != stdin)
        fclose(u->in);
    free(u->line);
    *u = (urls_t){0};
}

unsigned long urls_count(const char *path, const atomic_bool *stop)
{
    urls_t u;
    if (urls_open(&u, path) != 0)
        return 0;
    unsigned long n = 0;
    while (urls_next(&u) != NULL) {
        /* Relaxed: a late look at the flag only counts a few more lines. */
        if (++n % 65536 == 0 && atomic_load_explicit(stop, memory_order_relaxed)) {
            n = 0;
            break;
        }
    }
    if (u.err != 0)
        n = 0;
    urls_close(&u);
    return n;
}
