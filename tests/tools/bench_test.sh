#!/usr/bin/env bash
# gust bench: a count run and a timed run report their figures on stdout and
# exit 0; failures are counted by name.
GUST=$1 SERVE=$2
source tests/tools/lib.sh
start_site --tls

run_gust bench -n 500 -c 10 --threads 2 "$SITE_HTTP/bytes?n=1000"
check '$RC -eq 0' "bench -n exits 0"
check '"$(head -n 1 $OUT)" == "gust bench: GET $SITE_HTTP/bytes?n=1000: 500 requests, 10 in flight, 2 threads"' \
    "the header line"
check '"$(cat $OUT)" == *"gust bench: 500 requests in "*" req/s, "*" MB/s (0.50 MB of bodies)"*' \
    "requests, rate and bytes"
check '"$(cat $OUT)" == *"responses 500: 200 x 500"*' "every request got 200"
check '"$(cat $OUT)" == *"errors 0: none"*' "no errors"
check '"$(cat $OUT)" == *"latency ms: p50 "*", max "*' "latency percentiles"
opened=$(sed -n 's/.*connections: \([0-9]*\) opened.*/\1/p' "$OUT")
check '$opened -ge 1 && $opened -le 10' "at most one connection per request in flight ($opened)"

run_gust bench -n 2000 -c 2 --pipeline 8 --threads 1 "$SITE_HTTP/bytes?n=100"
check '$RC -eq 0' "bench --pipeline exits 0"
check '"$(cat $OUT)" == *"2000 requests, 16 in flight"*' "2 connections x 8 in flight"
check '"$(cat $OUT)" == *"responses 2000: 200 x 2000"*' "every pipelined request got 200"
opened=$(sed -n 's/.*connections: \([0-9]*\) opened.*/\1/p' "$OUT")
pipelined=$(sed -n 's/.*(\([0-9]*\) pipelined).*/\1/p' "$OUT")
check '$opened -le 2 && $pipelined -ge 1000' "pipelined on 2 connections ($pipelined on $opened)"

run_gust bench -d 0.5 -c 4 --cacert "$SITE_CA" "$SITE_HTTPS/bytes?n=10"
check '$RC -eq 0' "bench -d exits 0"
check '"$(cat $OUT)" == *"for 0.5 s, 4 in flight"*' "the timed header"
check '"$(cat $OUT)" == *"responses "*": 200 x "*' "the timed run got responses"

run_gust bench -n 20 -c 5 "$SITE_DEAD/"
check '$RC -eq 0' "a bench of a dead port still exits 0"
check '"$(cat $OUT)" == *"errors 20: CONNECT_REFUSED x 20"*' "failures are counted by name"

echo PASS
