import type { StrataFileSystem } from '../../core/file-system.js';

export interface FsContractTarget {
  readonly fs: StrataFileSystem;
  /** A local directory the suite may fill with the file:// stores it mounts. */
  readonly scratchDir: string;
  /**
   * True when mounts really serve their stores, so a file changed in a store's directory behind
   * Strata's back is what a fresh status sees (false for fakes that keep bytes themselves).
   */
  readonly servesStores: boolean;
  /** How many workers report() must list. */
  readonly workers: number;
  /**
   * Waits until a mount-table change reached every worker (a cluster spreads it by registry
   * watch, asynchronously). Called after each mount and unmount.
   */
  readonly settle?: () => Promise<void>;
  /** Mount-point prefix, e.g. "/fsc"; default "/fsc-<random>". */
  readonly prefix?: string;
}

export interface FsContractContext {
  readonly fs: StrataFileSystem;
  readonly target: FsContractTarget;
  /** Writable mount (defaults: CACHE_THROUGH, sync interval -1). */
  readonly mount: string;
  /** Its store's local directory. */
  readonly mountDir: string;
  /** A second writable mount. */
  readonly otherMount: string;
  /** A read-only mount holding `fixture.txt` (READ_ONLY_FIXTURE) and an empty directory `empty`. */
  readonly readOnlyMount: string;
  /** A top-level path below which nothing is mounted (meaningful when `rootMounted` is false). */
  readonly unmounted: string;
  /** Whether something is mounted on "/" (then no path is outside every mount). */
  readonly rootMounted: boolean;
  readonly prefix: string;
}

export interface FsCaseContext extends FsContractContext {
  /** The case's own directory in `mount`, created and empty. */
  readonly dir: string;
  /** The same directory in the store, to change files behind Strata's back. */
  readonly localDir: string;
}

export type FsNeed =
  /** The mounts serve real stores (files changed in the store directory are seen). */
  | 'stores'
  /** Nothing is mounted on "/", so some paths lie outside every mount. */
  | 'unmountedPaths'
  | 'readBuffer'
  | 'peekFile'
  | 'cachedBytesOf'
  | 'location'
  | 'jobBatch';

export interface FsContractCase {
  readonly name: string;
  readonly needs?: readonly FsNeed[];
  run(ctx: FsCaseContext): Promise<void>;
}

export const READ_ONLY_FIXTURE = Buffer.from('read-only fixture\n');
