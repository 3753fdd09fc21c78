#!/usr/bin/env bash
# Starts the pinned Keycloak in dev mode on KC_PORT with a bootstrap admin and
# health enabled, waits for /health/ready on the management port, and leaves
# its pid in $KC_RUN_DIR/pid. Prints the base URL on stdout.
set -euo pipefail
# shellcheck source=keycloak/env.sh
. "$(dirname "$0")/env.sh"
home=$("$kc_here/fetch.sh")
db_args=(--db="$KC_DB")
if [ "$KC_DB" = postgres ]; then
  # Its own PostgreSQL (kept running across Keycloak restarts) and its own
  # copy of the distribution: start-dev re-augments the installation when
  # the database changes, which must not touch the one dev-mem Keycloaks use.
  jdbc=$("$kc_here/pg-start.sh")
  db_args+=(--db-url="$jdbc" --db-username=keycloak --db-password=keycloak)
  pg_home="$KC_CACHE_DIR/keycloak-$KC_VERSION-postgres"
  if [ ! -x "$pg_home/bin/kc.sh" ]; then
    tmp=$(mktemp -d "$KC_CACHE_DIR/copy.XXXXXX")
    cp -a "$home" "$tmp/kc"
    mv "$tmp/kc" "$pg_home"
    rmdir "$tmp"
  fi
  home=$pg_home
fi
mkdir -p "$KC_RUN_DIR"
if [ -f "$KC_RUN_DIR/pid" ] && kill -0 "$(cat "$KC_RUN_DIR/pid")" 2>/dev/null; then
  echo "keycloak already running on port $KC_PORT (pid $(cat "$KC_RUN_DIR/pid"))" >&2
  echo "http://127.0.0.1:$KC_PORT"
  exit 0
fi
java_home=$(kc_pick_java)
[ -n "$java_home" ] && export JAVA_HOME="$java_home"
export KC_BOOTSTRAP_ADMIN_USERNAME="$KC_ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD"
args=(start-dev --http-port="$KC_PORT" --http-management-port="$KC_MGMT_PORT"
  --health-enabled=true "${db_args[@]}" --http-host=127.0.0.1)
[ -n "${KC_FEATURES:-}" ] && args+=(--features="$KC_FEATURES")
echo "starting keycloak $KC_VERSION on port $KC_PORT, db $KC_DB (java: ${JAVA_HOME:-default}, log: $KC_RUN_DIR/keycloak.log)" >&2
# setsid: the server gets its own process group, so stop.sh ends java too.
setsid "$home/bin/kc.sh" "${args[@]}" >"$KC_RUN_DIR/keycloak.log" 2>&1 </dev/null &
echo $! >"$KC_RUN_DIR/pid"
start=$(date +%s)
deadline=$((start + ${KC_START_TIMEOUT:-240}))
until curl -fsS "http://127.0.0.1:$KC_MGMT_PORT/health/ready" >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$KC_RUN_DIR/pid")" 2>/dev/null; then
    echo "keycloak exited during start-up; last log lines:" >&2
    tail -n 30 "$KC_RUN_DIR/keycloak.log" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "keycloak not ready after ${KC_START_TIMEOUT:-240}s; see $KC_RUN_DIR/keycloak.log" >&2
    exit 1
  fi
  printf '.' >&2
  sleep 2
done
echo " ready in $(($(date +%s) - start))s" >&2
echo "http://127.0.0.1:$KC_PORT"
