import { createRequire } from 'node:module';
import { StrataError } from '../core/errors.js';
import { FUSE_BUILD_HINT, fuseAddonBuilt, fuseAddonPath } from '../core/fuse-addon.js';

/**
 * The native bridge (native/fuse, libfuse3 high-level API). Requests arrive on the JS thread as
 * handler(op, token, path, path2, fh, offset, size, flags, mode, data); each is answered exactly once
 * with reply(token, result, a?, b?). A late reply (after the native deadline) is dropped there.
 */

/** Op numbers; must match the enum in native/fuse/src/strata_fuse.c. */
export const Op = {
  GETATTR: 0,
  READDIR: 1,
  OPEN: 2,
  CREATE: 3,
  READ: 4,
  WRITE: 5,
  FLUSH: 6,
  RELEASE: 7,
  FSYNC: 8,
  TRUNCATE: 9,
  MKDIR: 10,
  RMDIR: 11,
  UNLINK: 12,
  RENAME: 13,
  STATFS: 14,
  GETXATTR: 15,
  LISTXATTR: 16,
  UTIMENS: 17,
  EXIT: 99,
} as const;
export const OP_COUNT = 18;
export const OP_NAMES: readonly string[] = Object.keys(Op).map((k) => k.toLowerCase());

/** Opaque handle of one native request. */
export type Token = object;

export type RequestHandler = (
  op: number,
  token: Token,
  path: string | null,
  path2: string | null,
  fh: number,
  offset: number,
  size: number,
  flags: number,
  mode: number,
  data: Buffer | null,
) => void;

export interface FuseAddon {
  mount(
    mountpoint: string,
    args: string[],
    timeoutsMs: number[],
    kernelTimeoutsS: [attr: number, entry: number, negative: number],
    maxThreads: number,
    handler: RequestHandler,
  ): void;
  reply(token: Token, result: number, a?: Uint8Array | Float64Array, b?: Uint8Array | Float64Array): void;
  exit(): void;
  /** Read-only opens of `fusePath` are answered natively (keep_cache, noflush) for `ms`. */
  grant(fusePath: string, ms: number): void;
  /** Ends the grants of `fusePath` and everything below it. */
  forget(fusePath: string): void;
}

/** File handles of opens the addon answered itself (a grant) carry this bit. */
export const NATIVE_FH = 2 ** 40;

/** The addon's path: native/fuse/build/Release/strata_fuse.node, or $STRATA_FUSE_ADDON. */
export const ADDON_PATH = fuseAddonPath();

export function addonBuilt(): boolean {
  return fuseAddonBuilt();
}

export function loadAddon(): FuseAddon {
  if (!addonBuilt()) {
    throw new StrataError(
      'UNSUPPORTED',
      `the FUSE addon is not built (${ADDON_PATH} is missing): ${FUSE_BUILD_HINT}`,
    );
  }
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as FuseAddon;
  } catch (err) {
    throw new StrataError(
      'UNSUPPORTED',
      `the FUSE addon failed to load (rebuild it with "bash scripts/build-fuse.sh"): ${(err as Error).message}`,
      { cause: err },
    );
  }
}
