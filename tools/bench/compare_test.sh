#!/usr/bin/env bash
# tools/bench/compare in its smoke size (a few hundred requests) with gust
# and libcurl only, parts 1 and 4, and gust bench's pipelining (part 3)
# against both servers: the script builds nothing here (Bazel
# hands it the programs, in the runfiles), starts nginx and compare_servers,
# measures both clients, stops the servers and writes its report. Checks
# that every row has figures (none missing or failed), that the results
# files are written and that no server is left running.
set -euo pipefail

out="${TEST_TMPDIR:-$(mktemp -d)}/compare"
timeout 50 tools/bench/compare --smoke --no-build --bin-root "$PWD" --only gust,gust-bench,libcurl \
    --parts 1,3,4 --out "$out" > "$out.md" 2> "$out.log" || {
    echo "compare failed:"; cat "$out.log" "$out.md"; exit 1; }
cat "$out.md"

fail() { echo "FAIL: $*"; exit 1; }
for client in "gust (library)" "libcurl multi"; do
    for case in "1 KiB c=10" "1 KiB c=100" "64 KiB c=10" "64 KiB c=100"; do
        grep -q "^| $case | $client | [0-9]" "$out.md" || fail "no figures for $client, $case"
    done
    grep -q "^| $client | 100 | [0-9]" "$out.md" || fail "no part 4 figures for $client"
done
for server in nginx compare_servers; do
    for shape in "10 x 1" "10 x 16"; do
        grep -q "^| $server | gust bench (CLI)[^|]* | $shape | 2,000 | [0-9]" "$out.md" ||
            fail "no part 3 figures for gust bench, $server, $shape"
    done
done
! grep -q "missing:\|failed:" "$out.md" || fail "a row is missing or failed"
grep -q "^## Goals" "$out.md" || fail "no goals"
[ -s "$out/results.md" ] && [ -s "$out/results.json" ] || fail "results files not written"
# The servers ran in the output folder's temporary directory: none is left.
! pgrep -f "compare_servers --ports" > /dev/null || fail "compare_servers still running"
echo PASS
