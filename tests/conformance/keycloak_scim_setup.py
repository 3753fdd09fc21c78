"""Switches Keycloak's own SCIM API on for a fresh realm and prints a token.

    keycloak_scim_setup.py KC_URL REALM ADMIN_USER ADMIN_PASSWORD

Needs a Keycloak started with `--features=scim-api`. Creates REALM (plain,
Keycloak's defaults) unless it exists, sets `scimApiEnabled`, and creates a
confidential client with a service account holding `manage-users`,
`view-users`, `query-users` and `query-groups` of `realm-management`, and
the audience Keycloak's SCIM API checks (the realm's SCIM base URL), as
tools/kc-scim-bench's `setup-native` does. Prints a client-credentials
access token of that client on stdout. Standard library only.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "conformance-scim-client"
CLIENT_SECRET = "conformance-scim-secret"


def call(method, url, token=None, body=None, form=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: {e.code} {e.read().decode()[:400]}") from None
    return json.loads(text) if text.strip() else None


def main() -> int:
    kc, realm, user, password = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
    admin = call(
        "POST",
        f"{kc}/realms/master/protocol/openid-connect/token",
        form={"grant_type": "password", "client_id": "admin-cli", "username": user, "password": password},
    )["access_token"]
    base = f"{kc}/admin/realms/{realm}"
    realms = call("GET", f"{kc}/admin/realms", admin)
    if not any(r["realm"] == realm for r in realms):
        call("POST", f"{kc}/admin/realms", admin, {"realm": realm, "enabled": True})
    rep = call("GET", base, admin)
    rep["scimApiEnabled"] = True
    call("PUT", base, admin, rep)
    if call("GET", base, admin).get("scimApiEnabled") is not True:
        raise SystemExit("Keycloak kept scimApiEnabled off: is it started with --features=scim-api?")
    found = call("GET", f"{base}/clients?clientId={CLIENT_ID}", admin)
    if not found:
        call("POST", f"{base}/clients", admin, {
            "clientId": CLIENT_ID,
            "publicClient": False,
            "secret": CLIENT_SECRET,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": {"access.token.lifespan": "3600"},
            "protocolMappers": [{
                "name": "scim-audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": f"{kc}/realms/{realm}/scim/v2",
                    "access.token.claim": "true",
                },
            }],
        })
        found = call("GET", f"{base}/clients?clientId={CLIENT_ID}", admin)
    cid = found[0]["id"]
    sa = call("GET", f"{base}/clients/{cid}/service-account-user", admin)["id"]
    rm = call("GET", f"{base}/clients?clientId=realm-management", admin)[0]["id"]
    wanted = {"manage-users", "view-users", "query-users", "query-groups"}
    roles = [r for r in call("GET", f"{base}/clients/{rm}/roles", admin) if r["name"] in wanted]
    call("POST", f"{base}/users/{sa}/role-mappings/clients/{rm}", admin, roles)
    token = call(
        "POST",
        f"{kc}/realms/{realm}/protocol/openid-connect/token",
        form={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )["access_token"]
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
