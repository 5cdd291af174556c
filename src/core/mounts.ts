import type { MountInfo, WriteType } from './file-system.js';

/**
 * Mount records as the registry keeps them, and how they are shown. Here, below both the
 * registry (which persists them) and the worker (whose mount table activates them), so neither
 * imports the other.
 */

/** What the registry persists for a mount (credentials included; never shown as is). */
export interface MountRecord {
  readonly path: string;
  readonly uri: string;
  readonly readOnly: boolean;
  readonly syncIntervalMs: number;
  readonly writeType: WriteType;
  readonly options: Readonly<Record<string, string>>;
  /** Clients may read the store directly when every owner fails (absent in older records = false). */
  readonly fallbackToUfs?: boolean;
}

/** Where mounts are persisted: the embedded registry (JSON file) or etcd later. */
export interface MountPersistence {
  loadMounts(): Promise<MountRecord[]>;
  saveMount(record: MountRecord): Promise<void>;
  deleteMount(path: string): Promise<void>;
}

export const DEFAULT_SYNC_INTERVAL_MS = -1;
export const DEFAULT_WRITE_TYPE: WriteType = 'CACHE_THROUGH';
/** Option names whose values are secrets: credentials, and headers that carry them (http mounts). */
const SECRET_KEY =
  /secret|password|token|credential|key$|^header\.(authorization|cookie|proxy-authorization|x-api-key)$/i;

export function maskOptions(options: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) out[k] = SECRET_KEY.test(k) ? '****' : v;
  return out;
}

export function mountInfo(record: MountRecord): MountInfo {
  return {
    path: record.path,
    uri: redactUri(record.uri),
    readOnly: record.readOnly,
    fallbackToUfs: record.fallbackToUfs ?? false,
    syncIntervalMs: record.syncIntervalMs,
    writeType: record.writeType,
    options: maskOptions(record.options),
  };
}

/** A URI safe to print: user info (credentials) removed. */
export function redactUri(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.username || url.password) {
      url.username = '';
      url.password = '';
    }
    return url.toString();
  } catch {
    return uri.replace(/\/\/[^@/]*@/, '//');
  }
}
