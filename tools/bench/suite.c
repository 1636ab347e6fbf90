/* tools/bench/suite.c: see suite.h. */
#include "tools/bench/suite.h"
#include "tools/bench/measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bench_flag(const char *arg, bench_flags_t *f)
{
    unsigned long v;
    if (bench_flag_ulong(arg, "--requests", 1, 1000000000, &v)) {
        f->requests = v;
    } else if (bench_flag_ulong(arg, "--runs", 1, BENCH_MAX_RUNS, &v)) {
        f->runs = (int)v;
    } else if (bench_flag_ulong(arg, "--threads", 1, 256, &v)) {
        f->threads = (unsigned)v;
    } else if (bench_flag_ulong(arg, "--nginx-workers", 1, 64, &v)) {
        f->nginx_workers = (unsigned)v;
    } else if (strncmp(arg, "--only=", 7) == 0) {
        f->only = arg + 7;
    } else if (strncmp(arg, "--concurrency=", 14) == 0) {
        f->num_concurrencies = 0;
        for (const char *p = arg + 14; *p != '\0';) {
            char *end;
            v = strtoul(p, &end, 10);
            if (end == p || v == 0 || v > 100000 ||
                f->num_concurrencies == BENCH_MAX_CONCURRENCIES || (*end != ',' && *end != '\0')) {
                fprintf(stderr, "bench: --concurrency wants up to %d numbers, e.g. 10,100\n",
                        BENCH_MAX_CONCURRENCIES);
                exit(2);
            }
            f->concurrencies[f->num_concurrencies++] = (unsigned)v;
            p = *end == ',' ? end + 1 : end;
        }
        return f->num_concurrencies > 0;
    } else {
        return false;
    }
    return true;
}

/* A result that ran but got wrong answers counts as failed. */
static void check_result(const bench_case_t *c, const bench_load_t *load, bench_result_t *r)
{
    if (r->status != BENCH_OK)
        return;
    unsigned long requests = load->requests;
    if (r->requests != requests)
        bench_set_why(r, BENCH_FAILED, "%lu of %lu requests answered 200", r->requests, requests);
    else if (r->body_bytes != (uint64_t)requests * c->body_len)
        bench_set_why(r, BENCH_FAILED, "%llu body bytes, want %llu",
                      (unsigned long long)r->body_bytes,
                      (unsigned long long)requests * c->body_len);
    else if (r->wall_ns == 0)
        bench_set_why(r, BENCH_FAILED, "no wall time measured");
    else if (load->new_conn_per_request && r->connections != 0 && r->connections != requests)
        bench_set_why(r, BENCH_FAILED, "%lu connections opened for %lu requests, want one each",
                      r->connections, requests);
    else if (load->new_conn_per_request && r->server_seen && r->server_connections != requests)
        bench_set_why(r, BENCH_FAILED, "the server saw %lu connections for %lu requests",
                      r->server_connections, requests);
}

/* One run of peer `i` with `requests`: `timed` records it as run `run`. */
static void run_peer(const bench_suite_t *suite, bench_case_t *c, int i, unsigned long requests,
                     bool timed, int run)
{
    const bench_peer_t *p = &suite->peers[i];
    bench_figures_t *fig = &c->fig[i];
    if (fig->status != BENCH_OK)
        return; /* missing or failed earlier: not again in this case */
    if (suite->only != NULL && strncmp(p->name, suite->only, strlen(suite->only)) != 0)
        return;
    bench_load_t load = c->load;
    load.requests = requests;
    bench_result_t r = p->run(&load);
    if (c->observe != NULL)
        c->observe(c->observe_arg, &load, &r);
    check_result(c, &load, &r);
    fig->threads = r.threads;
    if (r.status != BENCH_OK) {
        fig->status = r.status;
        snprintf(fig->why, sizeof(fig->why), "%s", r.why);
        printf("  %-14s c=%-4u %s: %s\n", p->name, load.concurrency,
               r.status == BENCH_MISSING ? "missing" : "FAILED", r.why);
        fflush(stdout);
        return;
    }
    if (!timed)
        return;
    double per_s = (double)requests / ((double)r.wall_ns / 1e9);
    double cpu_us = (double)r.cpu_ns / 1e3 / (double)requests;
    fig->per_s[fig->num] = per_s;
    fig->cpu_us[fig->num] = cpu_us;
    fig->num++;
    char conns[48] = "", server[96] = "";
    if (r.connections > 0)
        snprintf(conns, sizeof(conns), ", %lu connections", r.connections);
    if (r.server_seen) {
        fig->server_connections += r.server_connections;
        fig->server_resumed += r.server_resumed;
        snprintf(fig->server_tls, sizeof(fig->server_tls), "%s", r.server_tls);
        snprintf(server, sizeof(server), "; nginx saw %lu connections, %lu resumed",
                 r.server_connections, r.server_resumed);
    }
    printf("  %-14s c=%-4u run %d: %9.0f %s  %7.2f us CPU/%s  (%u thread%s%s%s)\n", p->name,
           load.concurrency, run + 1, per_s, c->rate, cpu_us, c->unit, r.threads,
           r.threads == 1 ? "" : "s", conns, server);
    fflush(stdout);
}

void bench_case_run(const bench_suite_t *suite, bench_case_t *c)
{
    unsigned long requests = c->load.requests;
    unsigned long warm = requests / 10 > c->load.concurrency ? requests / 10 : c->load.concurrency;
    for (int i = 0; i < suite->num_peers; i++)
        run_peer(suite, c, i, warm, false, 0);
    for (int run = 0; run < suite->num_runs; run++) {
        for (int i = 0; i < suite->num_peers; i++)
            run_peer(suite, c, i, requests, true, run);
    }
}

void bench_print_table_head(const char *lead, const char *rate, const char *unit, bool resumed)
{
    printf("| client | threads | concurrency |");
    if (lead != NULL)
        printf(" %s |", lead);
    printf(" %s | CPU us/%s |%s %s vs gust | CPU/%s vs gust |\n", rate, unit,
           resumed ? " resumed |" : "", rate, unit);
    printf("|---|---:|---:|%s---:|---:|%s---:|---:|\n", lead != NULL ? "---|" : "",
           resumed ? "---:|" : "");
}

static void format_ratio(char *buf, size_t cap, double value, double gust, bool have_gust)
{
    if (have_gust && gust > 0)
        snprintf(buf, cap, "%.2fx", value / gust);
    else
        snprintf(buf, cap, "-");
}

void bench_case_print_rows(const bench_suite_t *suite, const bench_case_t *c, const char *lead,
                           bool resumed)
{
    const bench_figures_t *gust = &c->fig[0];
    bool have_gust = gust->status == BENCH_OK && gust->num > 0;
    double gust_per_s = have_gust ? bench_median(gust->per_s, gust->num) : 0;
    double gust_cpu = have_gust ? bench_median(gust->cpu_us, gust->num) : 0;
    for (int i = 0; i < suite->num_peers; i++) {
        const bench_figures_t *fig = &c->fig[i];
        char threads[16];
        snprintf(threads, sizeof(threads), "%u", fig->threads);
        printf("| %s | %s | %u |", suite->peers[i].name, fig->threads > 0 ? threads : "-",
               c->load.concurrency);
        if (lead != NULL)
            printf(" %s |", lead);
        if (fig->status != BENCH_OK || fig->num == 0) {
            printf(" %s: %s |%s | | |\n", fig->status == BENCH_MISSING ? "missing" : "failed",
                   fig->why, resumed ? " |" : "");
            continue;
        }
        double per_s = bench_median(fig->per_s, fig->num);
        double cpu = bench_median(fig->cpu_us, fig->num);
        printf(" %.0f | %.2f |", per_s, cpu);
        if (resumed && fig->server_connections > 0)
            printf(" %.1f%% |",
                   100.0 * (double)fig->server_resumed / (double)fig->server_connections);
        else if (resumed)
            printf(" - |");
        char r_per_s[16], r_cpu[16];
        format_ratio(r_per_s, sizeof(r_per_s), per_s, gust_per_s, have_gust);
        format_ratio(r_cpu, sizeof(r_cpu), cpu, gust_cpu, have_gust);
        printf(" %s | %s |\n", r_per_s, r_cpu);
    }
}
