"""Runs python-scim's scim2-tester against a SCIM base URL with a bearer token.

Writes one JSON object per check result to OUT (`check`, `status`: pass,
fail or skip, `detail`) for evaluate.py. A check's name is the checker's
title, the resource type in brackets when there is one, and the attribute
path the result is about when there is one, e.g.
`check_remove_attribute[User] active`: a name stands for one result, so an
exclusion never covers more than the one behaviour it documents.
"""
import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def check_name(result) -> str:
    name = result.title or "untitled"
    if result.resource_type:
        name += f"[{result.resource_type}]"
    data = result.data if isinstance(result.data, dict) else {}
    if isinstance(data.get("urn"), str):
        name += f" {data['urn']}"
    return name


def status_of(result) -> str:
    if result.status == Status.SUCCESS:
        return "pass"
    if result.status == Status.SKIPPED:
        return "skip"
    return "fail"


def main() -> int:
    url, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
    http = httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    results = check_server(SyncSCIMClient(http))
    with open(out, "w", encoding="utf-8") as f:
        for r in results:
            first = (r.description or "").strip().splitlines()[:1]
            detail = f"{first[0] if first else ''} | {str(r.reason)[:600]}"
            f.write(json.dumps({"check": check_name(r), "status": status_of(r), "detail": detail}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
