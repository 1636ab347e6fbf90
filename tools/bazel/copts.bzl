"""Compiler options every gust library target uses.

They live in the targets, not in .bazelrc, so that a workspace depending on
gust compiles it the same way; warnings-as-errors stay in gust's .bazelrc for
gust's own builds only.
"""

GUST_COPTS = [
    "-std=c11",
    "-D_GNU_SOURCE",
]

# The library's own sources: only what gust/export.h marks GUST_EXTERN leaves
# libgust.so. (Its Bazel libraries link statically, so hidden symbols still
# reach one another across layers.)
GUST_LIB_COPTS = GUST_COPTS + ["-fvisibility=hidden"]
