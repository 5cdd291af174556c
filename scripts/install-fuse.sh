#!/usr/bin/env bash
# npm install's postinstall: builds the FUSE addon (scripts/build-fuse.sh) where libfuse3-dev is
# present. It never fails the install: FUSE is optional (only `strata fuse mount` and
# `strata local --fuse` need it), so a skipped or failed build prints one line saying why and
# how to build it later, and exits 0.
#   STRATA_SKIP_FUSE_BUILD=1   do not try
#   STRATA_FUSE_BUILD_LOG=FILE where the build's output goes (default: the temp dir)
set -uo pipefail
cd "$(dirname "$0")/.."
how="apt-get install fuse3 libfuse3-dev pkg-config, then: bash scripts/build-fuse.sh"
# npm (7+) hides a lifecycle script's output unless it fails or --foreground-scripts is given, so
# on a terminal the line also goes to it.
say() {
  echo "strata: FUSE addon $*" >&2
  if [ ! -t 2 ] && { : >/dev/tty; } 2>/dev/null; then echo "strata: FUSE addon $*" >/dev/tty; fi
}

if [ "${STRATA_SKIP_FUSE_BUILD:-}" = "1" ]; then
  say "not built: STRATA_SKIP_FUSE_BUILD=1 (to build it: bash scripts/build-fuse.sh)"
  exit 0
fi
if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists fuse3 2>/dev/null; then
  say "not built: libfuse3 development files are missing (to build it: $how)"
  exit 0
fi
log="${STRATA_FUSE_BUILD_LOG:-${TMPDIR:-/tmp}/strata-fuse-build.log}"
if bash scripts/build-fuse.sh >"$log" 2>&1; then
  say "built: native/fuse/build/Release/strata_fuse.node"
else
  say "build failed, see $log (everything but FUSE works; to retry: bash scripts/build-fuse.sh)"
fi
exit 0
