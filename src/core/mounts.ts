import type { MountInfo, WriteType } from './file-system.js';

/**
 * Mount records as the registry keeps them, and how they are shown. Here, below both the
 * registry (which persists them) and the worker (whose mount table activates them), so neither
 * imports the other.
 *
 * Which options are secrets is the connector's declaration (`secretOptionsOf` in
 * src/ufs/factory.ts), never a guess from the name: the worker that creates a record writes the
 * names into `secretOptions`, the registry seals those values at rest (src/registry/
 * sealed-registry.ts) and every view masks them (`mountInfo`).
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
  /**
   * Names of the options that carry credentials, as the connector declares them (sorted). Absent
   * in records written before connectors declared them: then every option value is masked.
   */
  readonly secretOptions?: readonly string[];
  /**
   * At rest only: the secret option values (and a URI with user info) sealed with AES-256-GCM;
   * `options` then lacks those keys and `uri` is redacted. See src/registry/sealed-registry.ts.
   */
  readonly sealed?: string;
}

/** Where mounts are persisted: the embedded registry (JSON file) or etcd later. */
export interface MountPersistence {
  loadMounts(): Promise<MountRecord[]>;
  saveMount(record: MountRecord): Promise<void>;
  deleteMount(path: string): Promise<void>;
}

export const DEFAULT_SYNC_INTERVAL_MS = -1;
export const DEFAULT_WRITE_TYPE: WriteType = 'CACHE_THROUGH';

/** What a secret is shown as. A mount request that passes it back as a value is refused. */
export const MASKED = '****';

/**
 * The options with the values of `secretNames` replaced by `****`. Without a list (a record from
 * before connectors declared their secrets) every value is masked: unknown means secret.
 */
export function maskOptions(
  options: Readonly<Record<string, string>>,
  secretNames?: readonly string[],
): Record<string, string> {
  const secret = secretNames === undefined ? undefined : new Set(secretNames);
  const out: Record<string, string> = {};
  for (const k of Object.keys(options).sort()) {
    out[k] = secret === undefined || secret.has(k) ? MASKED : (options[k] as string);
  }
  return out;
}

/** How a mount is shown: URI without user info, secret options masked (also when sealed away). */
export function mountInfo(record: MountRecord): MountInfo {
  const shown = maskOptions(record.options, record.secretOptions);
  for (const name of record.secretOptions ?? []) shown[name] = MASKED;
  return {
    path: record.path,
    uri: redactUri(record.uri),
    readOnly: record.readOnly,
    fallbackToUfs: record.fallbackToUfs ?? false,
    syncIntervalMs: record.syncIntervalMs,
    writeType: record.writeType,
    options: sortKeys(shown),
  };
}

/**
 * One field order and sorted options, so two copies of a record (the one a worker mounted, the
 * one a registry snapshot brings back) compare equal as JSON.
 */
export function canonicalMountRecord(record: MountRecord): MountRecord {
  return {
    path: record.path,
    uri: record.uri,
    readOnly: record.readOnly,
    syncIntervalMs: record.syncIntervalMs,
    writeType: record.writeType,
    options: sortKeys(record.options),
    ...(record.fallbackToUfs === undefined ? {} : { fallbackToUfs: record.fallbackToUfs }),
    ...(record.secretOptions === undefined ? {} : { secretOptions: [...record.secretOptions].sort() }),
    ...(record.sealed === undefined ? {} : { sealed: record.sealed }),
  };
}

function sortKeys(options: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(options).sort()) out[k] = options[k] as string;
  return out;
}

/** True when the URI carries user info (a password, or a user name standing for a credential). */
export function hasUserInfo(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.username !== '' || url.password !== '';
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^@/]*@/i.test(uri);
  }
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
