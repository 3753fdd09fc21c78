#!/usr/bin/env bash
# Installs the Debian packages the checks and tests need beyond Rust, a JDK
# and Maven, when they are missing:
#   nginx           tests/proxy.rs runs a real nginx in front of Keycloak
#   docker-compose  scripts/check-compose.sh validates docker-compose.yml
#                   (`docker-compose config` needs no Docker engine)
#   python3-yaml    scripts/check-compose.sh reads the resolved compose file
#   chromium, chromium-driver, fonts-liberation
#                   tests/passwordless_browser.rs and tests/admin_browser.rs
#                   drive a headless Chromium over WebDriver
#                   (tests/common/browser.rs); the fonts (only recommended by
#                   chromium) make its screenshots readable
#   postgresql      keycloak/pg-start.sh: Keycloak on PostgreSQL (KC_DB=postgres)
#                   for the PostgreSQL bench and reliability runs
#   acl             keycloak/pg-start.sh as root: lets the postgres user reach
#                   its data directory under ~/.cache/kc-scim (traverse only)
#   linux-perf      only with ENSURE_PERF=1: the profile of BENCH_PERF=1
#                   scripts/bench.sh cpu
# Quick and silent when everything is there; uses sudo when not root.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || missing+=(postgresql)
command -v setfacl >/dev/null 2>&1 || missing+=(acl)
[ -z "${ENSURE_PERF:-}" ] || command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
[ "${#missing[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: missing ${missing[*]} and no apt-get here; install them by hand" >&2
  exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "ensure-tools: installing ${missing[*]} from Debian" >&2
"${sudo[@]}" apt-get update -qq >&2
# Tests run their own nginx and PostgreSQL: keep the package scripts from
# starting the system ones (a policy-rc.d that denies every start, only for
# this install).
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  own_policy=true
fi
status=0
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >&2 || status=$?
if [ "$own_policy" = true ]; then "${sudo[@]}" rm -f "$policy"; fi
exit "$status"
