"""What the script peers of tools/bench/compare share: the command line and
the result line, as the C peers have them (tools/bench/compare_peer.h).

    PEER load [--concurrency=C] [--requests=N] URL
    PEER urls [--limit=L] URL...

A peer module defines load(url, requests, concurrency) and
urls(urls, limit), each returning (ok, failed, first_failure_or_None), and
calls main(load, urls) with the module's imports done inside a function of
its own, so that a library that is not installed is reported as missing.
Output, one line: compare-result ok=N failed=F wall_s=S connections=0 why=...
or, for a missing library: compare-missing why=...
"""
import sys
import time


def parse(argv):
    if len(argv) < 2 or argv[1] not in ("load", "urls"):
        sys.exit("usage: %s load [--concurrency=C] [--requests=N] URL\n"
                 "       %s urls [--limit=L] URL..." % (argv[0], argv[0]))
    opts = {"mode": argv[1], "concurrency": 1, "requests": 1, "limit": 0, "urls": []}
    for a in argv[2:]:
        name, eq, value = a.partition("=")
        if eq and name in ("--concurrency", "--requests", "--limit"):
            opts[name[2:]] = int(value)
        elif not a.startswith("-"):
            opts["urls"].append(a)
        else:
            sys.exit("bad argument: " + a)
    return opts


def main(setup):
    """setup() imports what the peer needs and returns (load, urls)."""
    opts = parse(sys.argv)
    try:
        load, urls = setup()
    except ImportError as e:
        print("compare-missing why=%s" % e)
        return
    t0 = time.monotonic()
    if opts["mode"] == "load":
        ok, failed, why = load(opts["urls"][0], opts["requests"], opts["concurrency"])
    else:
        ok, failed, why = urls(opts["urls"], opts["limit"])
    wall = time.monotonic() - t0
    why = (why or "").replace("\n", " ")
    print("compare-result ok=%d failed=%d wall_s=%.6f connections=0 why=%s"
          % (ok, failed, wall, why), flush=True)


class Counter:
    """Counts answers; the first failure's text is kept."""

    def __init__(self):
        self.ok = 0
        self.failed = 0
        self.why = None

    def add(self, status=None, error=None):
        if status == 200:
            self.ok += 1
            return
        self.failed += 1
        if self.why is None:
            self.why = str(error) if error is not None else "status %s" % status

    def result(self):
        return self.ok, self.failed, self.why


def from_list(run):
    """(load, urls) for a peer whose run(urls, workers) GETs every URL of a
    list with `workers` at a time: load repeats its URL, and urls without a
    limit runs all at once."""
    return (lambda url, requests, concurrency: run([url] * requests, concurrency),
            lambda urls, limit: run(urls, limit or len(urls)))


def collect(futures, status=lambda value: value):
    """Waits for each concurrent.futures future; status(its value) is the
    answer's status code."""
    counter = Counter()
    for f in futures:
        try:
            counter.add(status(f.result()))
        except Exception as e:  # counted, not fatal
            counter.add(error=e)
    return counter.result()
