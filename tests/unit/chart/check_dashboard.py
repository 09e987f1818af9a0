#!/usr/bin/env python3
"""docs/grafana-dashboard.json: valid JSON in Grafana's shape, and every PromQL expression names
only metric families the code registers (found in operator/src by their .Name("...")) or that are
listed below as the families this issue adds, so a renamed metric cannot leave a panel empty.

Usage: check_dashboard.py <source dir>
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SRC = pathlib.Path(sys.argv[1]).resolve()
DASHBOARD = SRC / "docs" / "grafana-dashboard.json"
# The operator's and the hub's own families (issues 7 and 8), whether or not registered yet.
EXPECTED = {
    "waha_operator_sessions", "waha_operator_workers", "waha_operator_placements_total",
    "waha_operator_migrations_total", "waha_operator_failovers_total",
    "waha_operator_session_ready_seconds",
    "waha_hub_requests_total", "waha_hub_upstream_seconds", "waha_hub_route_misses_total",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def registered_families():
    names = set()
    for path in (SRC / "operator" / "src").rglob("*.cpp"):
        names |= set(re.findall(r'\.Name\("([a-zA-Z_:][a-zA-Z0-9_:]*)"\)', path.read_text()))
    return names


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)        # strings
    e = re.sub(r"\{[^}]*\}", " ", e)                      # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                     # range selectors
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", e)
    found = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in PROMQL_WORDS:
            continue
        found.add(m.group(0))
    return found


def family_of(name, known):
    if name in known:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return None


def targets(dashboard):
    for panel in dashboard["panels"]:
        for t in panel.get("targets", []):
            yield panel["title"], t["expr"]


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.dashboard = json.loads(DASHBOARD.read_text())

    def test_shape(self):
        d = self.dashboard
        self.assertEqual(d["uid"], "waha-operator")
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for p in d["panels"]:
            self.assertIn(p["type"], ("row", "timeseries", "stat", "gauge"))
            self.assertTrue(p["title"])
            self.assertTrue({"h", "w", "x", "y"} <= p["gridPos"].keys())
            if p["type"] != "row":
                self.assertTrue(p["targets"], p["title"])

    def test_required_panels(self):
        exprs = " ".join(e for _, e in targets(self.dashboard))
        for family in ("waha_operator_sessions", "waha_operator_workers",
                       "waha_operator_placements_total", "waha_operator_migrations_total",
                       "waha_operator_failovers_total", "waha_operator_session_ready_seconds_bucket",
                       "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
                       "workqueue_depth", "waha_hub_requests_total", "waha_hub_upstream_seconds_bucket"):
            self.assertIn(family, exprs)

    def test_every_expression_names_known_families(self):
        known = registered_families() | EXPECTED
        self.assertIn("controller_runtime_reconcile_total", known)  # the scan works
        for title, expr in targets(self.dashboard):
            names = metric_names(expr)
            self.assertTrue(names, f"{title}: no metric in {expr!r}")
            for n in names:
                self.assertIsNotNone(family_of(n, known), f"{title}: unknown metric {n!r}")

    @unittest.skipUnless(shutil.which("promtool"), "promtool (Debian package prometheus) not installed")
    def test_expressions_parse(self):
        """Every expression, of the dashboard and of docs/metrics.md, as promtool parses it."""
        exprs = [e.replace("$namespace", ".*").replace("$cluster", ".*") for _, e in targets(self.dashboard)]
        exprs += re.findall(r"`((?:sum|max|histogram_quantile)\b[^`]*)`",
                            (SRC / "docs" / "metrics.md").read_text())
        rules = {"groups": [{"name": "check", "rules": [
            {"record": f"check:e{i}", "expr": e} for i, e in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(rules, f)  # JSON is YAML
            f.flush()
            r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_metric_name_extraction(self):
        self.assertEqual(metric_names('sum by (le) (rate(a_bucket{x=~"b|c"}[5m])) / max(b)'),
                         {"a_bucket", "b"})


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
