#!/usr/bin/env bash
# Debian packages the tests use as real parts (S3 server, HTTP server, clients). Idempotent.
# The list lives in scripts/test-packages.txt, one package per line (# starts a comment).
set -euo pipefail
list="$(dirname "$0")/test-packages.txt"
need=()
while read -r pkg _; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done < "$list"
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then echo "install-test-deps: need root to install: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
