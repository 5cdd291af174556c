import { createHash } from 'node:crypto';
import { readSmallFile, writeSmallFile } from '../../client/s3-settings.js';
import type { FileInfo, StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { parentOf } from '../../core/paths.js';
import type { Grant } from './acl-grants.js';
import { sentText } from './canonical.js';
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';
import { metaPath } from './keys.js';
import type { ListingCache } from './listing.js';
import type { SseRecord } from './sse.js';

/**
 * Object metadata sidecars: one small JSON file per object at `/<bucket>/.strata-s3/meta/<key>`
 * (a tree that mirrors the data tree, so it has no name clashes the data tree does not have).
 * A sidecar is trusted only while it still describes the file (same size and store fingerprint),
 * so a file changed behind the gateway's back falls back to derived values instead of lying.
 */

export interface ObjectMeta {
  readonly v: 1;
  readonly etag: string;
  readonly size: number;
  readonly fingerprint: string;
  /** The fingerprint may change once an ASYNC_THROUGH write is persisted. */
  readonly provisional?: boolean;
  readonly contentType?: string;
  /** content-encoding, content-disposition, content-language, cache-control, expires */
  readonly headers: Readonly<Record<string, string>>;
  /** x-amz-meta-* without the prefix, lower-case names. */
  readonly meta: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly parts?: number;
  /** Sizes of the parts of a multipart object, in order (GetObject by partNumber). */
  readonly partSizes?: readonly number[];
  /** The additional checksum (x-amz-checksum-<alg>): base64 value; COMPOSITE ones end in "-N". */
  readonly checksum?: StoredChecksum;
  /** Checksums of the parts of a multipart object with a checksum, in order (base64). */
  readonly partChecksums?: readonly string[];
  /** The object's ACL grants beside its owner's FULL_CONTROL (acl-grants.ts). */
  readonly acl?: readonly Grant[];
  /**
   * The object's owner when it is not its bucket's: the user who wrote it into a bucket with
   * ObjectWriter ownership, or BucketOwnerPreferred without `bucket-owner-full-control`.
   */
  readonly owner?: string;
  /** Server-side encryption (sse.ts): the stored bytes are sealed (sse-format.ts); `size` above is theirs. */
  readonly sse?: SseRecord;
}

export interface StoredChecksum {
  readonly alg: ChecksumAlgorithm;
  readonly value: string;
  readonly type: ChecksumType;
}

/** The identity part of a sidecar: the ETag and the content it was computed for. */
export function contentIdentity(
  info: Pick<FileInfo, 'size' | 'fingerprint' | 'persistence'>,
  etag: string,
): Pick<ObjectMeta, 'v' | 'etag' | 'size' | 'fingerprint' | 'provisional'> {
  return {
    v: 1,
    etag,
    size: info.size,
    fingerprint: info.fingerprint,
    ...(info.persistence !== 'PERSISTED' ? { provisional: true } : {}),
  };
}

/** A store that cannot be reached (down, or past its deadline): what cached state may answer for. */
export function isOriginDown(err: unknown): boolean {
  return isStrataError(err, 'UFS_UNAVAILABLE') || isStrataError(err, 'TIMEOUT');
}

/**
 * With a listing cache, a key whose sidecar directory listing (cached ≤ 2 s, dropped on every
 * change made through this gateway, kept while a refresh cannot reach the store) lacks it is
 * known to have none, without a store round trip. When that listing cannot be had because the
 * store is unreachable, the sidecar itself is read: a sidecar written or read through Strata is
 * cached by the worker like any file (status under the mount's sync policy, and its bytes).
 */
export async function loadMeta(
  fs: StrataFileSystem,
  bucket: string,
  key: string,
  cache?: ListingCache,
): Promise<ObjectMeta | undefined> {
  const path = metaPath(bucket, key);
  if (cache) {
    const dir = parentOf(path);
    const name = path.slice(path.lastIndexOf('/') + 1);
    // From memory when the sidecar directory's listing is cached (no await on the GET path).
    // A sidecar this gateway last saw there is read without waiting on a relisting of its
    // directory (every write through the gateway invalidates it); if it went, the read says so.
    let known = cache.peekHas(dir, name) ?? (cache.sidecars.knows(path) ? true : undefined);
    if (known === undefined) {
      try {
        known = await cache.has(dir, name);
      } catch (err) {
        if (!isOriginDown(err)) throw err;
        known = true; // unknown: ask for the sidecar itself
      }
    }
    if (!known) {
      cache.sidecars.forget(path);
      return undefined;
    }
  }
  const raw = await readSmallFile(fs, path);
  let m: ObjectMeta | undefined;
  try {
    m = raw ? (JSON.parse(raw.toString('utf8')) as ObjectMeta) : undefined;
  } catch {
    m = undefined;
  }
  if (m?.v !== 1) m = undefined;
  cache?.sidecars.read(path, m);
  return m;
}

/** The sidecar if it still describes `info`. */
export function validMeta(meta: ObjectMeta | undefined, info: FileInfo): ObjectMeta | undefined {
  if (!meta || meta.size !== info.size) return undefined;
  return meta.fingerprint === info.fingerprint || meta.provisional ? meta : undefined;
}

export async function saveMeta(
  fs: StrataFileSystem,
  bucket: string,
  key: string,
  meta: ObjectMeta,
  cache?: ListingCache,
): Promise<void> {
  const path = metaPath(bucket, key);
  let info: FileInfo | undefined;
  const run = async () => {
    info = await writeSmallFile(fs, path, JSON.stringify(meta));
  };
  try {
    await (cache ? cache.sidecars.write(path, meta, run) : run());
  } catch (err) {
    cache?.invalidate(parentOf(path));
    throw err;
  }
  // Into the sidecar directory's cached listing, if any; the bucket's listing is not dropped.
  cache?.replaced(path, info);
}

export async function deleteMeta(
  fs: StrataFileSystem,
  bucket: string,
  key: string,
  cache?: ListingCache,
): Promise<void> {
  const path = metaPath(bucket, key);
  cache?.sidecars.forget(path);
  try {
    await fs.delete(path);
  } catch (err) {
    if (!isStrataError(err, 'NOT_FOUND') && !isStrataError(err, 'DIRECTORY_NOT_EMPTY')) throw err;
  } finally {
    cache?.invalidate(parentOf(path));
  }
}

/** An ETag for a file the gateway did not write: the store's MD5 ETag, else a stable hash. */
export function derivedEtag(info: FileInfo): string {
  const e = info.etag?.replace(/"/g, '');
  if (e && /^[0-9a-f]{32}(-\d+)?$/.test(e)) return e;
  let etag = fingerprintEtags.get(info.fingerprint);
  if (etag === undefined) {
    etag = createHash('md5').update(info.fingerprint).digest('hex');
    if (fingerprintEtags.size >= 100_000) fingerprintEtags.clear();
    fingerprintEtags.set(info.fingerprint, etag);
  }
  return etag;
}

/** fingerprint → derived ETag: listings and GETs of unchanged files reuse the hash. */
const fingerprintEtags = new Map<string, string>();

export function etagOf(info: FileInfo, meta: ObjectMeta | undefined): string {
  return meta?.etag ?? derivedEtag(info);
}

const RFC2047 = /^=\?utf-8\?([bq])\?([^?]*)\?=$/i;
const PRINTABLE_ASCII = /^[\x20-\x7e\t]*$/;

/**
 * An x-amz-meta-* value as stored: the text the client sent (UTF-8 bytes decoded, see
 * sentText), with an RFC 2047 encoded word (=?UTF-8?B?…?= or ?Q?) decoded first, as S3 does.
 */
export function metaValueFromHeader(value: string): string {
  const text = sentText(value);
  const m = RFC2047.exec(text.trim());
  if (!m) return text;
  const data = m[2]!;
  if (m[1]!.toLowerCase() === 'b') return Buffer.from(data, 'base64').toString('utf8');
  const bytes = data
    .replace(/_/g, ' ')
    .replace(/=([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** A stored value as a response header: non-ASCII text RFC 2047 B-encoded in UTF-8, as S3 answers it. */
export function metaValueToHeader(value: string): string {
  if (PRINTABLE_ASCII.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}
