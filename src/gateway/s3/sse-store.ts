import type { MountInfo, ReadType, StoreEncryption, StrataFileSystem } from '../../client/types.js';
import type { SseRecord } from './sse.js';

/**
 * Encryption passed on to the store: over an `s3://` mount the gateway does not seal SSE-S3 and
 * SSE-KMS objects itself; it writes the plaintext through to the store with the store's own
 * encryption request (core/file-system.ts StoreEncryption), so every client of that bucket reads
 * the object, and the store encrypts it at rest. Such objects are written THROUGH (no staging
 * file of plaintext on the worker) and read NO_CACHE (no plaintext page in any cache tier).
 * SSE-C stays sealed by the gateway on every store: see docs/s3-gateway.md.
 */

const MOUNTS_TTL_MS = 2000;
const seen = new WeakMap<StrataFileSystem, { at: number; mounts: Promise<readonly MountInfo[]> }>();

/** The mount table, asked at most every 2 s per file system (a mount change shows within that). */
function mountsOf(fs: StrataFileSystem): Promise<readonly MountInfo[]> {
  const now = Date.now();
  const hit = seen.get(fs);
  if (hit !== undefined && now - hit.at < MOUNTS_TTL_MS) return hit.mounts;
  const mounts = fs.mounts();
  seen.set(fs, { at: now, mounts });
  mounts.catch(() => seen.delete(fs));
  return mounts;
}

function covers(mount: string, path: string): boolean {
  return mount === '/' || path === mount || path.startsWith(`${mount}/`);
}

/**
 * Whether the store behind `path` encrypts on request: an `s3://` mount, unless its writes stay
 * in the cache (MUST_CACHE: nothing reaches the store, so the gateway seals as on any store).
 */
export async function storeEncrypts(fs: StrataFileSystem, path: string): Promise<boolean> {
  let best: MountInfo | undefined;
  for (const m of await mountsOf(fs))
    if (covers(m.path, path) && (best === undefined || m.path.length > best.path.length)) best = m;
  return best?.uri.startsWith('s3://') === true && best.writeType !== 'MUST_CACHE';
}

/** Whether the object's bytes are sealed by the gateway (else plain, or encrypted by the store). */
export function isSealed(rec: SseRecord | undefined): rec is SseRecord {
  return rec !== undefined && rec.byStore !== true;
}

/** The store's encryption request for a record the store encrypts. */
export function storeEncryptionOf(rec: SseRecord): StoreEncryption {
  if (rec.mode === 'AES256') return { mode: 'AES256' };
  if (rec.mode === 'SSE-C') throw new Error('SSE-C is never passed on to the store');
  return {
    mode: rec.mode,
    ...(rec.kmsKeyId !== undefined ? { kmsKeyId: rec.kmsKeyId } : {}),
    ...(rec.context !== undefined ? { context: rec.context } : {}),
    ...(rec.bucketKeyEnabled ? { bucketKeyEnabled: true } : {}),
  };
}

/** The write options of an object (or part) the store encrypts; {} for any other. */
export function storeWriteOptions(rec: SseRecord | undefined): {
  writeType?: 'THROUGH';
  encryption?: StoreEncryption;
} {
  return rec?.byStore === true ? { writeType: 'THROUGH', encryption: storeEncryptionOf(rec) } : {};
}

/** The read options of such an object: past the cache, so no plaintext page is kept. */
export function storeReadOptions(rec: SseRecord | undefined): { readType?: ReadType } {
  return rec?.byStore === true ? { readType: 'NO_CACHE' } : {};
}
