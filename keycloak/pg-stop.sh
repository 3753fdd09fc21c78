#!/usr/bin/env bash
# Stops the PostgreSQL that pg-start.sh started on KC_PG_PORT (fast shutdown:
# open sessions are ended, committed data is kept).
set -euo pipefail
# shellcheck source=keycloak/env.sh
. "$(dirname "$0")/env.sh"
pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
[ -n "$pg_bin" ] && [ -f "$KC_PG_DIR/PG_VERSION" ] || { echo "no postgresql in $KC_PG_DIR" >&2; exit 0; }
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
if "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$KC_PG_DIR" status >/dev/null 2>&1; then
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$KC_PG_DIR" -m fast -w stop >/dev/null
fi
echo "postgresql on port $KC_PG_PORT stopped" >&2
