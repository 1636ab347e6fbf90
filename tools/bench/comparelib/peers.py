"""The clients tools/bench/compare puts beside gust: how each is run for a
keep-alive load (part 1), for a list of URLs under a connection limit
(part 2), and how its output is read back.

Every peer's output becomes a dict {ok, failures, wall_s, why}: answers with
status 200, everything else, and the seconds from the first request to the
last answer as the client itself reports them (for gust fetch, which does
not, the wall time of the whole process). CPU time and peak RSS come from
wait4 for every peer alike (comparelib/run.py)."""
import os
import re
import shutil
import subprocess
import sys

from . import run


class Unreadable(Exception):
    """The output has no result in it."""


class Missing(Exception):
    """The peer cannot run here; the message says why."""


def _num(pattern, text, default=None, cast=float):
    m = re.search(pattern, text, re.M)
    if m is None:
        if default is None:
            raise Unreadable("no match for %r" % pattern)
        return default
    return cast(m.group(1))


def _seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


class Peer:
    """A client. `scale` shrinks its request counts (slow clients), `missing`
    is the reason it cannot run, or None."""

    name = label = ""
    scale = 1.0
    duration_based = False
    urls_why = None  # why it cannot take part 2, or None

    def __init__(self):
        self.missing = None

    def prepare(self, bins):
        """Finds what the peer needs; sets self.missing when something is."""

    def version_argv(self):
        """A command whose first line of output names the peer's version."""
        return None

    def version(self):
        """That line (at most 60 characters), or "?"."""
        argv = None if self.missing else self.version_argv()
        if argv is None:
            return "?"
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        return (p.stdout.strip().splitlines() or ["?"])[0][:60]

    def load_argv(self, url, requests, concurrency, duration_s):
        raise NotImplementedError

    def urls_argv(self, urls, limit, tmp_dir):
        raise NotImplementedError

    def parse(self, measured):
        """The result in a finished run's output; raises Unreadable or Missing."""
        return parse_result_line(measured.output)


def parse_result_line(text):
    """The line every peer of ours prints (compare_peer.h, peers/peerlib.py)."""
    m = re.search(r"^compare-missing why=(.*)$", text, re.M)
    if m:
        raise Missing(m.group(1).strip())
    m = re.search(r"^compare-result ok=(\d+) failed=(\d+) wall_s=([\d.]+) connections=(\d+) "
                  r"why=(.*)$", text, re.M)
    if m is None:
        raise Unreadable("no compare-result line")
    return {"ok": int(m.group(1)), "failures": int(m.group(2)), "wall_s": float(m.group(3)),
            "connections": int(m.group(4)) or None, "why": m.group(5).strip()}


class OwnProtocol(Peer):
    """A peer program of ours: PROGRAM load|urls|hold ... (compare_peer.h)."""

    def command(self):
        raise NotImplementedError

    def load_argv(self, url, requests, concurrency, duration_s):
        return self.command() + ["load", "--requests=%d" % requests,
                                 "--concurrency=%d" % concurrency, url]

    def urls_argv(self, urls, limit, tmp_dir):
        return self.command() + ["urls", "--limit=%d" % limit] + list(urls)

    def hold_argv(self, url, connections):
        return self.command() + ["hold", "--connections=%d" % connections, url]


class Built(OwnProtocol):
    """A program of tools/bench built by Bazel."""

    target = ""

    def prepare(self, bins):
        self.path = bins.get(self.target)
        if bins.get("why"):
            self.missing = bins["why"]
        elif self.path is None or not os.access(self.path, os.X_OK):
            self.missing = "binary not found: bazel-bin/" + self.target

    def command(self):
        return [self.path]

    def version_argv(self):
        return self.command() + ["--version"]


class GustLib(Built):
    name, label, target = "gust", "gust (library)", "tools/bench/gust_peer"


class Curl(Built):
    name, label, target = "libcurl", "libcurl multi", "tools/bench/curl_multi_peer"


class GustBench(Peer):
    """`gust bench` (and, for a list of URLs, `gust fetch`)."""

    name, label, target = "gust-bench", "gust bench (CLI)", "tools/gust/gust"

    def prepare(self, bins):
        Built.prepare(self, bins)

    def version_argv(self):
        return [self.path, "--version"]

    def load_argv(self, url, requests, concurrency, duration_s, pipeline=1):
        argv = [self.path, "bench", "-c", str(concurrency), "-n", str(requests)]
        if pipeline > 1:
            argv += ["--pipeline", str(pipeline)]
        return argv + [url]

    def urls_argv(self, urls, limit, tmp_dir):
        path = os.path.join(tmp_dir, "urls.txt")
        with open(path, "w") as f:
            f.write("\n".join(urls) + "\n")
        return [self.path, "fetch", "-q", "-c", str(limit or len(urls)), path]

    def parse(self, measured):
        text = measured.output
        if "gust bench:" not in text:
            # gust fetch: one JSON line per URL.
            ok = len(re.findall(r'"status":200\b', text))
            lines = len(re.findall(r'^\{"index"', text, re.M))
            if lines == 0:
                raise Unreadable("no JSON lines from gust fetch")
            return {"ok": ok, "failures": lines - ok, "wall_s": measured.wall_s,
                    "why": "" if ok == lines else "a request failed", "connections": None,
                    "note": "gust fetch; process wall time"}
        done = _num(r"gust bench: (\d+) requests in", text, cast=int)
        rate = _num(r"requests in [\d.]+ s: ([\d.]+) req/s", text)
        errors = _num(r"errors (\d+)", text, cast=int)
        return {"ok": done - errors, "failures": errors, "wall_s": done / rate if rate else 0,
                "why": "" if errors == 0 else re.search(r"errors .*", text).group(0),
                "connections": _num(r"connections: (\d+) opened", text, 0, int) or None}


class System(Peer):
    """A program found in $PATH."""

    program = ""

    def prepare(self, bins):
        self.path = shutil.which(self.program)
        if self.path is None:
            self.missing = "%s not found (tools/setup installs it)" % self.program

    def version_argv(self):
        return [self.path, self.version_flag]


class H2load(System):
    name, label, program = "h2load", "h2load --h1", "h2load"
    version_flag = "--version"
    urls_why = "one host per run"

    def load_argv(self, url, requests, concurrency, duration_s):
        threads = min(os.cpu_count() or 1, concurrency)
        return [self.path, "--h1", "-n", str(requests), "-c", str(concurrency), "-t", str(threads),
                url]

    def parse(self, measured):
        text = measured.output
        m = re.search(r"finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s", text)
        if m is None:
            raise Unreadable("no 'finished in' line")
        ok = _num(r"status codes: (\d+) 2xx", text, cast=int)
        done = _num(r"requests: \d+ total, \d+ started, (\d+) done", text, cast=int)
        return {"ok": ok, "failures": done - ok, "wall_s": _seconds(m.group(1), m.group(2)),
                "why": "" if done == ok else "non-2xx or errors", "connections": None}


class Wrk(System):
    name, label, program = "wrk", "wrk", "wrk"
    version_flag = "-v"
    duration_based = True
    urls_why = "one URL per run"

    def load_argv(self, url, requests, concurrency, duration_s, pipeline=1):
        threads = min(os.cpu_count() or 1, concurrency)
        argv = [self.path, "-t", str(threads), "-c", str(concurrency),
                "-d", "%ds" % max(1, round(duration_s))]
        if pipeline > 1:
            argv += ["-s", os.path.join(run.BENCH, "peers", "wrk_pipeline.lua")]
        argv.append(url)
        return argv + (["--", str(pipeline)] if pipeline > 1 else [])

    def parse(self, measured):
        text = measured.output
        m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
        if m is None:
            raise Unreadable("no 'requests in' line")
        done = int(m.group(1))
        bad = _num(r"Non-2xx or 3xx responses: (\d+)", text, 0, int)
        errors = re.search(r"Socket errors: (.*)", text)
        return {"ok": done - bad, "failures": bad, "wall_s": _seconds(m.group(2), m.group(3)),
                "why": errors.group(0) if errors else "", "connections": None,
                "note": "duration-based"}


class Ab(System):
    name, label, program = "ab", "ab -k", "ab"
    version_flag = "-V"
    urls_why = "one URL per run"

    def load_argv(self, url, requests, concurrency, duration_s):
        return [self.path, "-q", "-k", "-n", str(requests), "-c", str(concurrency), url]

    def parse(self, measured):
        text = measured.output
        done = _num(r"^Complete requests:\s+(\d+)", text, cast=int)
        failed = _num(r"^Failed requests:\s+(\d+)", text, cast=int)
        non2xx = _num(r"^Non-2xx responses:\s+(\d+)", text, 0, int)
        bad = failed + non2xx
        return {"ok": done - bad, "failures": bad,
                "wall_s": _num(r"^Time taken for tests:\s+([\d.]+) seconds", text),
                "why": "" if bad == 0 else "failed or non-2xx", "connections": None}


class Go(OwnProtocol):
    name, label = "go", "Go net/http"

    def prepare(self, bins):
        self.path = bins.get("go_client")
        if self.path is None:
            self.missing = bins.get("go_why") or "go_client not built"

    def version_argv(self):
        return ["go", "version"]

    def command(self):
        return [self.path]


class Node(OwnProtocol):
    name, label = "node", "Node http (keepAlive agent)"
    scale = 0.1

    def prepare(self, bins):
        self.path = shutil.which("node") or shutil.which("nodejs")
        if self.path is None:
            self.missing = "node not found"

    def version_argv(self):
        return [self.path, "-p", "'node ' + process.version"]

    def command(self):
        return [self.path, os.path.join(run.BENCH, "peers", "node_client.js")]


class Script(OwnProtocol):
    """A Python peer, run by this script's own interpreter (Debian's, whose
    packages hold the libraries)."""

    script = ""

    module = ""

    def command(self):
        return [sys.executable, os.path.join(run.BENCH, "peers", self.script)]

    def version_argv(self):
        return [sys.executable, "-c", "import sys, %s as m; print('Python %%d.%%d, %s %%s' %% "
                "(sys.version_info[:2] + (m.__version__,)))" % (self.module, self.module)]


# The Python peers: name, label, file in peers/, share of the counts (each
# run of a slow client bounded to about 10 s at full size), the module whose
# version is reported.
SCRIPTS = [
    ("aiohttp", "Python aiohttp", "aiohttp_client.py", 0.1, "aiohttp"),
    ("requests-futures", "requests-futures", "requests_futures_client.py", 0.05, "requests"),
    ("threadpool", "ThreadPoolExecutor + Session", "threadpool_client.py", 0.05, "requests"),
    ("gevent", "gevent + requests", "gevent_client.py", 0.05, "gevent"),
]


def _script_peer(name, label, script, scale, module):
    return type(script[:-3], (Script,), {"name": name, "label": label, "script": script,
                                         "scale": scale, "module": module})


ALL = [GustLib, GustBench, H2load, Wrk, Ab, Curl, Go, Node] + [_script_peer(*s) for s in SCRIPTS]
NAMES = [p.name for p in ALL]


def make(only):
    """One of each peer (those named in `only`, if given), gust first."""
    return [cls() for cls in ALL if not only or cls.name in only]
