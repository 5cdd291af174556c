import { Readable } from 'node:stream';
import { isStrataError } from '../core/errors.js';
import type { FileInfo, StrataFileSystem } from '../core/file-system.js';
import { parentOf } from '../core/paths.js';

/**
 * The S3 namespace convention over a StrataFileSystem, shared by the S3 gateway and the CLI
 * (`strata fs anonymous`): a bucket is a top-level directory, and its hidden folder
 * `/<bucket>/.strata-s3/` holds what only S3 has — per-bucket settings (`bucket.json`, here),
 * and the gateway's object sidecars, multipart staging and overflow objects (src/gateway/s3).
 * The settings are plain files in the namespace, so every gateway in front of the same cluster
 * sees the same ones.
 */

/** Each bucket's hidden folder (settings, metadata sidecars, multipart staging, overflow keys). */
export const S3_RESERVED_DIR = '.strata-s3';

/** Largest small record read back (a longer file is treated as absent). */
const MAX_SMALL_FILE = 256 * 1024;

export interface BucketSettings {
  /** Unsigned GET/HEAD requests (objects and listings) are allowed. */
  readonly anonymousRead?: boolean;
  /** The S3 user who created the bucket; absent: the root user (buckets made before users). */
  readonly owner?: string;
  /** ACL grants beside the owner's FULL_CONTROL (the gateway's acl-grants.ts reads them). */
  readonly grants?: readonly StoredGrant[];
  /** The bucket policy document as sent (PutBucketPolicy). */
  readonly policy?: string;
  readonly publicAccessBlock?: {
    readonly BlockPublicAcls: boolean;
    readonly IgnorePublicAcls: boolean;
    readonly BlockPublicPolicy: boolean;
    readonly RestrictPublicBuckets: boolean;
  };
  /** Object ownership controls: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter. */
  readonly ownership?: string;
  /** Default encryption of new objects (PutBucketEncryption; the gateway's sse-bucket.ts). */
  readonly encryption?: {
    readonly algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
    readonly kmsKeyId?: string;
    readonly bucketKeyEnabled?: boolean;
  };
  /** CORS rules (PutBucketCors), in their order: the gateway's cors.ts validates and applies them. */
  readonly cors?: readonly StoredCorsRule[];
  /** Bucket tags (PutBucketTagging), key → value. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface StoredCorsRule {
  readonly id?: string;
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds?: number;
}

export interface StoredGrant {
  readonly grantee: { readonly user: string } | { readonly group: string };
  readonly permission: string;
}

export function bucketSettingsPath(bucket: string): string {
  return `/${bucket}/${S3_RESERVED_DIR}/bucket.json`;
}

/** A small file's bytes, or undefined when it is missing (or too big to be one of ours). */
export async function readSmallFile(fs: StrataFileSystem, path: string): Promise<Buffer | undefined> {
  let stream: Readable;
  try {
    stream = await fs.read(path);
  } catch (err) {
    if (isAbsent(err)) return undefined;
    throw err;
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > MAX_SMALL_FILE) {
      stream.destroy();
      return undefined;
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/**
 * Writes a small file; a stale record in the way inside the hidden folder (a file where a
 * directory is needed, or the reverse) is cleared and the write retried once.
 */
export async function writeSmallFile(fs: StrataFileSystem, path: string, data: string): Promise<FileInfo> {
  const buf = Buffer.from(data);
  try {
    return await fs.write(path, Readable.from([buf]), { size: buf.length });
  } catch (err) {
    if (
      !isStrataError(err, 'NOT_A_DIRECTORY') &&
      !isStrataError(err, 'IS_A_DIRECTORY') &&
      !isStrataError(err, 'ALREADY_EXISTS')
    )
      throw err;
    await clearConflicts(fs, path);
    return await fs.write(path, Readable.from([buf]), { size: buf.length });
  }
}

/** Removes what blocks `path` below `/<bucket>/.strata-s3/<area>/` (never the bucket itself). */
async function clearConflicts(fs: StrataFileSystem, path: string): Promise<void> {
  const chain: string[] = [];
  for (let p = path; p.split('/').length > 4; p = parentOf(p)) chain.unshift(p);
  for (const p of chain) {
    try {
      const st = await fs.status(p, { syncIntervalMs: 0 });
      if (p === path ? st.type === 'directory' : st.type !== 'directory') {
        await fs.delete(p, { recursive: true });
        return;
      }
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return;
      throw err;
    }
  }
}

/** A bucket's settings; {} when it has none (or they do not parse). */
/**
 * Parsed settings by file system and bucket, kept while the settings file's fingerprint is
 * unchanged: every authorized request and every request carrying an Origin asks for them, and a
 * status (answered from the metadata caches) is much cheaper than reading and parsing the file.
 * An entry is also re-read after SETTINGS_MAX_AGE_MS, which bounds how long a rewrite that keeps
 * the fingerprint (same size, same millisecond, a store without etags) could go unseen.
 */
const settingsCache = new WeakMap<StrataFileSystem, Map<string, CachedSettings>>();
interface CachedSettings {
  readonly fingerprint: string;
  readonly at: number;
  readonly settings: BucketSettings;
}
const SETTINGS_MAX_AGE_MS = 5_000;
const MAX_CACHED_BUCKETS = 4096;

function cacheOf(fs: StrataFileSystem): Map<string, CachedSettings> {
  let c = settingsCache.get(fs);
  if (c === undefined) {
    c = new Map();
    settingsCache.set(fs, c);
  }
  return c;
}

/** Settings as parsed (frozen: they are shared between requests); {} for none or a bad file. */
export async function loadBucketSettings(fs: StrataFileSystem, bucket: string): Promise<BucketSettings> {
  const cache = cacheOf(fs);
  let fingerprint: string;
  try {
    const info = await fs.status(bucketSettingsPath(bucket));
    if (info.type !== 'file') return {};
    fingerprint = info.fingerprint;
  } catch (err) {
    if (isAbsent(err)) {
      cache.delete(bucket);
      return {};
    }
    throw err;
  }
  const hit = cache.get(bucket);
  if (hit !== undefined && hit.fingerprint === fingerprint && Date.now() - hit.at < SETTINGS_MAX_AGE_MS)
    return hit.settings;
  const raw = await readSmallFile(fs, bucketSettingsPath(bucket));
  let settings: BucketSettings = {};
  if (raw) {
    try {
      settings = Object.freeze(JSON.parse(raw.toString('utf8')) as BucketSettings);
    } catch {
      settings = {};
    }
  }
  if (cache.size >= MAX_CACHED_BUCKETS) cache.clear();
  // Keyed by the fingerprint seen before the read: if the file changed in between, the next
  // status differs and the entry is read again.
  cache.set(bucket, { fingerprint, at: Date.now(), settings });
  return settings;
}

function isAbsent(err: unknown): boolean {
  return (
    isStrataError(err, 'NOT_FOUND') ||
    isStrataError(err, 'NOT_A_DIRECTORY') ||
    isStrataError(err, 'IS_A_DIRECTORY')
  );
}

export async function saveBucketSettings(
  fs: StrataFileSystem,
  bucket: string,
  settings: BucketSettings,
): Promise<void> {
  cacheOf(fs).delete(bucket);
  await writeSmallFile(fs, bucketSettingsPath(bucket), JSON.stringify(settings));
  cacheOf(fs).delete(bucket);
}

/**
 * Changes some of a bucket's settings (read, merge, write; a field set to undefined is removed).
 * Two gateways changing one bucket's settings at the same moment: the last write wins.
 */
export async function updateBucketSettings(
  fs: StrataFileSystem,
  bucket: string,
  patch: { readonly [K in keyof BucketSettings]?: BucketSettings[K] | undefined },
): Promise<BucketSettings> {
  const next: Record<string, unknown> = { ...(await loadBucketSettings(fs, bucket)), ...patch };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  await saveBucketSettings(fs, bucket, next as BucketSettings);
  return next as BucketSettings;
}

/** Turns anonymous read on or off for a bucket. */
export async function setAnonymousRead(fs: StrataFileSystem, bucket: string, on: boolean): Promise<void> {
  const current = await loadBucketSettings(fs, bucket);
  await saveBucketSettings(fs, bucket, { ...current, anonymousRead: on });
}
