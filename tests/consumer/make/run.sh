#!/usr/bin/env bash
# Runs each consumer program against a local HTTP server (Python's
# http.server on 127.0.0.1 and a free port, serving one file) and checks
# that it got the file; each run is bounded by `timeout`.
#
#     run.sh PROGRAM...
set -euo pipefail

site=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$site"
}
trap cleanup EXIT

body="hello from the consumer's site"
printf '%s' "$body" >"$site/hello.txt"
python3 -c '
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
' "$site" >"$site/port" 2>"$site/server.log" &
server=$!

for _ in $(seq 100); do
    [ -s "$site/port" ] && break
    sleep 0.1
done
port=$(head -n 1 "$site/port")
[ -n "$port" ] || { echo "run.sh: the server did not start" >&2; cat "$site/server.log" >&2; exit 1; }

for program in "$@"; do
    timeout 30 "$program" "http://127.0.0.1:$port/hello.txt" "$body"
done
