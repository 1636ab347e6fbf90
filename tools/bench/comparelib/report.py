"""The report of tools/bench/compare: a markdown table per part, each figure
with its ratio to gust's in the same case, the issue's goals measured, the
whole as results.md and results.json, and a PNG chart of part 1's req/s
(gnuplot)."""
import json
import os
import shutil
import subprocess


def _fmt(value, digits=0):
    if value is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(value)
    return "{:.{}f}".format(value, digits)


def _ratio(value, base):
    if value is None or not base:
        return "-"
    return "%.2fx" % (value / base)


def _status(row):
    """What a row shows instead of figures, or None."""
    if row.get("missing"):
        return "missing: " + row["missing"]
    if row.get("failed"):
        return "failed: " + row["failed"]
    if row.get("pending"):
        return "not run (interrupted)"
    return None


def table(header, rows):
    if not rows:
        return "(no client of this part was selected)"
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def part1(rows):
    out = []
    base = {r["case"]: r for r in rows if r["peer"] == "gust" and not _status(r)}
    for r in rows:
        g = base.get(r["case"], {})
        st = _status(r)
        if st:
            out.append([r["case"], r["label"], "-", "-", "-", "-", "-", "-", "-", st])
            continue
        out.append([r["case"], r["label"], _fmt(r["requests"]), _fmt(r["req_s"]),
                    _ratio(r["req_s"], g.get("req_s")), _fmt(r["cpu_us"], 1),
                    _ratio(r["cpu_us"], g.get("cpu_us")), _fmt(r["rss_mib"], 1),
                    _ratio(r["rss_mib"], g.get("rss_mib")), r.get("note", "")])
    return ("Keep-alive GETs from nginx on 127.0.0.1. x gust: the row's figure over gust's "
            "(library) in the same case: above 1 is more req/s, more CPU, more memory. CPU is "
            "user + system of the client process (all threads, from wait4) per answered "
            "request; RSS is its peak.\n\n" +
            table(["case", "client", "requests", "req/s", "x gust", "CPU us/req", "x gust",
                   "peak RSS MiB", "x gust", "note"], out))


def part2(rows):
    out = []
    base = {r["limit"]: r for r in rows if r["peer"] == "gust" and not _status(r)}
    for r in rows:
        st = _status(r)
        limit = "10" if r["limit"] else "none"
        if st:
            out.append([limit, r["label"], "-", _fmt(r["floor_ms"]), "-", "-", "-", st])
            continue
        g = base.get(r["limit"], {})
        out.append([limit, r["label"], _fmt(r["wall_ms"], 1), _fmt(r["floor_ms"]),
                    "%.2fx" % (r["wall_ms"] / r["floor_ms"]), _ratio(r["wall_ms"], g.get("wall_ms")),
                    _fmt(r.get("connections")), r.get("note", "")])
    return ("100 GETs alternating between two ports of compare_servers, each answered 50 ms "
            "after it came, all asked for at once with at most 10 connections (or no limit). "
            "floor = rounds x 50 ms (rounds = 100 / limit); x floor: the run's wall time over "
            "it; x gust: over gust's (library) wall time (above 1 is slower).\n\n" +
            table(["conn limit", "client", "wall ms", "floor ms", "x floor", "x gust",
                   "connections", "note"], out))


def _gust_bench(rows, server, pipelined):
    """Part 3's gust bench row against server, with or without pipelining;
    without, it is the baseline."""
    return next((r for r in rows if r["peer"] == "gust-bench" and r["server"] == server
                 and (r["pipeline"] > 1) == pipelined and not _status(r)), None)


def part3(rows):
    out = []
    for r in rows:
        st = _status(r)
        if st:
            out.append([r["server"], r["label"], r["shape"], "-", "-", "-", "-", st])
            continue
        base = _gust_bench(rows, r["server"], False) or {}
        out.append([r["server"], r["label"], r["shape"], _fmt(r["requests"]),
                    _fmt(r["req_s"]), _ratio(r["req_s"], base.get("req_s")),
                    _fmt(r["cpu_us"], 1), r.get("note", "")])
    return ("HTTP/1.1 pipelining: 1 KiB keep-alive GETs, connections x requests in flight on "
            "each, from nginx (which writes each answer with a writev of its own) "
            "and from compare_servers /now/1024 (which answers the requests of one read in "
            "one write). x gust: over `gust bench` without pipelining against the same "
            "server.\n\n" +
            table(["server", "client", "conns x depth", "requests", "req/s",
                   "x gust (no pipelining)", "CPU us/req", "note"], out))


def part4(rows):
    out = []
    base = next((r for r in rows if r["peer"] == "gust" and not _status(r)), {})
    for r in rows:
        st = _status(r)
        if st:
            out.append([r["label"], _fmt(r["connections"]), "-", "-", "-", "-", st])
            continue
        out.append([r["label"], _fmt(r["connections"]), _fmt(r["rss_mib"], 1),
                    _ratio(r["rss_mib"], base.get("rss_mib")), _fmt(r["cpu_s"], 2),
                    _fmt(r["wall_s"], 2), r.get("note", "")])
    return ("Keep-alive connections held open at once against compare_servers (it answers "
            "/hold/N only when N requests wait, so every request needs a connection of its own). "
            "RSS: the client's peak; CPU: user + system for the whole program.\n\n" +
            table(["client", "connections", "peak RSS MiB", "x gust", "CPU s", "wall s", "note"],
                  out))


def part5(result):
    if result.get("missing") or result.get("failed"):
        return _status(result)
    lines = [l for l in result["output"].splitlines() if l.startswith("|")]
    return ("`tools/bench/pool %s` (x: the row's time over gust's; see its own output for the "
            "full report):\n\n" % result["args"] + "\n".join(lines))


TITLES = {
    "1": "1. Keep-alive throughput",
    "2": "2. 100 URLs, two hosts, 50 ms each",
    "3": "3. HTTP/1.1 pipelining",
    "4": "4. Open connections held",
    "5": "5. Executor (pool benchmark)",
}
RENDER = {"1": part1, "2": part2, "3": part3, "4": part4, "5": part5}


def goals(results):
    """The issue's goals: (goal, measured, verdict) with verdict met, not
    met or not measured."""
    out = []
    p1 = results["parts"].get("1", [])

    def row(peer, case="1 KiB c=100"):
        return next((r for r in p1 if r["peer"] == peer and r["case"] == case
                     and not _status(r)), None)

    gust = row("gust")

    def versus(peer, goal, factor, cpu=False):
        other = row(peer)
        if gust is None or other is None:
            out.append((goal, "not measured", "not measured"))
            return
        ratio = gust["req_s"] / other["req_s"]
        met = ratio >= factor
        text = "gust %s req/s vs %s req/s: %.2fx" % (_fmt(gust["req_s"]), _fmt(other["req_s"]),
                                                     ratio)
        if cpu:
            met = met and gust["cpu_us"] <= other["cpu_us"]
            text += "; CPU %.1f vs %.1f us/req" % (gust["cpu_us"], other["cpu_us"])
        out.append((goal, text, "met" if met else "not met"))

    versus("h2load", "c=100, 1 KiB: at least h2load's req/s at no more CPU per request", 1.0, True)
    versus("libcurl", "c=100, 1 KiB: at least 2x libcurl multi's req/s", 2.0)
    versus("aiohttp", "c=100, 1 KiB: at least 15x aiohttp's req/s", 15.0)

    p3 = results["parts"].get("3", [])
    goal = "pipelining depth 16: at least 2x gust's own non-pipelined req/s"
    gains = {}
    for server in ("compare_servers", "nginx"):
        plain = _gust_bench(p3, server, False)
        piped = _gust_bench(p3, server, True)
        if plain and piped:
            gains[server] = (piped["req_s"], plain["req_s"])
    if gains:
        text = "; ".join("%s: %s vs %s req/s, %.2fx" % (server, _fmt(piped), _fmt(plain),
                                                         piped / plain)
                         for server, (piped, plain) in gains.items())
        # Judged where the server does not cap it: nginx's one worker writes
        # each pipelined answer on its own, so there the gain is its limit.
        judged = gains.get("compare_servers")
        verdict = ("not measured" if judged is None else
                   "met" if judged[0] / judged[1] >= 2 else "not met")
        out.append((goal, text, verdict))
    else:
        out.append((goal, "not measured", "not measured"))

    p2 = [r for r in results["parts"].get("2", []) if r["peer"] == "gust" and not _status(r)]
    goal = "100-URL case within 10% of the floor"
    if len(p2) == 2:
        worst = max(r["wall_ms"] / r["floor_ms"] for r in p2)
        out.append((goal, ", ".join("limit %s: %.2fx" % (r["limit"] or "none",
                                                          r["wall_ms"] / r["floor_ms"])
                                    for r in p2), "met" if worst <= 1.10 else "not met"))
    else:
        out.append((goal, "not measured", "not measured"))

    p4 = next((r for r in results["parts"].get("4", []) if r["peer"] == "gust"
               and not _status(r)), None)
    goal = "10k open connections under 64 MiB client RSS"
    if p4:
        text = "%.1f MiB at %d connections" % (p4["rss_mib"], p4["connections"])
        verdict = "met" if p4["rss_mib"] < 64 else "not met"
        if p4["connections"] < 10000:
            verdict += " (at %d, not 10k)" % p4["connections"]
        out.append((goal, text, verdict))
    else:
        out.append((goal, "not measured", "not measured"))
    return out


def markdown(results):
    meta = results["meta"]
    parts = ["# gust beside its peers", "",
             "%s, gust %s, %s, %d CPUs (%s), load average at start %s. Command: `%s`; %s." % (
                 meta["date"], meta["commit"], meta["machine"], meta["nproc"], meta["cpu"],
                 meta["loadavg"], meta["command"], meta["mode"])]
    if meta.get("clients"):
        parts += ["", "Clients: " + "; ".join("%s: %s" % kv for kv in meta["clients"].items()) +
                  "."]
    for key in sorted(results["parts"]):
        parts += ["", "## " + TITLES[key], "", RENDER[key](results["parts"][key])]
    parts += ["", "## Goals (issue 8)", "",
              table(["goal", "measured", "verdict"], results["goals"])]
    if results.get("chart"):
        parts += ["", "![part 1 req/s](%s)" % os.path.basename(results["chart"])]
    return "\n".join(parts) + "\n"


def chart(results, out_dir):
    """part1.png: req/s per client and case, log scale; returns its path, or
    None with no gnuplot or no part 1."""
    rows = results["parts"].get("1")
    gnuplot = shutil.which("gnuplot")
    if not rows or gnuplot is None:
        return None
    cases = list(dict.fromkeys(r["case"] for r in rows))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    data = os.path.join(out_dir, "part1.dat")
    with open(data, "w") as f:
        for label in labels:
            values = []
            for case in cases:
                r = next((r for r in rows if r["label"] == label and r["case"] == case), None)
                values.append("%.1f" % r["req_s"] if r and not _status(r) else "?")
            f.write('"%s" %s\n' % (label, " ".join(values)))
    terms = subprocess.run([gnuplot, "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout
    term = "pngcairo size 1200,600" if "pngcairo" in terms else "png size 1200,600"
    png = os.path.join(out_dir, "part1.png")
    plot = ", ".join("'%s' using %d:xtic(1) title '%s'" % (data if i == 0 else "", i + 2, c)
                     for i, c in enumerate(cases))
    script = "\n".join([
        "set terminal " + term, "set output '%s'" % png,
        "set title 'keep-alive GETs from local nginx: req/s per client (log scale)'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set datafile missing '?'",
        "set logscale y", "set ylabel 'requests per second'", "set grid ytics",
        "set xtics rotate by -30 scale 0", "set key top right", "set yrange [10:*]",
        "plot " + plot, ""])
    p = subprocess.run([gnuplot], input=script, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return png if p.returncode == 0 and os.path.exists(png) else None


def write(results, out_dir):
    """results.md (returned as text too), results.json, part1.png."""
    results["chart"] = chart(results, out_dir)
    text = markdown(results)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    return text
