#!/usr/bin/env bash
# Builds the FUSE addon (native/fuse → native/fuse/build/Release/strata_fuse.node).
# Needs Debian libfuse3-dev, pkg-config, a C compiler and Node's headers (offline: npm's nodedir or
# /usr/include/node). `npm install` runs it through scripts/install-fuse.sh (which never fails
# the install); everything but FUSE works without it.
set -euo pipefail
cd "$(dirname "$0")/../native/fuse"
if ! pkg-config --exists fuse3; then
  echo "build-fuse: libfuse3 development files are missing: apt-get install libfuse3-dev fuse3 pkg-config" >&2
  exit 1
fi
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp="$(dirname "$(command -v node)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
nodedir="$(npm config get nodedir 2>/dev/null || true)"
if [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ ! -f "$nodedir/include/node/node_api.h" ]; then
  nodedir=/usr
fi
# --nodedir points at installed headers, so no download is attempted.
node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn
ls -l build/Release/strata_fuse.node
