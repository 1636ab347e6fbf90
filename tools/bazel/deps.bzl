"""Offline repositories for gust: Bazel's own needs and the system libraries.

Debian's bazel-bootstrap 4.2.3 would download rules_java, platforms, rules_cc
and the coverage tools; these come from Debian packages or from the small shims
beside this file. A workspace that depends on gust calls gust_dependencies()
from its own WORKSPACE (see tests/consumer/WORKSPACE).
"""

def _shim_repository_impl(rctx):
    for label, dest in rctx.attr.files.items():
        rctx.symlink(label, dest)

# A repository assembled from files of this package, so that the shims work
# the same in gust's own workspace and in a workspace that depends on gust.
_shim_repository = repository_rule(
    implementation = _shim_repository_impl,
    attrs = {"files": attr.label_keyed_string_dict(allow_files = True)},
)

def _system_library(name, path, build_file):
    native.new_local_repository(
        name = name,
        path = path,
        build_file = str(Label("//tools/bazel:" + build_file)),
    )

def gust_dependencies():
    """Declares every external repository gust needs, none downloaded."""
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    native.local_repository(
        name = "platforms",
        path = "/usr/share/bazel/tools/platforms",
    )
    _shim_repository(
        name = "rules_cc",
        files = {
            Label("//tools/bazel:empty.WORKSPACE"): "WORKSPACE",
            Label("//tools/bazel:rules_cc.BUILD"): "cc/BUILD",
            Label("//tools/bazel:rules_cc_defs.bzl"): "cc/defs.bzl",
        },
    )
    _shim_repository(
        name = "remote_coverage_tools",
        files = {
            Label("//tools/bazel:empty.WORKSPACE"): "WORKSPACE",
            Label("//tools/bazel:coverage_tools.BUILD"): "BUILD",
        },
    )

    # Libraries gust links.
    _system_library("boringssl", "/usr", "boringssl.BUILD")
    _system_library("http_parser", "/usr", "http_parser.BUILD")
    _system_library("urcu", "/usr", "urcu.BUILD")
    _system_library("zlib", "/usr", "zlib.BUILD")

    # Peers for benchmarks only; never linked into the library.
    _system_library("tbb", "/usr", "tbb.BUILD")
    _system_library("curl", "/usr", "curl.BUILD")
