"""gust_fuzz_target: one LLVMFuzzerTestOneInput, a fuzzer and a test.

Under --config=fuzz (which sets --define=gust_sanitizer=fuzz) the target is a
libFuzzer binary: `bazel run --config=fuzz //tests/fuzz:<name> -- <flags>`.
Under every other config the same function is linked with driver.c, whose
main runs each file it is given. Either way `<name>_test` runs the committed
corpus through it, so `bazel test //...` replays every seed (and, under
--config=asan, with the sanitizers on).
"""

load("@rules_cc//cc:defs.bzl", "cc_binary")
load("//tools/bazel:copts.bzl", "GUST_COPTS")

def gust_fuzz_target(name, srcs, deps, corpus):
    """A fuzz target and its corpus test.

    Args:
      name: the binary; the test is name + "_test".
      srcs: sources, one of them defining LLVMFuzzerTestOneInput.
      deps: libraries the sources use.
      corpus: the folder of seed inputs, relative to this package.
    """
    cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        copts = GUST_COPTS,
        linkopts = select({
            "//tools/bazel:fuzz": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//tools/bazel:fuzz": [],
            "//conditions:default": ["//tests/fuzz:driver"],
        }),
    )
    seeds = native.glob([corpus + "/*"])
    if not seeds:
        fail("gust_fuzz_target %s: no seeds in %s" % (name, corpus))

    # Both mains take the files to run as arguments; libFuzzer runs each
    # once, then exits.
    native.sh_test(
        name = name + "_test",
        size = "small",
        srcs = [":" + name],
        args = ["$(location %s)" % s for s in seeds],
        data = seeds + [":" + name],
    )
