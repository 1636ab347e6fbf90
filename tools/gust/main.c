/* gust: the command-line face of the HTTP client.
 *
 *     gust get URL             one request, curl-like
 *     gust fetch [FILE]        many URLs, JSON lines out, progress and summary
 *     gust bench URL           a wrk-like load run
 *     gust demo                fetch a few thousand URLs of a built-in local site */
#include <string.h>

#include "tools/gust/internal.h"

static const char usage[] = "usage: gust [--help | --version] COMMAND [ARGS...]\n";

static const char help[] =
    "\n"
    "An HTTP/1.1 and HTTPS client on gust's work-stealing runtime.\n"
    "\n"
    "commands:\n"
    "  get URL        send one request and write the body to stdout (like curl)\n"
    "  fetch [FILE]   fetch the URLs listed in FILE or stdin, many at a time, and\n"
    "                 write one JSON line per result\n"
    "  bench URL      keep N requests in flight and report rates and latencies\n"
    "  demo           start a local site and fetch a few thousand of its URLs\n"
    "  help COMMAND   the options of COMMAND (as COMMAND --help)\n"
    "\n"
    "  -h, --help     this help\n"
    "  -V, --version  the version\n";

typedef struct command_s {
    const char *name;
    int (*main)(int argc, char **argv);
} command_t;

static const command_t commands[] = {
    {"get", get_main},
    {"fetch", fetch_main},
    {"bench", bench_main},
    {"demo", demo_main},
};

static const command_t *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return args_usage_error("gust", usage, "a command is needed (get, fetch, bench, demo)");
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        fputs(usage, stdout);
        fputs(help, stdout);
        return EXIT_DONE;
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("gust %s\n", GUST_CLI_VERSION);
        return EXIT_DONE;
    }
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            fputs(usage, stdout);
            fputs(help, stdout);
            return EXIT_DONE;
        }
        const command_t *c = find(argv[2]);
        if (c == NULL)
            return args_usage_error("gust", usage, "unknown command '%s'", argv[2]);
        char *args[] = {argv[2], "--help", NULL};
        return c->main(2, args);
    }
    const command_t *c = find(name);
    if (c == NULL) {
        if (name[0] == '-')
            return args_usage_error("gust", usage, "unknown option %s", name);
        return args_usage_error("gust", usage, "unknown command '%s'", name);
    }
    return c->main(argc - 1, argv + 1);
}
