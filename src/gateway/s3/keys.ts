import { MAX_SEGMENT_BYTES } from '../../core/paths.js';
import { S3Error } from './errors.js';

/**
 * Bucket = top-level directory, object key `a/b/c` = file `/bucket/a/b/c`. The file-system
 * namespace cannot hold some S3 keys; those get clear errors here, before any I/O.
 */

export const MAX_KEY_BYTES = 1024;
/** Each bucket's hidden gateway folder (metadata sidecars, multipart staging, settings). */
export const RESERVED_DIR = '.strata-s3';

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

/** Checks a key and returns its namespace path (without the trailing slash of a directory key). */
export function keyToPath(bucket: string, key: string): string {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'The object key is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long (the limit is 1024 bytes)');
  }
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object keys may not contain a NUL character');
  const body = isDirKey(key) ? key.slice(0, -1) : key;
  const segments = body.split('/');
  for (const s of segments) {
    if (s === '') {
      throw new S3Error(
        'InvalidArgument',
        `Object key "${key}" has an empty path segment (a leading "/" or "//"), which this gateway cannot store`,
      );
    }
    if (s === '.' || s === '..') {
      throw new S3Error(
        'InvalidArgument',
        `Object key "${key}" has a "${s}" path segment, which this gateway cannot store`,
      );
    }
    if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) {
      throw new S3Error(
        'KeyTooLongError',
        `Object key "${key.slice(0, 64)}…" has a path segment longer than ${MAX_SEGMENT_BYTES} bytes`,
      );
    }
  }
  if (segments[0] === RESERVED_DIR) {
    throw new S3Error('InvalidArgument', `Object keys under "${RESERVED_DIR}/" are reserved by the gateway`);
  }
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

export function bucketSettingsPath(bucket: string): string {
  return `/${bucket}/${RESERVED_DIR}/bucket.json`;
}
