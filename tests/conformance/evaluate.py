"""Judges one conformance tool's results against the documented exclusions.

    evaluate.py TOOL RESULTS [--sanity] [--exclusions FILE --docs FILE] [--report-only]

RESULTS holds one JSON object per line (`check`, `status`: pass, fail or
skip, `detail`), as scim2_tester_check.py writes it; with --sanity it is the
`--json-output` document of scim-sanity probe instead.

An exclusion is a line of the exclusions file, `tool | check | RFC section |
why`; it applies to TOOL's lines only. The run fails (exit 1) when

- a check failed and is not excluded;
- an excluded check passed, or was not run at all (a stale exclusion);
- an exclusion names no RFC section (`RFC 7644 §3.5.2`), or its check is
  not quoted in the docs file (an exclusion is only valid when documented).

Prints every failure and problem, then one count line:
`TOOL: N run, P passed, F failed, E excluded, S skipped`.
With --report-only nothing is excluded and the exit status is 0: the
counts of a server kc-scim does not control (Keycloak's own SCIM API).
"""
import argparse
import json
import re
import sys
from collections import defaultdict

RFC_SECTION = re.compile(r"RFC \d{4} §\d+(\.\d+)*")


def load_results(path: str, sanity: bool) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        if not sanity:
            return [json.loads(line) for line in f if line.strip()]
        doc = json.load(f)
    out = []
    for r in doc.get("results", []):
        status = {"pass": "pass", "skip": "skip"}.get(r.get("status"), "fail")
        out.append({"check": r.get("name", "unnamed"), "status": status, "detail": r.get("message", "")})
    return out


def load_exclusions(path: str, tool: str) -> tuple[dict[str, str], list[str]]:
    """The exclusions of `tool` (check → RFC section) and malformed lines."""
    found: dict[str, str] = {}
    problems = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = [x.strip() for x in line.split(" | ")]
            if len(fields) != 4 or not all(fields):
                problems.append(f"{path}:{n}: want `tool | check | RFC section | why`: {line}")
                continue
            if not RFC_SECTION.fullmatch(fields[2]):
                problems.append(f"{path}:{n}: `{fields[2]}` is not an RFC section (RFC 7644 §3.5.2)")
                continue
            if fields[0] == tool:
                found[fields[1]] = fields[2]
    return found, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("results")
    ap.add_argument("--sanity", action="store_true")
    ap.add_argument("--exclusions")
    ap.add_argument("--docs")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)

    results = load_results(args.results, args.sanity)
    excluded: dict[str, str] = {}
    problems: list[str] = []
    if not args.report_only and args.exclusions:
        excluded, problems = load_exclusions(args.exclusions, args.tool)
        docs = ""
        if args.docs:
            with open(args.docs, encoding="utf-8") as f:
                docs = f.read()
        for check in excluded:
            if f"`{check}`" not in docs:
                problems.append(f"excluded check `{check}` is not documented in {args.docs}")

    by_check: dict[str, list[str]] = defaultdict(list)
    counts = {"pass": 0, "fail": 0, "skip": 0, "excluded": 0}
    for r in results:
        by_check[r["check"]].append(r["status"])
        if r["status"] == "fail" and r["check"] in excluded:
            counts["excluded"] += 1
        else:
            counts[r["status"]] += 1
            if r["status"] == "fail":
                print(f"  [FAIL] {r['check']}: {r['detail']}")
    for check, section in excluded.items():
        if check not in by_check:
            problems.append(f"stale exclusion: `{check}` ({section}) was not run")
        elif "fail" not in by_check[check]:
            problems.append(f"stale exclusion: `{check}` ({section}) passed; remove it")
    for p in problems:
        print(f"  [EXCLUSION] {p}")
    print(
        f"{args.tool}: {len(results)} run, {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['excluded']} excluded, {counts['skip']} skipped"
    )
    if args.report_only:
        return 0
    return 1 if counts["fail"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
