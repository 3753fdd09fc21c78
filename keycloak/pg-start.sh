#!/usr/bin/env bash
# Starts a PostgreSQL from Debian's packages (postgresql, installed by
# scripts/ensure-tools.sh) for a Keycloak with KC_DB=postgres: on 127.0.0.1,
# port KC_PG_PORT, with its own data directory KC_PG_DIR (created by initdb
# on the first start and kept; KC_PG_FRESH=1 starts from an empty one), a
# role and database `keycloak` (password `keycloak`, trusted on loopback
# only). Durability is PostgreSQL's default (fsync, synchronous commit): a
# commit Keycloak was told about survives a crash. Prints the JDBC URL.
#
# PostgreSQL refuses to run as root: as root, the server runs as the
# `postgres` user of the package, and the data directory's ancestors get a
# traverse-only ACL entry for it (setfacl, package acl) where they deny it.
set -euo pipefail
# shellcheck source=keycloak/env.sh
. "$(dirname "$0")/env.sh"
pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
  echo "no PostgreSQL under /usr/lib/postgresql: run scripts/ensure-tools.sh (make tools)" >&2
  exit 1
fi
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)
fi
jdbc="jdbc:postgresql://127.0.0.1:$KC_PG_PORT/keycloak"
if "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$KC_PG_DIR" status >/dev/null 2>&1; then
  echo "postgresql already running on port $KC_PG_PORT ($KC_PG_DIR)" >&2
  echo "$jdbc"
  exit 0
fi
if [ -n "${KC_PG_FRESH:-}" ]; then rm -rf "$KC_PG_DIR"; fi
mkdir -p "$KC_PG_DIR"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$KC_PG_DIR"
  chmod 0700 "$KC_PG_DIR"
  dir=$(dirname "$KC_PG_DIR")
  while [ "$dir" != / ]; do
    if ! runuser -u postgres -- test -x "$dir"; then
      setfacl -m u:postgres:x "$dir"
    fi
    dir=$(dirname "$dir")
  done
fi
if [ ! -f "$KC_PG_DIR/PG_VERSION" ]; then
  echo "initdb $KC_PG_DIR" >&2
  "${as_pg[@]}" "$pg_bin/initdb" -D "$KC_PG_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=trust >"$KC_PG_DIR.initdb.log" 2>&1 ||
    { cat "$KC_PG_DIR.initdb.log" >&2; exit 1; }
fi
echo "starting postgresql on port $KC_PG_PORT (data: $KC_PG_DIR, log: $KC_PG_DIR/server.log)" >&2
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$KC_PG_DIR" -l "$KC_PG_DIR/server.log" -w -t 60 \
  -o "-p $KC_PG_PORT -k $KC_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" \
  start >/dev/null
psql_pg() { "${as_pg[@]}" "$pg_bin/psql" -h 127.0.0.1 -p "$KC_PG_PORT" -U postgres -qtA "$@"; }
if [ -z "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'keycloak'")" ]; then
  psql_pg -c "CREATE ROLE keycloak LOGIN PASSWORD 'keycloak'"
fi
if [ -z "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'keycloak'")" ]; then
  psql_pg -c "CREATE DATABASE keycloak OWNER keycloak"
fi
echo "$jdbc"
