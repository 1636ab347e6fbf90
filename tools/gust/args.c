/* Option parsing for every subcommand: a table per command, getopt_long's
 * spellings, and errors as one line plus the usage. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gust/internal.h"

void args_init(args_t *a, int argc, char **argv)
{
    *a = (args_t){.argc = argc, .argv = argv, .next = 1};
}

static int bad(args_t *a, const char *fmt, const char *what)
{
    snprintf(a->error, sizeof(a->error), fmt, what);
    return ARGS_BAD;
}

static int take_short(args_t *a, const args_opt_t *table)
{
    char c = *a->cluster++;
    for (const args_opt_t *o = table; o->id != 0; o++) {
        if (o->short_name != c)
            continue;
        if (!o->takes_value) {
            if (*a->cluster == '\0')
                a->cluster = NULL;
            return o->id;
        }
        if (*a->cluster != '\0') {
            a->value = a->cluster; /* -ofile */
        } else if (a->next < a->argc) {
            a->value = a->argv[a->next++];
        } else {
            char name[3] = {'-', c, '\0'};
            return bad(a, "option %s needs a value", name);
        }
        a->cluster = NULL;
        return o->id;
    }
    char name[3] = {'-', c, '\0'};
    a->cluster = NULL;
    return bad(a, "unknown option %s", name);
}

static int take_long(args_t *a, const args_opt_t *table, const char *arg)
{
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    for (const args_opt_t *o = table; o->id != 0; o++) {
        if (o->long_name == NULL || strlen(o->long_name) != len ||
            strncmp(o->long_name, name, len) != 0)
            continue;
        if (!o->takes_value) {
            if (eq != NULL)
                return bad(a, "option --%s takes no value", o->long_name);
            return o->id;
        }
        if (eq != NULL)
            a->value = eq + 1;
        else if (a->next < a->argc)
            a->value = a->argv[a->next++];
        else
            return bad(a, "option --%s needs a value", o->long_name);
        return o->id;
    }
    return bad(a, "unknown option %s", arg);
}

int args_next(args_t *a, const args_opt_t *table)
{
    a->value = NULL;
    if (a->cluster != NULL)
        return take_short(a, table);
    if (a->next >= a->argc)
        return ARGS_END;
    const char *arg = a->argv[a->next++];
    if (a->options_done || arg[0] != '-' || arg[1] == '\0') {
        a->value = arg;
        return ARGS_ARGUMENT;
    }
    if (strcmp(arg, "--") == 0) {
        a->options_done = true;
        return args_next(a, table);
    }
    if (arg[1] == '-')
        return take_long(a, table, arg);
    a->cluster = arg + 1;
    return take_short(a, table);
}

bool args_uint(args_t *a, const char *what, const char *s, unsigned long min, unsigned long max,
               unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
        snprintf(a->error, sizeof(a->error), "%s must be a whole number from %lu to %lu, not '%s'",
                 what, min, max, s);
        return false;
    }
    *out = (unsigned long)v;
    return true;
}

bool args_seconds(args_t *a, const char *what, const char *s, double max_s, uint64_t *out_ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > max_s) {
        snprintf(a->error, sizeof(a->error),
                 "%s must be a number of seconds above 0 and at most %g, not '%s'", what, max_s, s);
        return false;
    }
    uint64_t ns = (uint64_t)(v * 1e9);
    *out_ns = ns > 0 ? ns : 1;
    return true;
}

bool args_one(args_t *a, const char *what, const char **slot)
{
    if (*slot != NULL) {
        snprintf(a->error, sizeof(a->error), "one %s at most ('%s' and '%s')", what, *slot,
                 a->value);
        return false;
    }
    *slot = a->value;
    return true;
}

int args_help(const char *usage, const char *help)
{
    fputs(usage, stdout);
    fputs(help, stdout);
    return EXIT_DONE;
}

int args_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(usage, stderr);
    fprintf(stderr, "Run '%s --help' for more.\n", cmd);
    return EXIT_USAGE;
}
