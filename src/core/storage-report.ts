/**
 * What a worker answers at GET /api/v1/storage (behind the token, read-only): its local
 * directories as the worker process sees them — exists, writable by it, space on their file
 * system, and for disk tiers the quota and use. `strata doctor` reads it, since the directories
 * live on the worker's machine, not the CLI's.
 */

export const STORAGE_ROUTE = '/api/v1/storage';

export type StorageDirKind = 'data' | 'meta' | 'staging' | 'disk-tier';

export interface StorageDirReport {
  /** "data", "meta", "staging", or the tier's name ("disk0"). */
  readonly name: string;
  readonly kind: StorageDirKind;
  readonly path: string;
  readonly exists: boolean;
  /** The worker process may read, write and enter it. */
  readonly writable: boolean;
  /** Bytes an unprivileged writer may still use on its file system (statfs bavail × bsize). */
  readonly freeBytes: number;
  readonly totalBytes: number;
  /** Disk tiers: the configured quota and the bytes of pages held. */
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
  /** Why a value could not be read. */
  readonly error?: string;
}

export interface StorageReport {
  readonly workerId: string;
  readonly pageSize: number;
  readonly dirs: readonly StorageDirReport[];
}
