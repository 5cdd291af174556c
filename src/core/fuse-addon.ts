import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where the FUSE addon (native/fuse, built by scripts/build-fuse.sh, which `npm install` runs
 * where libfuse3-dev is present) is, and how to get it. In core because three peers of one layer
 * need it: the FUSE front end loads it, `strata local --fuse` (server) and `strata doctor` (cli)
 * check for it.
 */

/** Overrides the addon's path (a build kept elsewhere; tests use a missing one). */
export const FUSE_ADDON_ENV = 'STRATA_FUSE_ADDON';

/** native/fuse/build/Release/strata_fuse.node, from dist/src/core/ or src/core/. */
export const DEFAULT_FUSE_ADDON_PATH = fileURLToPath(
  new URL('../../../native/fuse/build/Release/strata_fuse.node', import.meta.url),
);

/** How to get the addon, for every message that finds it missing. */
export const FUSE_BUILD_HINT =
  'install libfuse3 (apt-get install fuse3 libfuse3-dev pkg-config) and run "bash scripts/build-fuse.sh" (npm install runs it when libfuse3-dev is present)';

export function fuseAddonPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const override = env[FUSE_ADDON_ENV];
  return override !== undefined && override !== '' ? override : DEFAULT_FUSE_ADDON_PATH;
}

export function fuseAddonBuilt(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return existsSync(fuseAddonPath(env));
}
