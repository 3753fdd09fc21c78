"""Table tests of evaluate.py: which results and exclusions pass a run.

    python3 -m unittest discover -s tests/conformance -p 'test_*.py'

scripts/conformance.sh runs them before the tools, so the judge of a run is
checked on every run. Standard library only.
"""
import contextlib
import io
import json
import os
import tempfile
import unittest

import evaluate

DOCS = "| scim2-tester | `a[User] x` | RFC 7644 §3.5.2 | why |\n"
EXCLUDE_A = "scim2-tester | a[User] x | RFC 7644 §3.5.2 | why\n"


class EvaluateTest(unittest.TestCase):
    def run_with(self, results, exclusions, docs=DOCS, extra=()):
        with tempfile.TemporaryDirectory() as d:
            paths = {}
            for name, text in [
                ("results", "".join(json.dumps(r) + "\n" for r in results)),
                ("exclusions", exclusions),
                ("docs", docs),
            ]:
                paths[name] = os.path.join(d, name)
                with open(paths[name], "w", encoding="utf-8") as f:
                    f.write(text)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = evaluate.main([
                    "scim2-tester", paths["results"],
                    "--exclusions", paths["exclusions"], "--docs", paths["docs"], *extra,
                ])
            return code, out.getvalue()

    def test_verdicts(self):
        fail_a = {"check": "a[User] x", "status": "fail", "detail": "d"}
        pass_a = {"check": "a[User] x", "status": "pass", "detail": ""}
        fail_b = {"check": "b", "status": "fail", "detail": "d"}
        pass_b = {"check": "b", "status": "pass", "detail": ""}
        skip_c = {"check": "c", "status": "skip", "detail": ""}
        cases = [
            ("all pass, nothing excluded", [pass_b, skip_c], "", 0, "1 passed, 0 failed, 0 excluded, 1 skipped"),
            ("a failure not excluded", [fail_b], "", 1, "[FAIL] b"),
            ("an excluded failure", [fail_a, pass_b], EXCLUDE_A, 0, "1 passed, 0 failed, 1 excluded"),
            ("an excluded check that passed", [pass_a], EXCLUDE_A, 1, "passed; remove it"),
            ("an excluded check not run", [pass_b], EXCLUDE_A, 1, "was not run"),
            ("an exclusion without an RFC section", [fail_a], "scim2-tester | a[User] x | soon | why\n", 1, "not an RFC section"),
            ("a malformed exclusion", [pass_b], "scim2-tester | b\n", 1, "want `tool | check"),
            ("another tool's exclusion", [fail_a], "scim-sanity | a[User] x | RFC 7644 §3.5.2 | why\n", 1, "[FAIL] a[User] x"),
        ]
        for name, results, exclusions, code, needle in cases:
            with self.subTest(name):
                got, out = self.run_with(results, exclusions)
                self.assertEqual(got, code, out)
                self.assertIn(needle, out)

    def test_an_undocumented_exclusion_fails(self):
        fail_a = {"check": "a[User] x", "status": "fail", "detail": "d"}
        code, out = self.run_with([fail_a], EXCLUDE_A, docs="nothing here")
        self.assertEqual(code, 1, out)
        self.assertIn("is not documented", out)

    def test_report_only_excludes_nothing_and_exits_zero(self):
        fail_a = {"check": "a[User] x", "status": "fail", "detail": "d"}
        code, out = self.run_with([fail_a], EXCLUDE_A, extra=["--report-only"])
        self.assertEqual(code, 0, out)
        self.assertIn("0 passed, 1 failed, 0 excluded", out)


if __name__ == "__main__":
    unittest.main()
