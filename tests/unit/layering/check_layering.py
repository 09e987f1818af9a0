#!/usr/bin/env python3
"""Checks that each folder of operator/src includes only the folders it may depend on.

The CMake link graph already refuses calls in the wrong direction; this test also catches a header
included (and inlined) against the direction, and any HTTP library reaching the pure folders.
"""
import pathlib
import re
import sys

ALLOWED = {
    "common": set(),
    "http": {"common"},
    "api": {"common"},
    "placement": {"common", "api"},
    "scaling": {"common", "api", "placement"},
    "kube": {"common", "http"},
    "metrics": {"common", "http", "kube"},
    "waha": {"common", "http", "api"},
    "controller": {"common", "api", "placement", "scaling", "kube", "waha", "metrics", "http"},
    "hub": {"common", "api", "http", "kube", "metrics", "waha"},
}
# Pure folders: decisions only, no I/O library of any kind.
PURE = {"common", "api", "placement", "scaling"}
IO_HEADERS = re.compile(r'#\s*include\s*<(boost/|cpprest/|pplx/|prometheus/|openssl/|yaml-cpp/)')
PROJECT_INCLUDE = re.compile(r'#\s*include\s*"([a-z_]+)/')


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "operator" / "src"
    problems = []
    checked = 0
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).glob("**/*")):
            if path.suffix not in (".h", ".cpp"):
                continue
            checked += 1
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                m = PROJECT_INCLUDE.match(line.strip())
                if m and m.group(1) != folder and m.group(1) not in allowed:
                    problems.append(f"{path}:{lineno}: {folder}/ may not include {m.group(1)}/")
                if folder in PURE and IO_HEADERS.match(line.strip()):
                    problems.append(f"{path}:{lineno}: pure folder {folder}/ includes an I/O library")
    for p in problems:
        print(p)
    print(f"layering: {checked} files checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
