#!/usr/bin/env bash
# Module boundaries of docs/architecture.md, checked with grep:
# scim/ and mapping/ are pure; keycloak/ knows nothing of SCIM; http/ goes
# through the directory port only.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # dir pattern message
  if [ -d "$1" ] && grep -rnE "$2" "$1"; then
    echo "boundary violated: $3" >&2
    fail=1
  fi
}
check src/scim 'actix|reqwest|oauth2|tokio|crate::(keycloak|mapping|directory|http|auth|bootstrap|startup|cli|config)' \
  "src/scim must stay pure (no I/O, no Keycloak)"
check src/mapping 'actix|reqwest|oauth2|tokio|crate::(directory|http|auth|bootstrap|startup|cli)' \
  "src/mapping must stay pure"
check src/keycloak 'crate::(scim|mapping|directory|http|auth|bootstrap)' \
  "src/keycloak must know nothing of SCIM"
check src/http 'crate::(keycloak|mapping)' \
  "src/http must go through the directory port"
check src/auth 'actix' "src/auth must not know actix"
check src/directory 'actix' "src/directory must not know actix"
[ "$fail" -eq 0 ] && echo "module boundaries: ok"
exit "$fail"
