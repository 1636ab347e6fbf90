#!/usr/bin/env bash
# The command line: --help and --version exit 0 on stdout; bad arguments give
# one line of error and the usage on stderr, and exit 2, for every command.
GUST=$1 SERVE=$2
source tests/tools/lib.sh

for help in "--help" "-h" "help" "help get" "help fetch" "help bench" "help demo" \
    "get --help" "fetch --help" "bench -h" "demo --help"; do
    # shellcheck disable=SC2086
    run_gust $help
    check '$RC -eq 0 && ! -s $ERR' "gust $help exits 0 with nothing on stderr"
    check '"$(head -n 1 $OUT)" == "usage: gust "*' "gust $help starts with the usage"
done

run_gust --version
check '$RC -eq 0 && "$(cat $OUT)" == "gust "[0-9]*.[0-9]*' "--version prints the version"

# Each case: the arguments, then the start of the error line.
while IFS='|' read -r args message; do
    # shellcheck disable=SC2086
    run_gust $args
    check '$RC -eq 2' "gust $args exits 2"
    check '! -s $OUT' "gust $args writes nothing to stdout"
    check "\"\$(head -n 1 \$ERR)\" == \"$message\"*" "gust $args: error line"
    check '"$(sed -n 2p $ERR)" == "usage: gust"*' "gust $args: the usage follows"
done <<'CASES'
|gust: a command is needed
frob|gust: unknown command 'frob'
--frob|gust: unknown option --frob
help frob|gust: unknown command 'frob'
get|gust get: a URL is needed
get --frob http://x/|gust get: unknown option --frob
get -z http://x/|gust get: unknown option -z
get http://a/ http://b/|gust get: one URL at most
get -X|gust get: option -X needs a value
get --timeout 0 http://x/|gust get: --timeout must be
get --timeout -1 http://x/|gust get: --timeout must be
get --timeout=abc http://x/|gust get: --timeout must be
get -H NoColon http://x/|gust get: bad header 'NoColon'
get -H Bad_Name?:x http://x/|gust get: bad header
get --insecure=yes http://x/|gust get: option --insecure takes no value
fetch -c 0|gust fetch: -c must be
fetch -c 12x|gust fetch: -c must be
fetch --per-host|gust fetch: option --per-host needs a value
fetch --delay -5|gust fetch: --delay must be
fetch --retries 1000|gust fetch: --retries must be
fetch --threads 0|gust fetch: --threads must be
fetch a b|gust fetch: one input file at most
bench|gust bench: a URL is needed
bench -n 0 http://x/|gust bench: -n must be
bench -d 3601 http://x/|gust bench: -d must be
bench -d 1 -n 5 http://x/|gust bench: -n and -d exclude each other
bench -c 100000 http://x/|gust bench: -c must be
demo extra|gust demo: unexpected argument 'extra'
demo -n 0|gust demo: -n must be
demo --tls|gust demo: unknown option --tls
CASES

echo PASS
