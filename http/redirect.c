/* Following redirects (RFC 9110 section 15.4), with the rules browsers and
 * careful clients keep:
 * - 303 turns any method but HEAD into GET without a body; 301 and 302 do
 *   the same for POST (what every browser does, and what servers expect);
 *   307 and 308 resend the same method and body.
 * - Only http and https targets; anything else (file:, ftp:) is refused.
 * - Credentials stay with their origin: Authorization, Proxy-Authorization
 *   and Cookie are dropped when the scheme, host or port changes (and a
 *   Host set by the caller, which named the old origin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gust/err.h"
#include "http/internal.h"

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* A Location with a scheme ("https:...", "file:...") is absolute. */
static bool has_scheme(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return n > 0 && s[n] == ':' && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
}

/* Resolves `location` against the current URL (RFC 3986 section 5.2, less
 * the removal of dot segments, which servers resolve themselves). Returns a
 * malloc'd absolute URL, or NULL when out of memory. */
static char *resolve(const gust_url_t *base, const char *location)
{
    const char *scheme = base->https ? "https" : "http";
    char *out = NULL;
    int rc;
    if (has_scheme(location)) {
        out = strdup(location);
        return out;
    }
    if (location[0] == '/' && location[1] == '/') {
        rc = asprintf(&out, "%s:%s", scheme, location);
    } else if (location[0] == '/') {
        rc = asprintf(&out, "%s://%s%s", scheme, base->authority, location);
    } else {
        /* Relative to the base's path: up to its last '/', or before its
         * query for a Location that is only a query. */
        const char *target = base->target;
        size_t keep = strcspn(target, "?");
        if (location[0] != '?') {
            while (keep > 0 && target[keep - 1] != '/')
                keep--;
        }
        rc = asprintf(&out, "%s://%s%.*s%s", scheme, base->authority, (int)keep, target, location);
    }
    return rc < 0 ? NULL : out;
}

static void drop_header(call_t *call, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < call->num_headers; i++) {
        if (strcasecmp(call->headers[i].name, name) != 0)
            call->headers[kept++] = call->headers[i];
    }
    call->num_headers = kept;
}

static bool same_origin(const gust_url_t *a, const gust_url_t *b)
{
    return a->https == b->https && a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

bool gust__redirect_wanted(const call_t *call, const gust_response_t *response)
{
    if (!is_redirect(gust_response_status(response)) || call->max_redirects == 0)
        return false;
    const char *location = gust_response_header(response, "Location");
    return location != NULL && *location != '\0';
}

int gust__redirect(call_t *call, const gust_response_t *response, const char **out_why)
{
    if (!gust__redirect_wanted(call, response))
        return 0;
    int status = gust_response_status(response);
    const char *location = gust_response_header(response, "Location");
    if (call->num_redirects >= call->max_redirects) {
        *out_why = "too many redirects";
        return GUST_ERR_TOO_MANY_REDIRECTS;
    }
    char *next_text = resolve(&call->url, location);
    if (next_text == NULL) {
        *out_why = "out of memory";
        return GUST_ERR_NOMEM;
    }
    gust_url_t next;
    int err = gust_url_parse(next_text, &next, out_why);
    if (err != 0) {
        free(next_text);
        if (err == GUST_ERR_SCHEME)
            *out_why = "redirect to a scheme other than http or https";
        else if (err == GUST_ERR_URL)
            *out_why = "redirect to a malformed URL";
        /* Too long keeps its own code: *out_why names the resolved URL's
         * length and the limit. */
        return err == GUST_ERR_NOMEM || err == GUST_ERR_URL_TOO_LONG ? err
                                                                     : GUST_ERR_REDIRECT_REFUSED;
    }

    bool to_get = (status == 303 && strcmp(call->method, "HEAD") != 0) ||
                  ((status == 301 || status == 302) && strcmp(call->method, "POST") == 0);
    if (!to_get && call->body_read != NULL) {
        free(next_text);
        gust_url_clear(&next);
        *out_why = "cannot resend a body read from a callback";
        return GUST_ERR_REDIRECT_REFUSED;
    }
    if (to_get) {
        /* Fits in the call: cannot fail. */
        (void)gust__call_set_method(call, "GET");
        free(call->body);
        call->body = NULL;
        call->body_len = 0;
        call->body_read = NULL;
        drop_header(call, "Content-Type");
    }
    if (!same_origin(&call->url, &next)) {
        drop_header(call, "Authorization");
        drop_header(call, "Proxy-Authorization");
        drop_header(call, "Cookie");
        drop_header(call, "Host"); /* it named the old origin */
    }
    gust_url_clear(&call->url);
    call->url = next;
    free(call->url_text);
    call->url_text = next_text;
    return 1;
}
