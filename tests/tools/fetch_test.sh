#!/usr/bin/env bash
# gust fetch: a URL file with good, slow, failing and dead hosts gives one
# valid JSON line per URL with the right outcome, from a file and from stdin;
# --bodies, --out, retries, timeouts; exit codes 0, 1 and 2.
GUST=$1 SERVE=$2
source tests/tools/lib.sh
start_site

cat >"$TMP/urls" <<URLS
# a comment, then a blank line

$SITE_HTTP/bytes?n=0
$SITE_HTTP/bytes?n=100
   $SITE_HTTP/bytes?n=2000
$SITE_HTTP/gzip?n=3000
$SITE_HTTP/delay?ms=400
$SITE_HTTP/delay?ms=300
$SITE_HTTP/status?code=404
$SITE_HTTP/status?code=500
$SITE_HTTP/redirect-chain?n=2
$SITE_DEAD/refused
$SITE_DEAD/refused-again
not a url
  # an indented comment
$SITE_HTTP/bytes?n=7
URLS

# Checks the JSON lines in $1 against the URL file: every index once, the URL
# of each index, the status or error each URL must give.
check_results() {
    python3 - "$1" "$TMP/urls" "$2" <<'PY' || fail "the JSON lines are not what the URLs give"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
urls = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.strip().startswith('#')]
attempts_dead = int(sys.argv[3])
results = [json.loads(l) for l in lines]
assert len(results) == len(urls), (len(results), len(urls))
by_index = {r["index"]: r for r in results}
assert sorted(by_index) == list(range(len(urls))), sorted(by_index)
keys = ["index", "url", "status", "bytes", "time_ms", "reused", "attempts", "error"]
for i, url in enumerate(urls):
    r = by_index[i]
    assert list(r) == keys, r
    assert r["url"] == url, (r, url)
    assert isinstance(r["time_ms"], (int, float)) and r["time_ms"] >= 0, r
    if "/refused" in url:
        assert r["status"] is None and r["error"].startswith("CONNECT_REFUSED: "), r
        assert url in r["error"], r
        assert r["attempts"] == attempts_dead, r
        continue
    if url == "not a url":
        assert r["status"] is None and r["error"].startswith("URL: "), r
        continue
    assert r["error"] is None and r["attempts"] == 1, r
    if "/bytes?n=" in url or "/gzip?n=" in url:
        assert r["status"] == 200 and r["bytes"] == int(url.split("=")[1]), r
    elif "/delay" in url:
        assert r["status"] == 200 and r["bytes"] == 2, r
        assert r["time_ms"] >= 250, r
    elif "/status?code=" in url:
        assert r["status"] == int(url.split("=")[1]), r
    elif "/redirect-chain" in url:
        assert r["status"] == 200 and r["bytes"] == 4, r
    else:
        raise AssertionError(url)
print("ok", len(results))
PY
}

# From a file, results on stdout, summary on stderr (not a terminal: no bar).
run_gust fetch -c 4 "$TMP/urls"
check '$RC -eq 0' "fetch exits 0 although some requests failed"
check_results "$OUT" 1
check '"$(cat $ERR)" != *$'"'"'\r'"'"'* && "$(cat $ERR)" != *$'"'"'\033'"'"'*' \
    "no control codes when stderr is not a terminal"
check '"$(head -n 1 $ERR)" == "gust fetch: 13 requests in "*" req/s, "*" MB/s"*' \
    "the summary starts with counts and throughput"
check '"$(cat $ERR)" == *"200 x 8, 404 x 1, 500 x 1"*' "the summary counts statuses"
check '"$(cat $ERR)" == *"errors 3: URL x 1, CONNECT_REFUSED x 2"*' "the summary counts errors by name"
check '"$(cat $ERR)" == *"latency ms: p50 "*", p90 "*", p99 "*", max "*' "the summary has percentiles"

# From stdin, with retries, --out and --bodies, quiet.
run_gust fetch --retries 1 --per-host 2 --out "$TMP/results" --bodies "$TMP/bodies" -q \
    <"$TMP/urls"
check '$RC -eq 0 && ! -s $OUT && ! -s $ERR' "fetch --out -q writes nothing else"
check_results "$TMP/results" 2
n=$(python3 -c "
import json
for l in open('$TMP/results'):
    r = json.loads(l)
    if r['url'].endswith('/bytes?n=2000'): print(r['index'])")
check "\"\$(cat \$TMP/bodies/$n)\" == \"\$(python3 -c \"print(''.join(chr(97 + i % 26) for i in range(2000)), end='')\")\"" \
    "--bodies writes each body to DIR/<index>"
check '$(ls $TMP/bodies | wc -l) -eq 10' "--bodies writes a file per response"

# A per-request timeout is an error in the results, not a failure.
printf '%s\n' "$SITE_HTTP/delay?ms=3000" "$SITE_HTTP/bytes?n=1" >"$TMP/slow"
run_gust fetch --timeout 0.2 "$TMP/slow"
check '$RC -eq 0' "timeouts are results"
check '"$(cat $OUT)" == *"\"status\":null"*"\"error\":\"TOTAL_TIMEOUT: "*' "the slow URL times out"
check '"$(cat $OUT)" == *"\"status\":200"*' "the fast URL does not"

# JSON escaping of odd input.
printf '%s\n' "$SITE_HTTP/bytes?n=1&q=\"quoted\"\\back" "http://127.0.0.1:1/$(printf '\xff\x01')" \
    >"$TMP/odd"
run_gust fetch "$TMP/odd"
check '$RC -eq 0' "odd URLs are results"
python3 -c "
import json, sys
rs = [json.loads(l) for l in open('$OUT', encoding='utf-8')]
assert len(rs) == 2, rs
assert any(r['url'].endswith('q=\"quoted\"\\\\back') for r in rs), rs
assert any('\ufffd\x01' in r['url'] for r in rs), rs
" || fail "odd URLs are escaped into valid JSON"

# Exit codes: 1 when the input cannot be read, 2 for bad arguments.
run_gust fetch "$TMP/missing"
check '$RC -eq 1 && "$(cat $ERR)" == "gust fetch: cannot open $TMP/missing: "*' "missing input exits 1"
run_gust fetch "$TMP/bodies"
check '$RC -eq 1 && "$(cat $ERR)" == *"cannot read $TMP/bodies"*' "a directory as input exits 1"
run_gust fetch -c 0 "$TMP/urls"
check '$RC -eq 2 && ! -s $OUT && "$(head -n 1 $ERR)" == "gust fetch: -c must be"*' "-c 0 exits 2"
run_gust fetch --retries
check '$RC -eq 2 && "$(head -n 1 $ERR)" == "gust fetch: option --retries needs a value"' \
    "a missing value exits 2"
run_gust fetch a b
check '$RC -eq 2' "two input files exit 2"

echo PASS
