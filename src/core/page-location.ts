import type { FileInfo } from './file-system.js';

/**
 * What a worker answers to GET /rpc/v1/locate: a path's status, the sync policy it is held
 * under, and — for a file whose pages lie on the worker's (plain, unsealed) disk tier — where
 * each page file is, so a client on the same host can read the pages itself (short-circuit read)
 * and check them as the worker would (page-file.ts: header, index, CRC-32).
 */
export interface PageLocation {
  /**
   * The worker's change counter (GET /rpc/v1/watch) taken before the answer was computed: a
   * client that has already heard of a later change must not cache the answer.
   */
  readonly seq: number;
  readonly info: FileInfo;
  /** The sync interval of the path's mount (-1 trust, 0 always check, N ms). */
  readonly syncIntervalMs: number;
  readonly pageSize: number;
  /**
   * Page file of each page from page 0 (null: not on disk — in memory only, being written, or
   * sealed). Absent for directories, empty files and workers without a plain disk tier; only
   * the first MAX_LOCATED_PAGES pages are listed.
   */
  readonly files?: readonly (string | null)[];
}

/** Pages one locate answer lists at most (4 GiB of 1 MiB pages; ~100 bytes of JSON each). */
export const MAX_LOCATED_PAGES = 4096;

/** Who a worker is, so a client can tell whether it runs on the same host (and kernel boot). */
export interface HostIdentity {
  readonly hostname: string;
  /** /proc/sys/kernel/random/boot_id ('' where there is none). */
  readonly bootId: string;
}

/** One line of the GET /rpc/v1/watch stream (NDJSON). */
export type WatchLine =
  | { readonly hello: { readonly seq: number; readonly host: HostIdentity } }
  | {
      readonly seq: number;
      /** Paths whose status changed; `trees`: paths below which everything changed. */
      readonly paths?: readonly string[];
      readonly trees?: readonly string[];
    };

/** The worker's heartbeat on an idle watch stream; a client hearing nothing for 3× this drops it. */
export const WATCH_HEARTBEAT_MS = 5_000;
