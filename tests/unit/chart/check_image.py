#!/usr/bin/env python3
"""The Dockerfile's runtime stage cannot be built here (no Docker); this checks what can be:
every package it installs exists in the Debian archive, and every shared library the built
binary links comes from one of them (or from what they depend on), so the image starts.

Usage: check_image.py <source dir> <waha-operator binary>
"""
import pathlib
import re
import shutil
import subprocess
import sys
import unittest

SRC = pathlib.Path(sys.argv[1]).resolve()
BINARY = sys.argv[2]


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def runtime_packages():
    text = (SRC / "Dockerfile").read_text()
    stage = text.split("AS runtime", 1)[1]
    m = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", stage, re.S)
    return m.group(1).replace("\\", " ").split()


def packages_of(paths):
    """{path: owning package}, in one dpkg call (it is slow); usrmerge: try the resolved path too."""
    real = {str(pathlib.Path(p).resolve()): p for p in paths}
    out = subprocess.run(["dpkg", "-S", *paths, *real], capture_output=True, text=True).stdout
    owners = {}
    for line in out.splitlines():
        pkg, _, path = line.partition(": ")
        owners[real.get(path, path)] = pkg.split(":", 1)[0]
    return owners


@unittest.skipUnless(shutil.which("apt-cache") and shutil.which("dpkg"), "not a Debian system")
class RuntimeImage(unittest.TestCase):
    def test_runtime_packages_exist(self):
        pkgs = runtime_packages()
        self.assertIn("libcpprest2.10", pkgs)
        # One call for all (apt-cache is slow): it fails when any name is unknown.
        shown = run("apt-cache", "show", "--no-all-versions", *pkgs)
        for p in pkgs:
            self.assertIn(f"Package: {p}\n", shown)

    def test_linked_libraries_are_installed_by_the_runtime_stage(self):
        pkgs = set(runtime_packages())
        allowed = set(pkgs) | {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}  # in debian:12-slim
        allowed |= set(re.findall(r"^\s+Depends: (\S+)", run("apt-cache", "depends", *pkgs), re.M))
        # A `make sanitize` build links the sanitizer runtimes; the image's Release build does not.
        libs = [lib for lib in re.findall(r"=> (/\S+)", run("ldd", BINARY))
                if not re.search(r"/lib(a|ub|l|t)san\.so", lib)]
        self.assertTrue(libs)
        owners = packages_of(libs)
        for lib in libs:
            self.assertIn(owners.get(lib), allowed, f"{lib}: add its package to the Dockerfile")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
