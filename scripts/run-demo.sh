#!/usr/bin/env bash
# `make run`: Keycloak (dev mode, embedded H2 file database) + a bootstrapped
# demo realm + kc-scim serve in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
KC_PORT=${KC_PORT:-8080}
DEMO_REALM=${DEMO_REALM:-demo}
BIND=${BIND:-127.0.0.1:8090}
export KC_PORT KC_DB=${KC_DB:-dev-file}
export KC_ADMIN_USER=${KC_ADMIN_USER:-admin} KC_ADMIN_PASSWORD=${KC_ADMIN_PASSWORD:-admin}

echo "==> building kc-scim (release)" >&2
cargo build --release --quiet
bin=target/release/kc-scim

echo "==> starting Keycloak on port $KC_PORT" >&2
kc_url=$(./keycloak/start.sh)
trap './keycloak/stop.sh' EXIT

export KCSCIM_KEYCLOAK__URL="$kc_url"
export KCSCIM_KEYCLOAK__USERNAME="$KC_ADMIN_USER" KCSCIM_KEYCLOAK__PASSWORD="$KC_ADMIN_PASSWORD"
export KCSCIM_HTTP__BIND="$BIND" KCSCIM_REALMS="$DEMO_REALM"

echo "==> bootstrapping realm $DEMO_REALM" >&2
"$bin" bootstrap --realm "$DEMO_REALM" --template passwordless

cat <<MSG

Keycloak admin console : $kc_url/admin  ($KC_ADMIN_USER / $KC_ADMIN_PASSWORD)
SCIM Tenant URL        : http://$BIND/realms/$DEMO_REALM/scim/v2
  (behind the reverse proxy of docker-compose.yml the same path is served
   on Keycloak's own host: $kc_url/realms/$DEMO_REALM/scim/v2)

MSG
if "$bin" token --help >/dev/null 2>&1; then
  token=$("$bin" token create --realm "$DEMO_REALM" | tail -n 1)
  echo "Secret Token (shown once): $token"
  echo "Try: curl -H 'Authorization: Bearer $token' 'http://$BIND/realms/$DEMO_REALM/scim/v2/Users'"
  echo
fi
echo "==> kc-scim serve on $BIND (Ctrl-C stops kc-scim and Keycloak)" >&2
"$bin" serve
