#!/usr/bin/env bash
# Fetches org.keycloak:keycloak-quarkus-dist:<version>:zip from the Maven
# registry with mvn and unpacks it into a cache outside the work tree.
# Prints the Keycloak home directory on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${KC_VERSION:-$(tr -d '[:space:]' <"$here/VERSION")}
cache=${KC_CACHE_DIR:-$HOME/.cache/kc-scim}
home="$cache/keycloak-$version"
if [ -x "$home/bin/kc.sh" ]; then
  echo "$home"
  exit 0
fi
mkdir -p "$cache"
zip="$HOME/.m2/repository/org/keycloak/keycloak-quarkus-dist/$version/keycloak-quarkus-dist-$version.zip"
if [ ! -f "$zip" ]; then
  echo "fetching keycloak-quarkus-dist $version with mvn…" >&2
  mvn -B -q dependency:get \
    -Dartifact="org.keycloak:keycloak-quarkus-dist:$version:zip" \
    -Dtransitive=false >&2
fi
tmp=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "unpacking $zip…" >&2
unzip -q "$zip" -d "$tmp"
mv "$tmp/keycloak-$version" "$home"
echo "$home"
