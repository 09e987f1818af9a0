#!/usr/bin/env python3
"""The operations docs against the code: every condition and Event reason the controller writes
is explained in docs/troubleshooting.md, and every metric family the code registers is in
docs/metrics.md. A new reason or metric without its documentation fails here.

Usage: check_docs.py <source dir>
"""
import pathlib
import re
import sys
import unittest

SRC = pathlib.Path(sys.argv[1]).resolve()
OPS = SRC / "operator" / "src"
REASON = re.compile(r'"([A-Z][A-Za-z]+)"')
CALLS = re.compile(r"\b(condition|setCondition|event)\(")


def call_args(text, start):
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    return text[start + 1:]


def reasons():
    """CamelCase string literals passed to condition(), setCondition() and event() calls."""
    found = {}
    for path in sorted((OPS / "controller").glob("*.cpp")):
        text = path.read_text()
        for m in CALLS.finditer(text):
            for r in REASON.findall(call_args(text, m.end() - 1)):
                found.setdefault(r, path.name)
    return found


def metric_families():
    names = set()
    for path in OPS.rglob("*.cpp"):
        names |= set(re.findall(r'\.Name\("([a-z_:][a-z0-9_:]*)"\)', path.read_text()))
    return names


class Docs(unittest.TestCase):
    def test_every_reason_is_explained(self):
        doc = (SRC / "docs" / "troubleshooting.md").read_text()
        found = reasons()
        for r in ("NoCapacity", "Placed", "WorkerNotReady", "AtMaxWorkers"):  # the scan works
            self.assertIn(r, found)
        for r, where in sorted(found.items()):
            # `Reason` in a table, or a condition type written as `Type=True`.
            self.assertTrue(re.search(f"`{r}[`=]", doc),
                            f"reason {r} ({where}) is not in docs/troubleshooting.md")

    def test_every_metric_family_is_documented(self):
        doc = (SRC / "docs" / "metrics.md").read_text()
        families = metric_families()
        self.assertIn("controller_runtime_reconcile_total", families)
        for name in sorted(families):
            self.assertTrue(f"`{name}`" in doc, f"{name} is not in docs/metrics.md")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
