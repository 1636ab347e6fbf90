"""Compiler options every gust library target uses.

They live in the targets, not in .bazelrc, so that a workspace depending on
gust compiles it the same way; warnings-as-errors stay in gust's .bazelrc for
gust's own builds only.
"""

GUST_COPTS = [
    "-std=c11",
    "-D_GNU_SOURCE",
]
