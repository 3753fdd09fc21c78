#!/usr/bin/env bash
# `make run`: Keycloak (dev mode, embedded H2 file database) + a bootstrapped
# demo realm + kc-scim serve, behind nginx as in docker-compose.yml, so the
# demo is one host, http://localhost:<PUBLIC_PORT>: Keycloak's console at
# /admin, the Tenant URL /realms/<realm>/scim/v2, the admin page
# /realms/<realm>/scim/admin/ (`localhost`, not an IP address: passkeys
# refuse IP origins). Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PUBLIC_PORT=${PUBLIC_PORT:-${KC_PORT:-8080}}
# Keycloak itself listens on loopback only, behind the proxy.
KC_PORT=${KC_INTERNAL_PORT:-$((PUBLIC_PORT + 100))}
DEMO_REALM=${DEMO_REALM:-demo}
BIND=${BIND:-127.0.0.1:8090}
DEMO_ADMIN=${DEMO_ADMIN:-demo-admin}
DEMO_ADMIN_PASSWORD=${DEMO_ADMIN_PASSWORD:-demo-admin}
export KC_PORT KC_DB=${KC_DB:-dev-file}
export KC_ADMIN_USER=${KC_ADMIN_USER:-admin} KC_ADMIN_PASSWORD=${KC_ADMIN_PASSWORD:-admin}
public="http://localhost:$PUBLIC_PORT"

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nginx is missing: run make tools" >&2; exit 1; }

echo "==> building kc-scim (release)" >&2
cargo build --release --quiet
bin=target/release/kc-scim

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/kcscim-demo.XXXXXX")
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  ./keycloak/stop.sh || true
  rm -rf "$run_dir"
}
trap cleanup EXIT

echo "==> starting Keycloak on 127.0.0.1:$KC_PORT" >&2
kc_url=$(./keycloak/start.sh)

echo "==> starting nginx on $public (deploy/nginx/templates)" >&2
sed -e "s|\${PROXY_LISTEN}|localhost:$PUBLIC_PORT|" \
    -e "s|\${KEYCLOAK_UPSTREAM}|127.0.0.1:$KC_PORT|" \
    -e "s|\${KCSCIM_UPSTREAM}|$BIND|" \
    deploy/nginx/templates/default.conf.template >"$run_dir/default.conf"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$run_dir/nginx.conf" <<CONF
$user
daemon off;
worker_processes 1;
pid $run_dir/nginx.pid;
error_log $run_dir/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $run_dir/body;
  proxy_temp_path $run_dir/proxy;
  fastcgi_temp_path $run_dir/fastcgi;
  uwsgi_temp_path $run_dir/uwsgi;
  scgi_temp_path $run_dir/scgi;
  include $run_dir/default.conf;
}
CONF
"$nginx_bin" -p "$run_dir" -e "$run_dir/error.log" -c "$run_dir/nginx.conf" </dev/null &
nginx_pid=$!

export KCSCIM_KEYCLOAK__URL="$kc_url" KCSCIM_KEYCLOAK__PUBLIC_URL="$public"
export KCSCIM_KEYCLOAK__USERNAME="$KC_ADMIN_USER" KCSCIM_KEYCLOAK__PASSWORD="$KC_ADMIN_PASSWORD"
export KCSCIM_HTTP__BIND="$BIND" KCSCIM_REALMS="$DEMO_REALM"
# One key per demo run: the admin page's sign-ins end with the demo.
KCSCIM_ADMIN__COOKIE_KEY=$(head -c 64 /dev/urandom | base64 | tr -d '\n')
export KCSCIM_ADMIN__COOKIE_KEY

echo "==> bootstrapping realm $DEMO_REALM" >&2
"$bin" bootstrap --realm "$DEMO_REALM" --template passwordless >&2

# A user of the demo realm who may use the admin page (realm role scim-admin).
admin_token=$(curl -fsS -d grant_type=password -d client_id=admin-cli \
  --data-urlencode "username=$KC_ADMIN_USER" --data-urlencode "password=$KC_ADMIN_PASSWORD" \
  "$kc_url/realms/master/protocol/openid-connect/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
api="$kc_url/admin/realms/$DEMO_REALM"
auth=(-H "Authorization: Bearer $admin_token" -H "Content-Type: application/json")
curl -fsS -o /dev/null "${auth[@]}" -X POST "$api/users" -d "{\"username\":\"$DEMO_ADMIN\",\"enabled\":true,\
\"email\":\"$DEMO_ADMIN@example.com\",\"emailVerified\":true,\"firstName\":\"Demo\",\"lastName\":\"Admin\"}" ||
  true # already there (dev-file database)
admin_id=$(curl -fsS "${auth[@]}" "$api/users?username=$DEMO_ADMIN&exact=true" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
curl -fsS -o /dev/null "${auth[@]}" -X PUT "$api/users/$admin_id/reset-password" \
  -d "{\"type\":\"password\",\"value\":\"$DEMO_ADMIN_PASSWORD\",\"temporary\":false}"
role=$(curl -fsS "${auth[@]}" "$api/roles/scim-admin")
curl -fsS -o /dev/null "${auth[@]}" -X POST "$api/users/$admin_id/role-mappings/realm" -d "[$role]"

token=$("$bin" token create --realm "$DEMO_REALM" | tail -n 1)
cat <<MSG

Keycloak admin console : $public/admin  ($KC_ADMIN_USER / $KC_ADMIN_PASSWORD)
SCIM Tenant URL        : $public/realms/$DEMO_REALM/scim/v2
SCIM admin page        : $public/realms/$DEMO_REALM/scim/admin/  ($DEMO_ADMIN / $DEMO_ADMIN_PASSWORD)
Secret Token (shown once): $token
Try: curl -H 'Authorization: Bearer $token' '$public/realms/$DEMO_REALM/scim/v2/Users'

MSG
echo "==> kc-scim serve on $BIND behind $public (Ctrl-C stops kc-scim, nginx and Keycloak)" >&2
"$bin" serve
