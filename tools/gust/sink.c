/* Where a streamed body goes: a file written chunk by chunk as the body
 * arrives (on a worker, through gust_request_t.on_body), or only a count. A
 * body may start again (a new attempt of a request that map retries): the
 * file is then cut back to nothing. Memory stays at one stdio buffer whatever
 * the body's size. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/gust/internal.h"

/* Records the first failure; false, for the callers' returns. */
static bool sink_fail(sink_t *s, const char *what)
{
    if (s->err == 0) {
        s->err = errno != 0 ? errno : EIO;
        s->failed_to = what;
    }
    return false;
}

static bool sink_open(sink_t *s)
{
    if (s->file == NULL && s->path != NULL && (s->file = fopen(s->path, "w+b")) == NULL)
        return sink_fail(s, "open");
    return true;
}

bool sink_write(sink_t *s, const void *chunk, size_t len)
{
    if (s->err != 0 || !sink_open(s))
        return false;
    if (s->file != NULL && len > 0 && fwrite(chunk, 1, len, s->file) != len)
        return sink_fail(s, "write");
    s->bytes += len;
    return true;
}

bool sink_restart(sink_t *s)
{
    s->bytes = 0;
    if (s->err != 0 || s->file == NULL)
        return s->err == 0;
    if (fflush(s->file) != 0 || ftruncate(fileno(s->file), 0) != 0)
        return sink_fail(s, "write");
    rewind(s->file);
    return true;
}

bool sink_printf(sink_t *s, const char *fmt, ...)
{
    if (s->err != 0 || !sink_open(s))
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = s->file != NULL ? vfprintf(s->file, fmt, ap) : vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return sink_fail(s, "write");
    s->bytes += (uint64_t)n;
    return true;
}

bool sink_close(sink_t *s)
{
    bool ok = s->err == 0;
    if (s->file == stdout)
        ok = fflush(stdout) == 0 && !ferror(stdout) ? ok : sink_fail(s, "write");
    else if (s->file != NULL && fclose(s->file) != 0 && ok)
        ok = sink_fail(s, "write");
    s->file = NULL;
    return ok;
}
