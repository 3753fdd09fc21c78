#!/usr/bin/env bash
# `make conformance`: two independently written SCIM conformance tools from
# PyPI, at pinned versions in a virtual environment under the cache directory,
# against a sidecar in front of a fresh Keycloak. Prints each tool's counts;
# exits non-zero when either reports a failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KC_CACHE_DIR:-$HOME/.cache/kc-scim}
venv="$cache/conformance-venv"
pins=(scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3 httpx2==2.16.2 scim-sanity==0.7.4)
stamp="$venv/.pins"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]; then
  echo "==> installing ${pins[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "${pins[@]}"
  echo "${pins[*]}" >"$stamp"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
realm=conformance
scim_port=$(free_port)
log=$(mktemp "${TMPDIR:-/tmp}/kc-scim-conformance.XXXXXX.log")
sidecar=""
stop_sidecar() {
  if [ -n "$sidecar" ] && kill -0 "$sidecar" 2>/dev/null; then
    kill -TERM "$sidecar" 2>/dev/null || true
    wait "$sidecar" 2>/dev/null || true
  fi
}

if [ -z "${KC_TEST_URL:-}" ]; then
  # Re-run inside a Keycloak of our own (started and stopped by with-keycloak.sh).
  KC_PREBUILD="cargo build --quiet" exec ./keycloak/with-keycloak.sh "$0" "$@"
fi
trap stop_sidecar EXIT
cargo build --quiet
bin=target/debug/kc-scim
export KCSCIM_KEYCLOAK__URL="$KC_TEST_URL" KCSCIM_KEYCLOAK__USERNAME="${KC_TEST_ADMIN_USER:-admin}" \
  KCSCIM_KEYCLOAK__PASSWORD="${KC_TEST_ADMIN_PASSWORD:-admin}" \
  KCSCIM_HTTP__BIND="127.0.0.1:$scim_port" KCSCIM_REALMS="$realm"
# Both tools create and delete users in quick succession, which is what the
# mass-deprovision breaker exists to refuse: keep it armed, out of reach.
export KCSCIM_DEPROVISION__MIN_EVENTS=1000000
"$bin" bootstrap --realm "$realm" --template passwordless >&2
token=$("$bin" token create --realm "$realm" | tail -n 1)
"$bin" serve >"$log" 2>&1 &
sidecar=$!
deadline=$(($(date +%s) + 60))
until curl -fsS "http://127.0.0.1:$scim_port/healthz" >/dev/null 2>&1; do
  kill -0 "$sidecar" 2>/dev/null || { tail -n 20 "$log" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "kc-scim did not answer /healthz" >&2; exit 1; }
  sleep 0.5
done
base="http://127.0.0.1:$scim_port/realms/$realm/scim/v2"

status=0
echo "==> scim2-tester 0.5.2 against $base" >&2
"$venv/bin/python" tests/conformance/scim2_tester_check.py "$base" "$token" || status=1
echo "==> scim-sanity 0.7.4 probe against $base" >&2
out=$("$venv/bin/scim-sanity" probe "$base" --token "$token" --i-accept-side-effects 2>&1) || status=1
printf '%s\n' "$out" | grep -E '^\s+\[(FAIL|SKIP)\]|passed,' || true
printf '%s\n' "$out" | grep -qE ' 0 failed' || status=1
echo "sidecar log: $log" >&2
exit "$status"
