#!/bin/bash
# Every public header compiles, alone and all together, as C11, C17 and C23
# with gcc and clang and as C++17, C++20 and C++23 with g++ and clang++, with
# -Wall -Wextra -Werror -pedantic; the inline fast paths are compiled to code
# under each. Then the C/C++ layout check runs once more, built with clang and
# clang++ (layout_test covers gcc and g++ through Bazel).
#
# Usage: headers_test.sh LAYOUT_FILES... -- HEADERS...
# The system compilers are used directly: Bazel's toolchain has one.
set -euo pipefail

layout_files=()
while [[ $1 != -- ]]; do
    layout_files+=("$1")
    shift
done
shift
headers=("$@")
include_dir=$(dirname "$(dirname "${headers[0]}")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

warnings=(-Wall -Wextra -Werror -pedantic)
c_compilers=(gcc clang)
cxx_compilers=(g++ clang++)
c_standards=(c11 c17 c2x)
cxx_standards=(c++17 c++20 c++2b)

failures=0
# compile WHAT COMPILER ARGS...: runs the compiler, counting a failure.
compile() {
    local what=$1
    shift
    if ! "$@" 2>"$work/errors"; then
        echo "FAIL: $what: $*"
        head -20 "$work/errors"
        failures=$((failures + 1))
    fi
}

# One file including every header, with a fork-join function that makes the
# compiler generate the inline spawn and join; the same text for C and C++.
all="$work/all.c"
for header in "${headers[@]}"; do
    echo "#include \"gust/$(basename "$header")\""
done >"$all"
cat >>"$all" <<'SRC'
void gust_headers_test_noop(void *arg);
void gust_headers_test_noop(void *arg) { (void)arg; }
void gust_headers_test_fork_join(void *arg);
void gust_headers_test_fork_join(void *arg)
{
    gust_group_t group;
    gust_group_init(&group, gust_pool_current());
    gust_group_spawn(&group, gust_headers_test_noop, arg);
    gust_group_wait(&group);
}
SRC
cp "$all" "$work/all.cc"

for cc in "${c_compilers[@]}"; do
    for std in "${c_standards[@]}"; do
        compile "all headers" "$cc" "-std=$std" "${warnings[@]}" -O2 -I"$include_dir" \
            -c "$all" -o "$work/all.o"
        compile "all headers, no stats" "$cc" "-std=$std" "${warnings[@]}" -O2 \
            -DGUST_POOL_NO_STATS -I"$include_dir" -c "$all" -o "$work/all.o"
    done
done
for cxx in "${cxx_compilers[@]}"; do
    for std in "${cxx_standards[@]}"; do
        compile "all headers" "$cxx" "-std=$std" "${warnings[@]}" -O2 -I"$include_dir" \
            -c "$work/all.cc" -o "$work/all.o"
        compile "all headers, no stats" "$cxx" "-std=$std" "${warnings[@]}" -O2 \
            -DGUST_POOL_NO_STATS -I"$include_dir" -c "$work/all.cc" -o "$work/all.o"
    done
done

# Each header alone compiles (includes what it uses), first in C, then in
# C++; gust/pool_inline.h only through gust/pool.h.
for header in "${headers[@]}"; do
    name=$(basename "$header")
    [[ $name == pool_inline.h ]] && continue
    # The typedef keeps a header of macros alone from being an empty unit.
    printf '#include "gust/%s"\ntypedef int gust_headers_test_unit;\n' "$name" >"$work/alone.c"
    cp "$work/alone.c" "$work/alone.cc"
    compile "$name alone" gcc -std=c11 "${warnings[@]}" -I"$include_dir" -fsyntax-only \
        "$work/alone.c"
    compile "$name alone" g++ -std=c++17 "${warnings[@]}" -I"$include_dir" -fsyntax-only \
        "$work/alone.cc"
done

# The layout comparison, built by clang and clang++.
layout_objects=()
for file in "${layout_files[@]}"; do
    object="$work/$(basename "$file").o"
    case $file in
    *.h) continue ;;
    *.c) compile "layout" clang -std=c11 "${warnings[@]}" -I. -I"$include_dir" -c "$file" \
        -o "$object" ;;
    *) compile "layout" clang++ -std=c++17 "${warnings[@]}" -I. -I"$include_dir" -c "$file" \
        -o "$object" ;;
    esac
    layout_objects+=("$object")
done
if ((failures == 0)); then
    compile "layout link" clang++ "${layout_objects[@]}" -o "$work/layout_test"
    compile "layout run" "$work/layout_test"
fi

if ((failures > 0)); then
    echo "$failures compilations failed"
    exit 1
fi
echo "all headers compile under ${c_standards[*]} (${c_compilers[*]})" \
    "and ${cxx_standards[*]} (${cxx_compilers[*]}); layouts agree under clang"
