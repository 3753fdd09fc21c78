# Shared settings for the keycloak/ scripts; sourced, not run.
# KC_VERSION     Keycloak version (default: keycloak/VERSION)
# KC_PORT        HTTP port (default 8080); management port KC_MGMT_PORT (default KC_PORT+1000)
# KC_DB          dev-mem (default, fresh every start), dev-file, or postgres (a
#                PostgreSQL from Debian's packages that pg-start.sh runs on KC_PG_PORT)
# KC_PG_PORT     port of that PostgreSQL (default KC_PORT+10); its data directory is
#                KC_PG_DIR (default $KC_CACHE_DIR/postgres-$KC_PG_PORT)
# KC_ADMIN_USER / KC_ADMIN_PASSWORD   bootstrap admin of the master realm
# KC_CACHE_DIR   download cache (default ~/.cache/kc-scim)
kc_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KC_VERSION=${KC_VERSION:-$(tr -d '[:space:]' <"$kc_here/VERSION")}
KC_PORT=${KC_PORT:-8080}
KC_MGMT_PORT=${KC_MGMT_PORT:-$((KC_PORT + 1000))}
KC_DB=${KC_DB:-dev-mem}
KC_ADMIN_USER=${KC_ADMIN_USER:-admin}
KC_ADMIN_PASSWORD=${KC_ADMIN_PASSWORD:-admin}
KC_CACHE_DIR=${KC_CACHE_DIR:-$HOME/.cache/kc-scim}
KC_RUN_DIR=${KC_RUN_DIR:-$KC_CACHE_DIR/run/keycloak-$KC_PORT}
KC_PG_PORT=${KC_PG_PORT:-$((KC_PORT + 10))}
KC_PG_DIR=${KC_PG_DIR:-$KC_CACHE_DIR/postgres-$KC_PG_PORT}
export KC_VERSION KC_CACHE_DIR

# Newest JDK >= 21 under /usr/lib/jvm, else whatever java is on PATH (17).
kc_pick_java() {
  local best="" best_v=0 d v
  for d in /usr/lib/jvm/*/; do
    [ -x "$d/bin/java" ] || continue
    v=$("$d/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
    [ -n "$v" ] || continue
    if [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best=${d%/}; best_v=$v; fi
  done
  if [ -n "$best" ]; then echo "$best"; elif [ -n "${JAVA_HOME:-}" ]; then echo "$JAVA_HOME"; fi
}
