#!/usr/bin/env bash
# Stops the Keycloak that start.sh started on KC_PORT, by the pid it recorded.
set -euo pipefail
# shellcheck source=keycloak/env.sh
. "$(dirname "$0")/env.sh"
pidfile="$KC_RUN_DIR/pid"
[ -f "$pidfile" ] || { echo "no keycloak recorded on port $KC_PORT" >&2; exit 0; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
echo "keycloak on port $KC_PORT stopped" >&2
