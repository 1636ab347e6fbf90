#!/usr/bin/env bash
# gust demo: exits 0 with every URL accounted for, the header and final line
# on stdout, the summary on stderr, and one JSON line per URL with --out.
GUST=$1 SERVE=$2
source tests/tools/lib.sh

run_gust demo --out "$TMP/results"
check '$RC -eq 0' "demo exits 0"
check '$(wc -l <$OUT) -eq 2' "demo prints two lines on stdout"
check '"$(head -n 1 $OUT)" == "gust demo: fetching 3000 URLs of a local site ("*' "the header line"
check '"$(tail -n 1 $OUT)" == "gust demo: 3000 of 3000 URLs accounted for in "*"every outcome as expected"' \
    "the final line"
check '"$(head -n 1 $ERR)" == "gust demo: 3000 requests in "*" req/s, "*' "the summary's first line"
check '"$(cat $ERR)" == *"CONNECT_REFUSED x "*' "the summary counts refusals"
check '"$(cat $ERR)" == *"latency ms: p50 "*' "the summary has percentiles"
python3 - "$TMP/results" <<'PY' || fail "the demo's JSON lines"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["index"] for r in rs) == list(range(3000))
assert any(r["url"].startswith("https://") and r["status"] == 200 for r in rs), "no HTTPS"
assert sum(r["error"] is not None for r in rs) > 0
print("ok")
PY

# Without TLS, fewer URLs, one thread.
run_gust demo --no-tls -n 300 -c 8 --threads 1
check '$RC -eq 0' "demo --no-tls exits 0"
check '"$(tail -n 1 $OUT)" == "gust demo: 300 of 300 URLs accounted for in "*"0 over HTTPS"*' \
    "no HTTPS without TLS"

echo PASS
