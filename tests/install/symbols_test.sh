#!/usr/bin/env bash
# What libgust.so exports: only gust_ symbols; of those, the gust__ internals
# only where a public header marks them GUST_EXTERN (the inline fast paths of
# gust/pool_inline.h call them from the user's code), and every marked name
# is there. Its SONAME is libgust.so.MAJOR (gust/version.h), and its RUNPATH
# points nowhere relative to the file (no $ORIGIN, no Bazel output tree).
#
#   symbols_test.sh LIBGUST_SO HEADER...
#
# Bazel runs it on //:libgust.so; .ci/run on the installed library too.
set -euo pipefail

so=$1
shift
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

version_h=
for header in "$@"; do
    [[ $header == */gust/version.h ]] && version_h=$header
done
[ -n "$version_h" ] || { echo "FAIL: gust/version.h is not among the headers" >&2; exit 1; }
major=$(sed -n 's/^#define GUST_VERSION_MAJOR \([0-9]*\)$/\1/p' "$version_h")

soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[ "$soname" = "libgust.so.$major" ] || fail "SONAME is '$soname', not libgust.so.$major"

runpath=$(readelf -d "$so" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]$/\2/p')
[[ $runpath != *'$ORIGIN'* && $runpath != *_solib* ]] ||
    fail "RUNPATH '$runpath' leads into a build tree"

exported=$(nm -D --defined-only --extern-only "$so" | awk '{print $NF}' | sort -u)
[ -n "$exported" ] || fail "$so exports nothing"

# The names that follow GUST_EXTERN in the headers, comments and attributes
# dropped: the last identifier before the declaration's '(', '=', ';' or '{'.
marked=$(cat "$@" | tr '\n' ' ' |
    sed -e 's:/\*\([^*]\|\*\+[^*/]\)*\*\+/::g' \
        -e 's/__attribute__((\([^()]\|([^()]*)\)*))//g' |
    grep -oE 'GUST_EXTERN[^;({=]*' | grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:blank:]]*$' |
    tr -d '[:blank:]' | grep '^gust_' | sort -u)
[ -n "$marked" ] || fail "no GUST_EXTERN declarations found in the headers"

while read -r name; do
    [[ $name == gust_* ]] || fail "exports $name, which is not gust_"
done <<<"$exported"
while read -r name; do
    [ -n "$name" ] && fail "exports $name, which no public header marks GUST_EXTERN"
done < <(comm -23 <(grep '^gust__' <<<"$exported") <(grep '^gust__' <<<"$marked" || true))
while read -r name; do
    [ -n "$name" ] && fail "does not export $name, which a public header marks GUST_EXTERN"
done < <(comm -13 <(echo "$exported") <(echo "$marked"))

if [ "$failures" -ne 0 ]; then
    echo "$failures failures in $so" >&2
    exit 1
fi
echo "PASS: $so: $(wc -l <<<"$exported") gust_ symbols, $(grep -c '^gust__' <<<"$exported") of them gust__ (all marked GUST_EXTERN), SONAME $soname"
