"""Runs python-scim's scim2-tester against a SCIM base URL with a bearer token.

Prints one line per check that did not succeed and a summary line
`scim2-tester: N checks, P passed, F failed, S skipped`; exits 1 when any
check failed or errored.
"""
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    http = httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    results = check_server(SyncSCIMClient(http))
    passed = failed = skipped = 0
    for r in results:
        if r.status == Status.SUCCESS:
            passed += 1
        elif r.status == Status.SKIPPED:
            skipped += 1
        else:
            failed += 1
            first = (r.description or "").strip().splitlines()[:1]
            print(f"{r.status.name} {r.title}: {first[0] if first else ''} | {str(r.reason)[:400]}")
    print(f"scim2-tester: {len(results)} checks, {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
