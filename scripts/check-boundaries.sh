#!/usr/bin/env bash
# Module boundaries of docs/architecture.md, checked with grep (files and
# folders alike), and no cycle between top-level modules:
# scim/ and mapping/ are pure; keycloak/ knows nothing of SCIM; http/ goes
# through the directory port only.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # dir pattern message
  if [ -e "$1" ] && grep -rnE "$2" "$1"; then
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
check src/http 'crate::(keycloak|mapping|admin)' \
  "src/http must go through the directory port"
check src/admin 'crate::(http|scim|auth)' \
  "src/admin (the admin page) goes through the CLI's own functions, not the SCIM layers"
check src/auth 'actix' "src/auth must not know actix"
check src/directory 'actix' "src/directory must not know actix"
check src/bootstrap 'actix|crate::http' "src/bootstrap must not know actix or the HTTP layer"
check src/config.rs 'crate::(scim|keycloak|mapping|directory|http|auth|bootstrap|telemetry|startup|cli|doctor)' \
  "src/config.rs imports no crate module but realm"
check src/realm.rs 'crate::' "src/realm.rs is a leaf: it imports no crate module"
if grep -rnE 'crate::cli' src --include=*.rs | grep -v '^src/cli.rs:'; then
  echo "boundary violated: nothing imports crate::cli" >&2
  fail=1
fi

# No cycles between top-level modules: an edge a -> b for every `crate::b`
# path in a's files (a file `src/a.rs` and a folder `src/a/` are the same
# module), comments ignored.
if ! python3 - <<'PY'
import os, re, sys
src = "src"
mods = {}
for entry in sorted(os.listdir(src)):
    path = os.path.join(src, entry)
    if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
        mods.setdefault(entry[:-3], []).append(path)
    elif os.path.isdir(path):
        for root, _, files in os.walk(path):
            mods.setdefault(entry, []).extend(
                os.path.join(root, f) for f in files if f.endswith(".rs"))
ref = re.compile(r"crate::(\w+)")
use_group = re.compile(r"crate::\{([^}]*)\}")
graph = {m: set() for m in mods}
for m, files in mods.items():
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
        targets = set(ref.findall(text))
        for group in use_group.findall(text):
            targets.update(re.findall(r"(?:^|,)\s*(\w+)", group))
        graph[m].update(t for t in targets if t in mods and t != m)
state, stack = {}, []
def visit(m):
    state[m] = 1
    stack.append(m)
    for n in sorted(graph[m]):
        if state.get(n) == 1:
            cycle = stack[stack.index(n):] + [n]
            print("module cycle: " + " -> ".join(cycle), file=sys.stderr)
            sys.exit(1)
        if n not in state:
            visit(n)
    stack.pop()
    state[m] = 2
for m in sorted(graph):
    if m not in state:
        visit(m)
PY
then
  echo "boundary violated: top-level modules must not form a cycle" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "module boundaries: ok"
exit "$fail"
