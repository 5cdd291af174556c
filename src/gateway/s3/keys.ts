import { S3_RESERVED_DIR } from '../../client/s3-settings.js';
import { MAX_SEGMENT_BYTES } from '../../core/paths.js';
import { S3Error } from './errors.js';

/**
 * Bucket = top-level directory, object key `a/b/c` = file `/bucket/a/b/c`. The file-system
 * namespace cannot hold some S3 keys; those get clear errors here, before any I/O.
 */

export const MAX_KEY_BYTES = 1024;
/** Each bucket's hidden gateway folder (metadata sidecars, multipart staging, settings). */
export const RESERVED_DIR = S3_RESERVED_DIR;

export function validateBucketName(name: string): void {
  const ok =
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !name.includes('.-') &&
    !name.includes('-.') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias');
  if (!ok) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${name}`);
}

/** Bucket names that can be addressed (existing directories may be looser than CreateBucket allows). */
export function isAddressableBucket(name: string): boolean {
  return (
    name.length > 0 &&
    !name.startsWith('.') &&
    !name.includes('/') &&
    !name.includes('\0') &&
    Buffer.byteLength(name) <= MAX_SEGMENT_BYTES
  );
}

export function bucketPath(bucket: string): string {
  return `/${bucket}`;
}

/** True for "directory object" keys ("photos/2024/"), stored as an (empty) directory. */
export function isDirKey(key: string): boolean {
  return key.endsWith('/');
}

/** S3's own rules for a key: 1 to 1,024 bytes of UTF-8. Everything else is a valid key. */
export function validateKey(key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'The object key is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long (the limit is 1024 bytes)');
  }
}

/**
 * The namespace path of a valid key (without the trailing slash of a directory key), or
 * undefined when a path cannot name it — an empty, "." or ".." segment ("a//b", "/a", "a/../b"),
 * a segment longer than 255 bytes, a NUL, or the gateway's reserved folder as first segment.
 * Such keys are kept in the overflow folder (overflow.ts), like keys that are also prefixes.
 */
export function treePath(bucket: string, key: string): string | undefined {
  validateKey(key);
  if (key.includes('\0')) return undefined;
  const body = isDirKey(key) ? key.slice(0, -1) : key;
  const segments = body.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') return undefined;
    if (s.length * 3 > MAX_SEGMENT_BYTES && Buffer.byteLength(s) > MAX_SEGMENT_BYTES) return undefined;
  }
  if (segments[0] === RESERVED_DIR) return undefined;
  return `/${bucket}/${body}`;
}

/** Where the metadata sidecar of `key` lives: a tree mirroring the data tree. */
export function metaPath(bucket: string, key: string): string {
  const body = isDirKey(key) ? key.slice(0, -1) : key;
  return `/${bucket}/${RESERVED_DIR}/meta/${body}`;
}

export function uploadsDir(bucket: string): string {
  return `/${bucket}/${RESERVED_DIR}/uploads`;
}
