#!/usr/bin/env bash
# `make conformance`: two independently written SCIM conformance tools from
# PyPI, at pinned versions in a virtual environment under the cache directory.
#
#   scripts/conformance.sh                    # against a kc-scim sidecar (the gate)
#   scripts/conformance.sh --target keycloak  # against Keycloak's own SCIM API (a report)
#
# Uses the Keycloak named by KC_TEST_URL, else starts one of its own
# (keycloak/with-keycloak.sh; with --features=scim-api for --target keycloak,
# which then needs that feature on a KC_TEST_URL Keycloak too).
# The sidecar target exits non-zero when a check fails that
# tests/conformance/exclusions.txt does not exclude, or when an exclusion is
# stale or undocumented (tests/conformance/evaluate.py). The keycloak target
# prints the same counts and exits 0 once both tools ran.
set -euo pipefail
cd "$(dirname "$0")/.."
target=sidecar
case "${1:-}" in
  --target) target=${2:-}; shift 2 || true ;;
  --target=*) target=${1#--target=}; shift ;;
  "") ;;
  *) echo "usage: $0 [--target sidecar|keycloak]" >&2; exit 2 ;;
esac
case "$target" in sidecar | keycloak) ;; *) echo "unknown target: $target" >&2; exit 2 ;; esac

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

if [ -z "${KC_TEST_URL:-}" ]; then
  # Re-run inside a Keycloak of our own (started and stopped by with-keycloak.sh).
  if [ "$target" = keycloak ]; then
    export KC_FEATURES=scim-api
    exec ./keycloak/with-keycloak.sh "$0" --target keycloak
  fi
  KC_PREBUILD="cargo build --quiet" exec ./keycloak/with-keycloak.sh "$0"
fi

t0=$(date +%s)
out=$(mktemp -d "${TMPDIR:-/tmp}/kc-scim-conformance.XXXXXX")
# The judge first: its table tests take a fraction of a second.
if ! python3 -m unittest discover -q -s tests/conformance -p 'test_*.py' >"$out/judge.log" 2>&1; then
  cat "$out/judge.log" >&2
  echo "tests/conformance/test_evaluate.py failed" >&2
  exit 1
fi
sidecar=""
stop_sidecar() {
  if [ -n "$sidecar" ] && kill -0 "$sidecar" 2>/dev/null; then
    kill -TERM "$sidecar" 2>/dev/null || true
    wait "$sidecar" 2>/dev/null || true
  fi
}
trap stop_sidecar EXIT

admin_user=${KC_TEST_ADMIN_USER:-admin} admin_password=${KC_TEST_ADMIN_PASSWORD:-admin}
if [ "$target" = keycloak ]; then
  realm=conformance-native
  token=$(python3 tests/conformance/keycloak_scim_setup.py "$KC_TEST_URL" "$realm" "$admin_user" "$admin_password")
  base="${KC_TEST_URL%/}/realms/$realm/scim/v2"
  judge=(--report-only)
else
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  realm=conformance
  scim_port=$(free_port)
  cargo build --quiet
  bin=target/debug/kc-scim
  export KCSCIM_KEYCLOAK__URL="$KC_TEST_URL" KCSCIM_KEYCLOAK__USERNAME="$admin_user" \
    KCSCIM_KEYCLOAK__PASSWORD="$admin_password" \
    KCSCIM_HTTP__BIND="127.0.0.1:$scim_port" KCSCIM_REALMS="$realm"
  # Both tools create and delete users in quick succession, which is what the
  # mass-deprovision breaker exists to refuse: keep it armed, out of reach.
  export KCSCIM_DEPROVISION__MIN_EVENTS=1000000
  "$bin" bootstrap --realm "$realm" --template passwordless >&2
  token=$("$bin" token create --realm "$realm" | tail -n 1)
  "$bin" serve >"$out/sidecar.log" 2>&1 &
  sidecar=$!
  deadline=$(($(date +%s) + 60))
  until curl -fsS "http://127.0.0.1:$scim_port/healthz" >/dev/null 2>&1; do
    kill -0 "$sidecar" 2>/dev/null || { tail -n 20 "$out/sidecar.log" >&2; exit 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { echo "kc-scim did not answer /healthz" >&2; exit 1; }
    sleep 0.5
  done
  base="http://127.0.0.1:$scim_port/realms/$realm/scim/v2"
  judge=(--exclusions tests/conformance/exclusions.txt --docs docs/conformance.md)
fi

status=0
echo "==> scim2-tester 0.5.2 against $base" >&2
"$venv/bin/python" tests/conformance/scim2_tester_check.py "$base" "$token" "$out/scim2-tester.jsonl" || status=1
if [ -s "$out/scim2-tester.jsonl" ]; then
  python3 tests/conformance/evaluate.py scim2-tester "$out/scim2-tester.jsonl" "${judge[@]}" || status=1
else
  echo "scim2-tester wrote no results" >&2; status=1
fi
echo "==> scim-sanity 0.7.4 probe against $base" >&2
# Its exit status only says whether a check failed; evaluate.py judges that.
"$venv/bin/scim-sanity" probe "$base" --token "$token" --i-accept-side-effects --json-output \
  >"$out/scim-sanity.json" 2>"$out/scim-sanity.err" || true
if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/scim-sanity.json" 2>/dev/null; then
  python3 tests/conformance/evaluate.py scim-sanity "$out/scim-sanity.json" --sanity "${judge[@]}" || status=1
else
  echo "scim-sanity wrote no results:" >&2; tail -n 20 "$out/scim-sanity.err" >&2; status=1
fi
echo "conformance ($target) took $(($(date +%s) - t0))s; results and logs in $out" >&2
exit "$status"
