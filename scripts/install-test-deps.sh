#!/usr/bin/env bash
# Debian packages the tests use as real parts (S3 server, HTTP server, clients). Idempotent.
set -euo pipefail
STRATA_TEST_PACKAGES="${STRATA_TEST_PACKAGES:-}"
need=()
for pkg in $STRATA_TEST_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then echo "install-test-deps: need root to install: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
