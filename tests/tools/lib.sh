# What the shell tests of the gust command share. Source it after setting
# GUST and SERVE to the binaries (the tests take them as $1 and $2).
#
#   start_site [--tls]   starts tests/tools/serve and sets SITE_HTTP,
#                        SITE_DEAD (and SITE_HTTPS, SITE_CA with --tls)
#   run_gust ARGS...     runs gust with a time bound; sets RC, OUT, ERR (files)
#   check COND MESSAGE   fails the test with MESSAGE unless [[ COND ]] holds
#
# Every wait is bounded: gust runs under `timeout`, and the site ends when
# the test's shell does (its stdin is a pipe from the test).
set -euo pipefail

: "${GUST:?}" "${SERVE:?}"
TMP=$(mktemp -d "${TEST_TMPDIR:-/tmp}/gust_test.XXXXXX")
OUT=$TMP/stdout
ERR=$TMP/stderr
RC=0
GUST_TIMEOUT_S=${GUST_TIMEOUT_S:-30}

fail() {
    echo "FAIL: $*" >&2
    if [ -s "$OUT" ]; then
        echo "--- stdout (last 20 lines):" >&2
        tail -n 20 "$OUT" >&2
    fi
    if [ -s "$ERR" ]; then
        echo "--- stderr (last 20 lines):" >&2
        tail -n 20 "$ERR" >&2
    fi
    exit 1
}

# check 'BASH CONDITION' 'what it means'
check() {
    if ! eval "[[ $1 ]]"; then
        fail "$2 (not true: $1)"
    fi
}

start_site() {
    coproc SITE { exec "$SERVE" "$@"; }
    SITE_OUT=${SITE[0]}
    SITE_IN=${SITE[1]}
    local name value
    while read -r -t 30 name value <&"$SITE_OUT"; do
        case "$name" in
        http) SITE_HTTP=$value ;;
        https) SITE_HTTPS=$value ;;
        ca) SITE_CA=$value ;;
        dead) SITE_DEAD=$value ;;
        ready) return 0 ;;
        esac
    done
    fail "the test site did not start"
}

stop_site() {
    if [ -n "${SITE_PID:-}" ]; then
        eval "exec ${SITE_IN}>&-"
        wait "$SITE_PID" || true
        SITE_PID=
    fi
}

cleanup() {
    stop_site
    rm -rf "$TMP"
}
trap cleanup EXIT

# run_gust ARGS... (stdin is the caller's)
run_gust() {
    set +e
    timeout "$GUST_TIMEOUT_S" "$GUST" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    if [ "$RC" -eq 124 ]; then
        fail "gust $* ran past ${GUST_TIMEOUT_S} s"
    fi
}
