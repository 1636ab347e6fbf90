/* Messages and names of every error code: gust's own from the layers' lists,
 * errno values from the C library (strerrorname_np and strerrordesc_np,
 * glibc 2.32, under the library's _GNU_SOURCE). */
#include "gust/err.h"

#include <string.h>

#include "gust/http_err.h"

/* Every list of codes with a gust name, runtime first. */
#define ALL_ERR_MAPS(XX) GUST_ERR_MAP(XX) GUST_HTTP_ERR_MAP(XX)

/* An errno value's name or message from glibc (static strings, any thread),
 * or NULL for a number that is no errno value. */
static const char *errno_text(int err, const char *(*text)(int))
{
    return err < 0 && err >= -GUST_ERR_ERRNO_MAX ? text(-err) : NULL;
}

const char *gust_strerror(int err)
{
    switch (err) {
    case GUST_OK:
        return "success";
#define MESSAGE_(name, code, message)                                                              \
    case code:                                                                                     \
        return message;
        ALL_ERR_MAPS(MESSAGE_)
#undef MESSAGE_
    }
    const char *text = errno_text(err, strerrordesc_np);
    return text != NULL ? text : "unknown error";
}

const char *gust_err_name(int err)
{
    switch (err) {
    case GUST_OK:
        return "OK";
#define NAME_(name, code, message)                                                                 \
    case code:                                                                                     \
        return #name;
        ALL_ERR_MAPS(NAME_)
#undef NAME_
    }
    const char *name = errno_text(err, strerrorname_np);
    return name != NULL ? name : "UNKNOWN";
}
