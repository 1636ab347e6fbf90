#!/usr/bin/env bash
# Bodies stream: `gust get` writes a gzip bomb (about 1000:1) to stdout or a
# file as it decodes, and `gust fetch` counts four at once, or writes them to
# --bodies, each in a few MB of memory (peak RSS from /usr/bin/time) with
# every byte right. A redirect's body never shows (-L, -i and -f stream too),
# a retried request's body is the last attempt's; a failed write ends the run
# with a message.
GUST=$1 SERVE=$2
source tests/tools/lib.sh
start_site

MAX_RSS_KB=$((64 * 1024))

# peak_rss: the peak RSS in KB that /usr/bin/time wrote to $TMP/time.
peak_rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time"; }

# run_measured ARGS...: run_gust under /usr/bin/time; sets RSS_KB too.
run_measured() {
    set +e
    /usr/bin/time -v -o "$TMP/time" timeout "$GUST_TIMEOUT_S" "$GUST" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    check '$RC -ne 124' "gust $* ran past ${GUST_TIMEOUT_S} s"
    RSS_KB=$(peak_rss)
}

# The checksums of 128 and 80 MiB of zeros, what /gzip-bomb?mb=128 and =80 decode to.
ZEROS_128=$(head -c $((128 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
ZEROS_80=$(head -c $((80 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)

# get to stdout, piped on as it comes: 128 MiB out of 128 KiB.
set +e
/usr/bin/time -v -o "$TMP/time" timeout "$GUST_TIMEOUT_S" "$GUST" get "$SITE_HTTP/gzip-bomb?mb=128" \
    2>"$ERR" | sha256sum >"$OUT"
RC=${PIPESTATUS[0]}
set -e
RSS_KB=$(peak_rss)
check '$RC -eq 0' "get of a 128 MiB body exits 0"
check '"$(cut -d" " -f1 $OUT)" == "$ZEROS_128"' "get writes the 128 MiB body exactly"
check '$RSS_KB -lt $MAX_RSS_KB' "get streams 128 MiB in under 64 MB (peak RSS ${RSS_KB} KB)"

# get -o FILE, and -L through a redirect: only the final body, still streamed.
run_measured get -o "$TMP/body" "$SITE_HTTP/gzip-bomb?mb=80"
check '$RC -eq 0 && $(stat -c %s $TMP/body) -eq $((80 << 20))' "get -o writes 80 MiB"
check '"$(sha256sum <$TMP/body | cut -d" " -f1)" == "$ZEROS_80"' "get -o writes the zeros"
check '$RSS_KB -lt $MAX_RSS_KB' "get -o streams in under 64 MB (peak RSS ${RSS_KB} KB)"
run_measured get -L -o "$TMP/body" "$SITE_HTTP/redirect?code=302&to=%2Fgzip-bomb%3Fmb%3D80"
check '$RC -eq 0 && $(stat -c %s $TMP/body) -eq $((80 << 20))' \
    "get -L writes the final body alone, not the redirect's before it"
check '"$(sha256sum <$TMP/body | cut -d" " -f1)" == "$ZEROS_80"' "get -L writes the zeros"
check '$RSS_KB -lt $MAX_RSS_KB' "get -L in under 64 MB (peak RSS ${RSS_KB} KB)"
rm -f "$TMP/body"

# -i, -L and -f stream too: the final head, then its body, straight out; no
# temporary file (TMPDIR leads nowhere), no redirect's head or body.
set +e
TMPDIR=/nonexistent /usr/bin/time -v -o "$TMP/time" timeout "$GUST_TIMEOUT_S" "$GUST" get -i -L -f \
    "$SITE_HTTP/redirect?code=302&to=%2Fgzip-bomb%3Fmb%3D80" 2>"$ERR" >"$TMP/body"
RC=$?
set -e
RSS_KB=$(peak_rss)
check '$RC -eq 0' "get -i -L -f through a redirect exits 0 without a temporary directory"
check '"$(head -n 1 $TMP/body)" == $'"'"'HTTP/1.1 200 OK\r'"'" "get -i -L starts with the final status line"
check '"$(head -c 4096 $TMP/body | grep -ac "^HTTP/")" -eq 1' "and writes no redirect's head"
check '"$(tail -c $((80 << 20)) $TMP/body | sha256sum | cut -d" " -f1)" == "$ZEROS_80"' \
    "get -i -L ends with the final body"
HEAD_LEN=$(python3 -c "import sys; print(open(sys.argv[1], 'rb').read(65536).index(b'\r\n\r\n') + 4)" \
    "$TMP/body")
check '$(stat -c %s $TMP/body) -eq $((HEAD_LEN + (80 << 20)))' "and nothing between the head and the body"
check '$RSS_KB -lt $MAX_RSS_KB' "get -i -L -f in under 64 MB (peak RSS ${RSS_KB} KB)"
rm -f "$TMP/body"
TMPDIR=/nonexistent run_gust get -i -L -f "$SITE_HTTP/redirect?code=301&to=%2Fstatus%3Fcode%3D404"
check '$RC -eq 22 && ! -s $OUT' "get -L -f of a redirect to a 404 exits 22 and writes nothing"

# fetch after a redirect: the final body alone, whatever its framing says
# (chunked, gzip: no length to tell the redirect's body from it).
printf '%s\n' "$SITE_HTTP/redirect?code=302&to=%2Fchunked%3Fn%3D1000" \
    "$SITE_HTTP/redirect?code=307&to=%2Fgzip%3Fn%3D3000" >"$TMP/redirects"
run_gust fetch -q -c 1 --bodies "$TMP/bodies" "$TMP/redirects"
pattern() { python3 -c "import sys; sys.stdout.write(''.join(chr(97 + i % 26) for i in range($1)))"; }
check '$RC -eq 0 && "$(cat $OUT)" == *"\"bytes\":1000,"*"\"bytes\":3000,"*' \
    "fetch counts the final bodies alone after redirects"
check "\"\$(cat \$TMP/bodies/0)\" == \"$(pattern 1000)\" && \"\$(cat \$TMP/bodies/1)\" == \"$(pattern 3000)\"" \
    "fetch --bodies writes the final bodies alone after redirects"
rm -rf "$TMP/bodies"

# fetch: four 128 MiB bodies at once, counted and dropped.
for i in 1 2 3 4; do echo "$SITE_HTTP/gzip-bomb?mb=128"; done >"$TMP/bombs"
run_measured fetch -q -c 4 "$TMP/bombs"
check '$RC -eq 0 && $(grep -c "\"status\":200,\"bytes\":134217728," $OUT) -eq 4' \
    "fetch counts each 128 MiB body"
check '$RSS_KB -lt $MAX_RSS_KB' "fetch keeps no body (peak RSS ${RSS_KB} KB for 512 MiB)"

# fetch --bodies: two at once, each written to its file as it streams.
for i in 1 2; do echo "$SITE_HTTP/gzip-bomb?mb=80"; done >"$TMP/bombs"
run_measured fetch -q -c 2 --bodies "$TMP/bodies" "$TMP/bombs"
check '$RC -eq 0 && $(grep -c "\"bytes\":83886080," $OUT) -eq 2' "fetch --bodies counts 80 MiB each"
for i in 0 1; do
    check "\"\$(sha256sum <$TMP/bodies/$i | cut -d' ' -f1)\" == \"$ZEROS_80\"" \
        "fetch --bodies writes body $i whole"
done
check '$RSS_KB -lt $MAX_RSS_KB' "fetch --bodies streams (peak RSS ${RSS_KB} KB)"
rm -rf "$TMP/bodies"

# A retried 503: the body and the file are the last attempt's alone.
echo "$SITE_HTTP/status?code=503" >"$TMP/busy"
run_gust fetch -q --retries 1 --bodies "$TMP/bodies" "$TMP/busy"
check '$RC -eq 0 && "$(cat $OUT)" == *"\"status\":503,\"bytes\":23,"*"\"attempts\":2,"*' \
    "a retry's body replaces the first attempt's in the count"
check '"$(cat $TMP/bodies/0)" == "503 Service Unavailable"' "and in the file"

# Write errors: a reader gone (EPIPE) or a full disk cancel the request.
set +e
timeout "$GUST_TIMEOUT_S" "$GUST" get "$SITE_HTTP/gzip-bomb?mb=128" 2>"$ERR" | head -c 10 >"$OUT"
RC=${PIPESTATUS[0]}
set -e
check '$RC -eq 1 && $(wc -c <$OUT) -eq 10' "get into a closed pipe exits 1, without waiting for the rest"
check '"$(cat $ERR)" == "gust: cannot write stdout: Broken pipe"' "it says why"
run_gust get -o /dev/full "$SITE_HTTP/gzip-bomb?mb=4"
check '$RC -eq 1 && "$(cat $ERR)" == "gust: cannot write /dev/full: No space left on device"' \
    "a full disk exits 1 and says so"

echo PASS
