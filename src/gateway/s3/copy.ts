import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3_RESERVED_DIR } from '../../client/s3-settings.js';
import { checkAclHeaders, objectAccessFromRequest } from './acl.js';
import { CheckedBody } from './body.js';
import { ALGORITHM_NAMES, parseAlgorithm } from './checksums.js';
import { parseHttpDate, preconditions } from './conditions.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error } from './errors.js';
import { isoDate, sendXml } from './http.js';
import { isAddressableBucket, isDirKey, treePath, validateKey } from './keys.js';
import { contentIdentity, type StoredChecksum } from './meta.js';
import { type ObjectState, statObject } from './object-state.js';
import {
  checkUnsupportedWriteHeaders,
  commitMeta,
  copyChecked,
  metadataFromRequest,
  type Place,
  placePath,
  placeWrite,
  removeIfEmptyDir,
} from './object-write.js';
import {
  COPY_SOURCE_CUSTOMER,
  dataKeyForRead,
  type SseWrite,
  sseEtag,
  sseForWrite,
  sseHeaders,
} from './sse.js';
import { copyPlain, objectSize, singleSegmentRecord } from './sse-io.js';
import { isSealed, storeReadOptions, storeWriteOptions } from './sse-store.js';
import { parseTagHeader } from './tagging.js';
import { toXml } from './xml.js';

/** CopyObject, and the copy source (x-amz-copy-source and its conditions) UploadPartCopy shares. */

/** "/bucket/key?versionId=…" (URL-encoded) → bucket and key. */
export function parseCopySource(value: string | undefined): { bucket: string; key: string } {
  if (!value)
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  let v = value;
  const q = v.indexOf('?');
  if (q >= 0) v = v.slice(0, q);
  try {
    v = decodeURIComponent(v);
  } catch {
    throw new S3Error('InvalidArgument', 'Copy Source is not properly URL-encoded');
  }
  if (v.startsWith('/')) v = v.slice(1);
  const slash = v.indexOf('/');
  if (slash <= 0 || slash === v.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  const bucket = v.slice(0, slash);
  if (!isAddressableBucket(bucket))
    throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${bucket}`);
  return { bucket, key: v.slice(slash + 1) };
}

export function copySourceConditions(ctx: Ctx, state: ObjectState): void {
  const verdict = preconditions(
    state,
    Object.fromEntries(
      [
        ['ifMatch', header(ctx, 'x-amz-copy-source-if-match')],
        ['ifNoneMatch', header(ctx, 'x-amz-copy-source-if-none-match')],
        ['ifModifiedSince', header(ctx, 'x-amz-copy-source-if-modified-since')],
        ['ifUnmodifiedSince', header(ctx, 'x-amz-copy-source-if-unmodified-since')],
      ].filter(([, v]) => v !== undefined),
    ),
    false,
  );
  // For copies, a failed "modified-since"/"none-match" is a 412 as well.
  if (verdict !== undefined) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  const ims = parseHttpDate(header(ctx, 'x-amz-copy-source-if-modified-since'));
  if (
    ims !== undefined &&
    header(ctx, 'x-amz-copy-source-if-none-match') === undefined &&
    Math.floor(state.info.mtimeMs / 1000) * 1000 <= ims
  ) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
}

export async function copyObject(ctx: Ctx): Promise<void> {
  const src = parseCopySource(header(ctx, 'x-amz-copy-source'));
  validateKey(ctx.key);
  checkAclHeaders(ctx);
  checkUnsupportedWriteHeaders(ctx);
  await requireBucket(ctx);
  const same = src.bucket === ctx.bucket && src.key === ctx.key;
  // The destination's place first: making room may move the source itself (copy "a" to "a/b").
  const destPlace = same ? undefined : await placeWrite(ctx, ctx.key);
  const source = await statObject({ fs: ctx.fs, bucket: src.bucket, cache: ctx.cache }, src.key);
  const place: Place = destPlace ?? (source.overflow ? 'overflow' : 'tree');
  copySourceConditions(ctx, source);
  const sourceKey = copySourceKey(ctx, source, src);
  const destSse = await sseForWrite(ctx, true, placePath(ctx, ctx.key, place));
  // A source the store encrypts reads as plaintext; its copy is encrypted only if asked (as S3).
  const sourceByStore = source.meta?.sse?.byStore === true;
  // Bytes to rewrite: another object, or this one changing its encryption (S3 allows that).
  const rewrite = !same || sourceKey !== undefined || destSse !== undefined || sourceByStore;
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const tagDirective = (header(ctx, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (!['COPY', 'REPLACE'].includes(directive) || !['COPY', 'REPLACE'].includes(tagDirective)) {
    throw new S3Error('InvalidArgument', 'Unknown metadata or tagging directive');
  }
  if (same && !rewrite && directive === 'COPY' && tagDirective === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const size = objectSize(source);
  if (size > ctx.limits.maxObjectBytes) {
    throw new S3Error(
      'InvalidRequest',
      'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
    );
  }
  const md =
    directive === 'REPLACE'
      ? metadataFromRequest(ctx)
      : {
          ...(source.meta?.contentType !== undefined ? { contentType: source.meta.contentType } : {}),
          headers: source.meta?.headers ?? {},
          meta: source.meta?.meta ?? {},
          // An ACL (or owner) is never copied (as S3): the copy's is the request's, else private.
          ...objectAccessFromRequest(ctx),
        };
  const tags =
    tagDirective === 'REPLACE'
      ? parseTagHeader(header(ctx, 'x-amz-tagging'))
      : { ...(source.meta?.tags ?? {}) };
  const algHeader = header(ctx, 'x-amz-checksum-algorithm');
  const alg = parseAlgorithm(algHeader);
  if (algHeader !== undefined && !alg)
    throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-algorithm header is invalid.');
  // A new checksum only when one of another algorithm (or of a multipart source) is asked for.
  const recompute =
    alg !== undefined && (source.meta?.checksum?.alg !== alg || source.meta.checksum.type !== 'FULL_OBJECT');
  let checksum: StoredChecksum | undefined = recompute ? undefined : source.meta?.checksum;
  let info = source.info;
  let etag = source.etag;
  let sse: SseWrite['record'] | undefined = source.meta?.sse;
  if (sourceKey !== undefined || destSse !== undefined || sourceByStore) {
    const copied = await copyEncrypted(
      ctx,
      source,
      sourceKey,
      place,
      size,
      destSse,
      recompute ? alg : undefined,
    );
    info = copied.info;
    etag = destSse ? sseEtag(destSse, copied.checked.md5Hex) : copied.checked.md5Hex;
    if (recompute) checksum = { alg, value: copied.checked.checksum!, type: 'FULL_OBJECT' };
    sse = destSse?.record.byStore
      ? { ...destSse.record, size }
      : destSse && copied.nonce
        ? singleSegmentRecord(destSse, copied.nonce, size)
        : undefined;
  } else if (same && recompute) {
    const checked = new CheckedBody({
      maxBytes: Number.MAX_SAFE_INTEGER,
      length: source.info.size,
      checksum: { alg },
    });
    await pipeline(await ctx.fs.read(source.path), checked, new Writable({ write: (_c, _e, cb) => cb() }));
    checksum = { alg, value: checked.checksum!, type: 'FULL_OBJECT' };
  }
  if (!same && sourceKey === undefined && destSse === undefined && !sourceByStore) {
    const copied = await copyChecked(ctx, source.path, placePath(ctx, ctx.key, place), {
      length: source.info.size,
      alg: recompute ? alg : undefined,
    });
    const checked = copied.checked;
    info = copied.info;
    etag = source.meta?.parts ? source.etag : checked.md5Hex;
    if (recompute) checksum = { alg, value: checked.checksum!, type: 'FULL_OBJECT' };
  }
  await commitMeta(ctx, ctx.key, place, {
    ...contentIdentity(info, etag),
    ...(source.meta?.parts ? { parts: source.meta.parts } : {}),
    ...(source.meta?.partSizes ? { partSizes: source.meta.partSizes } : {}),
    ...md,
    tags,
    ...(checksum ? { checksum } : {}),
    ...(checksum?.type === 'COMPOSITE' && source.meta?.partChecksums
      ? { partChecksums: source.meta.partChecksums }
      : {}),
    ...(sse ? { sse } : {}),
  });
  const destPath = treePath(ctx.bucket, ctx.key);
  if (!same && isDirKey(ctx.key) && destPath !== undefined) await removeIfEmptyDir(ctx, destPath);
  sendXml(
    ctx.res,
    200,
    toXml('CopyObjectResult', {
      LastModified: isoDate(info.mtimeMs),
      ETag: `"${etag}"`,
      ...(checksum
        ? { ChecksumType: checksum.type, [`Checksum${ALGORITHM_NAMES[checksum.alg]}`]: checksum.value }
        : {}),
    }),
    sseHeaders(destSse?.record, destSse?.customerMd5),
  );
}

/**
 * The data key of an encrypted copy source (SSE-C: from the x-amz-copy-source-server-side-
 * encryption-customer-* headers); undefined for a plain source, which refuses those headers.
 */
export function copySourceKey(
  ctx: Ctx,
  source: ObjectState,
  src: { bucket: string; key: string },
): Buffer | undefined {
  const rec = source.meta?.sse;
  if (!isSealed(rec)) {
    if (header(ctx, `${COPY_SOURCE_CUSTOMER}-algorithm`) !== undefined)
      throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    return undefined;
  }
  return dataKeyForRead(ctx, rec, src.bucket, src.key, COPY_SOURCE_CUSTOMER).dataKey;
}

/**
 * A copy that decrypts its source or encrypts its destination. Onto itself: through a
 * temporary file in the bucket's hidden folder, then copied over the object as stored bytes.
 */
async function copyEncrypted(
  ctx: Ctx,
  source: ObjectState,
  sourceKey: Buffer | undefined,
  place: Place,
  size: number,
  destSse: SseWrite | undefined,
  alg: Parameters<typeof copyPlain>[4]['alg'],
): ReturnType<typeof copyPlain> {
  const dest = placePath(ctx, ctx.key, place);
  if (dest !== source.path) return copyPlain(ctx, source, sourceKey, dest, { length: size, alg }, destSse);
  const temp = `/${ctx.bucket}/${S3_RESERVED_DIR}/tmp/${randomBytes(16).toString('hex')}`;
  try {
    const copied = await copyPlain(ctx, source, sourceKey, temp, { length: size, alg }, destSse);
    const { info } = await copyChecked(
      ctx,
      temp,
      dest,
      { length: copied.info.size },
      { read: storeReadOptions(destSse?.record), write: storeWriteOptions(destSse?.record) },
    );
    return { ...copied, info };
  } finally {
    await ctx.fs.delete(temp).catch(() => undefined);
  }
}
