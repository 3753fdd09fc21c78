#!/usr/bin/env bash
# Runs a command with a Keycloak for it: the one named by KC_TEST_URL when
# set, else a fresh dev-mode Keycloak on a free port that is stopped when the
# command ends. The command sees KC_TEST_URL, KC_TEST_ADMIN_USER and
# KC_TEST_ADMIN_PASSWORD. Set KC_PREBUILD to a command (e.g. "cargo test
# --no-run") to run it while Keycloak starts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export KC_TEST_ADMIN_USER=${KC_TEST_ADMIN_USER:-admin}
export KC_TEST_ADMIN_PASSWORD=${KC_TEST_ADMIN_PASSWORD:-admin}
t0=$(date +%s)
if [ -n "${KC_TEST_URL:-}" ]; then
  echo "using Keycloak at $KC_TEST_URL" >&2
  [ -n "${KC_PREBUILD:-}" ] && eval "$KC_PREBUILD"
  exec "$@"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A free port unless KC_TEST_PORT names one (KC_PORT is make run's).
export KC_PORT=${KC_TEST_PORT:-$(free_port)}
export KC_MGMT_PORT=$(free_port)
export KC_ADMIN_USER=$KC_TEST_ADMIN_USER KC_ADMIN_PASSWORD=$KC_TEST_ADMIN_PASSWORD
unset KC_RUN_DIR
# shellcheck source=keycloak/env.sh
. "$here/env.sh"
"$here/fetch.sh" >/dev/null
cleanup() { "$here/stop.sh" || true; }
trap cleanup EXIT
"$here/start.sh" >"${TMPDIR:-/tmp}/kc-url.$$" &
starter=$!
if [ -n "${KC_PREBUILD:-}" ]; then
  eval "$KC_PREBUILD"
fi
wait "$starter"
export KC_TEST_URL
KC_TEST_URL=$(cat "${TMPDIR:-/tmp}/kc-url.$$")
rm -f "${TMPDIR:-/tmp}/kc-url.$$"
t1=$(date +%s)
echo "Keycloak $KC_VERSION ready at $KC_TEST_URL after $((t1 - t0))s (including any parallel build)" >&2
status=0
"$@" || status=$?
echo "tests took $(($(date +%s) - t1))s after Keycloak was ready; total $(($(date +%s) - t0))s" >&2
exit "$status"
