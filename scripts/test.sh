#!/usr/bin/env bash
# The README's test command: installs what tests need (Debian packages, npm packages), builds,
# and runs every test with node's test runner. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# npm ci rejects lock files written by npm 11.19 (it omits other platforms' optional packages), so install from the lock with npm install.
npm install --no-audit --no-fund
npx biome check src test bench
# The FUSE addon needs libfuse3-dev (installed above); it is not part of a plain npm install.
bash scripts/build-fuse.sh
npx tsc -p tsconfig.json
# Tests start their own servers on loopback ports and stop them by PID.
# Only *.test.js: node --test would also run every helper under a folder named test.
node --test --test-concurrency=2 --test-timeout=300000 $(find dist/test -name '*.test.js' | sort)
