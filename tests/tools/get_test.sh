#!/usr/bin/env bash
# gust get: bodies, headers, methods and bodies sent, redirects, --fail,
# HTTPS with a CA, and the failures: a refused port, a timeout, an unknown CA.
GUST=$1 SERVE=$2
source tests/tools/lib.sh
start_site --tls

pattern() { python3 -c "import sys; sys.stdout.write(''.join(chr(97 + i % 26) for i in range($1)))"; }

# The body, exactly, on stdout.
run_gust get "$SITE_HTTP/bytes?n=1000"
check '$RC -eq 0' "get exits 0"
check "\"\$(cat \$OUT)\" == \"$(pattern 1000)\"" "get prints the body"
check '! -s $ERR' "get prints nothing on stderr"

# -i: the status line and headers first.
run_gust get -i "$SITE_HTTP/bytes?n=3"
check '$RC -eq 0' "get -i exits 0"
check '"$(head -n 1 $OUT)" == $'"'"'HTTP/1.1 200 OK\r'"'" "get -i starts with the status line"
check '"$(cat $OUT)" == *$'"'"'Content-Length: 3\r\n\r\nabc'"'" "get -i ends with the headers and body"

# -o FILE.
run_gust get -o "$TMP/body" "$SITE_HTTP/gzip?n=5000"
check '$RC -eq 0 && ! -s $OUT' "get -o writes nothing to stdout"
check "\"\$(cat \$TMP/body)\" == \"$(pattern 5000)\"" "get -o writes the decoded body to the file"

# -d: POST by default, with the form content type; -X, -H and -d @file.
run_gust get -d 'a=1' -d 'b=2' "$SITE_HTTP/echo"
check '$RC -eq 0' "get -d exits 0"
check '"$(head -n 1 $OUT)" == "POST /echo HTTP/1.1"*' "-d sends a POST"
check '"$(cat $OUT)" == *"Content-Type: application/x-www-form-urlencoded"*' "-d sets the form type"
check '"$(cat $OUT)" == *"a=1&b=2" ' "-d parts are joined with &"
printf 'from a file\n' >"$TMP/data"
run_gust get -X PUT -H 'X-Test:  yes ' -H 'Content-Type: text/plain' -d "@$TMP/data" \
    "$SITE_HTTP/echo"
check '$RC -eq 0' "get -X PUT -d @file exits 0"
check '"$(head -n 1 $OUT)" == "PUT /echo HTTP/1.1"*' "-X sets the method"
check '"$(cat $OUT)" == *"X-Test: yes"*' "-H sends the header, trimmed"
check '"$(cat $OUT)" != *"x-www-form-urlencoded"*' "-H Content-Type replaces the default"
check '"$(cat $OUT)" == *"from a file"*' "-d @file sends the file"

# Redirects: not followed without -L.
run_gust get -i "$SITE_HTTP/redirect-chain?n=2"
check '$RC -eq 0 && "$(head -n 1 $OUT)" == "HTTP/1.1 302 "*' "without -L the 302 is the answer"
run_gust get -L "$SITE_HTTP/redirect-chain?n=2"
check '$RC -eq 0 && "$(cat $OUT)" == done' "-L follows the chain"

# Statuses >= 400: a body and exit 0, or with --fail exit 22 and no body.
run_gust get "$SITE_HTTP/status?code=404"
check '$RC -eq 0 && "$(cat $OUT)" == "404 Not Found"' "a 404 is a response"
run_gust get --fail "$SITE_HTTP/status?code=404"
check '$RC -eq 22 && ! -s $OUT' "--fail exits 22 without the body"
check '"$(cat $ERR)" == "gust: GET $SITE_HTTP/status?code=404: "*404*' "--fail names the URL"

# HTTPS: the test CA verifies; the system's does not; -k skips verification.
run_gust get --cacert "$SITE_CA" "$SITE_HTTPS/bytes?n=26"
check '$RC -eq 0 && "$(cat $OUT)" == abcdefghijklmnopqrstuvwxyz' "https with --cacert"
run_gust get "$SITE_HTTPS/bytes?n=26"
check '$RC -eq 1 && ! -s $OUT' "https with an unknown CA fails"
check '"$(cat $ERR)" == "gust: "*"$SITE_HTTPS/bytes?n=26"*' "the failure names the URL"
run_gust get -k "$SITE_HTTPS/bytes?n=2"
check '$RC -eq 0 && "$(cat $OUT)" == ab' "https with -k"

# A refused port: exit 1, one line naming the URL and the cause.
run_gust get "$SITE_DEAD/x"
check '$RC -eq 1 && ! -s $OUT' "a refused connection exits 1"
check '$(wc -l <$ERR) -eq 1' "one line of error"
check '"$(cat $ERR)" == "gust: GET $SITE_DEAD/x: "*[Rr]efused*' "the message names URL and cause"

# --timeout: total, decimals allowed.
start=$(date +%s%N)
run_gust get --timeout 0.3 "$SITE_HTTP/delay?ms=5000"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check '$RC -eq 1 && "$(cat $ERR)" == *"$SITE_HTTP/delay?ms=5000"*' "a timeout exits 1 naming the URL"
check '$elapsed_ms -lt 4000' "--timeout 0.3 ends the request early (took ${elapsed_ms} ms)"

echo PASS
