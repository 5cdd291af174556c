import { pipeline as pipelineCb, Readable } from 'node:stream';
import type { FileInfo, ReadOptions, WriteOptions } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { parentOf } from '../../core/paths.js';
import { objectAccessFromRequest } from './acl.js';
import {
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
} from './auth.js';
import { AwsChunkedDecoder, CheckedBody, checkContentMd5 } from './body.js';
import { type ChecksumAlgorithm, type RequestChecksum, requestChecksum } from './checksums.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { isDirKey, treePath } from './keys.js';
import {
  contentIdentity,
  deleteMeta,
  metaValueFromHeader,
  type ObjectMeta,
  type StoredChecksum,
  saveMeta,
} from './meta.js';
import { statObject } from './object-state.js';
import { deleteOverflow, findOverflow, overflowPath, saveOverflowMeta } from './overflow.js';
import { storeReadOptions, storeWriteOptions } from './sse-store.js';

/**
 * The write path every object write shares (PutObject, CopyObject, UploadPart(Copy),
 * CompleteMultipartUpload): the request body as a verified stream, where the bytes go (the tree
 * or the overflow folder), writing them, and recording the sidecar; plus the checks of a write
 * request's headers (metadata, encryption and object lock).
 */

/** A request body as a verified stream of object bytes, and the checksum it declared. */
export interface VerifiedBody {
  readonly source: CheckedBody;
  readonly failure: () => unknown;
  /** The x-amz-checksum-* the request declared (header or trailer), if any. */
  readonly declared?: RequestChecksum;
}

/**
 * The request body as a verified stream of object bytes (aws-chunked decoded, digests checked,
 * the x-amz-checksum-* header or trailer verified). `compute` asks for a checksum even when the
 * request declares none (a part of an upload created with x-amz-checksum-algorithm).
 */
export function bodyStream(ctx: Ctx, maxBytes: number, compute?: ChecksumAlgorithm): VerifiedBody {
  const payload = ctx.auth.kind === 'signed' ? ctx.auth.payloadHash : UNSIGNED_PAYLOAD;
  const encoding = header(ctx, 'content-encoding') ?? '';
  const streaming =
    payload === STREAMING_SIGNED ||
    payload === STREAMING_SIGNED_TRAILER ||
    payload === STREAMING_UNSIGNED_TRAILER ||
    encoding.includes('aws-chunked');
  const contentLength = header(ctx, 'content-length');
  const decoded = header(ctx, 'x-amz-decoded-content-length');
  let length: number | undefined;
  if (streaming) {
    if (decoded === undefined || !/^\d+$/.test(decoded)) {
      throw new S3Error(
        'MissingContentLength',
        'You must provide the x-amz-decoded-content-length header for aws-chunked uploads.',
      );
    }
    length = Number(decoded);
  } else if (contentLength !== undefined) {
    length = Number(contentLength);
  } else if (!isChunkedTransfer(ctx)) {
    // A body of no declared length and no chunked framing: the request cannot say where it ends.
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  // Transfer-Encoding: chunked without a length (curl -T -, SDKs streaming a pipe): the framing
  // ends the body; its size is what arrives, still bounded by maxBytes and checked digests.
  if (length !== undefined && length > maxBytes)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.');
  const declared = requestChecksum(ctx.req.headers);
  if (declared?.trailer && !streaming)
    throw new S3Error('InvalidRequest', 'x-amz-trailer is only valid on aws-chunked uploads.');
  const decoder = streaming
    ? new AwsChunkedDecoder(ctx.auth.kind === 'signed' ? ctx.auth.chunkSigning : undefined)
    : undefined;
  const trailerName = declared ? `x-amz-checksum-${declared.alg}` : '';
  const sha = /^[0-9a-f]{64}$/.test(payload) ? payload : undefined;
  const checked = new CheckedBody({
    ...(length !== undefined ? { length } : {}),
    maxBytes,
    ...(sha !== undefined ? { sha256: sha } : {}),
    ...(checkContentMd5(header(ctx, 'content-md5')) !== undefined
      ? { contentMd5: header(ctx, 'content-md5')! }
      : {}),
    ...(declared
      ? {
          checksum: {
            alg: declared.alg,
            expected: declared.trailer ? () => decoder?.trailer(trailerName) : declared.value,
          },
        }
      : compute
        ? { checksum: { alg: compute } }
        : {}),
  });
  let failed: unknown;
  const chain = decoder ? [ctx.req, decoder, checked] : [ctx.req, checked];
  pipelineCb(chain as unknown as [Readable, CheckedBody], (err) => {
    if (err) failed = err;
  });
  return { source: checked, failure: () => failed, ...(declared ? { declared } : {}) };
}

/** Whether the request body comes in HTTP/1.1 chunked framing (Transfer-Encoding: chunked). */
export function isChunkedTransfer(ctx: Ctx): boolean {
  return /(^|,)\s*chunked\s*$/i.test(header(ctx, 'transfer-encoding') ?? '');
}

/** Writes a stream to `path`, preferring the body's own S3 error (digest, length) over the store's. */
export async function writeChecked(
  ctx: Ctx,
  path: string,
  body: { source: Readable; failure: () => unknown },
  size?: number,
  options: Pick<WriteOptions, 'writeType' | 'encryption'> = {},
): Promise<FileInfo> {
  let info: FileInfo;
  try {
    info = await ctx.fs.write(path, body.source, size === undefined ? options : { ...options, size });
  } catch (err) {
    ctx.cache.invalidate(parentOf(path));
    const cause = body.failure() ?? (body.source.errored as unknown);
    if (cause instanceof S3Error) throw cause;
    throw toS3Error(err);
  }
  // An overwrite keeps its directory's cached listing (with the new info); anything else drops it.
  ctx.cache.replaced(path, info);
  return info;
}

/** Bodies up to this declared length are read and verified whole before they are written. */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * writeChecked for a request body: one that declares at most SMALL_BODY_BYTES is read and
 * verified (length, digests, checksum) in memory first and written with its size, so the file
 * system gets only verified bytes — a worker behind the RPC could otherwise take a body whose
 * every byte arrived before its digest failed here — and a small CACHE_THROUGH write is held in
 * memory on its way to the store instead of a staging file (worker/write-path.ts). Larger or
 * unsized bodies stream as before. Bounded: 1,024 requests in flight hold at most 64 MiB so.
 */
export async function writeVerified(
  ctx: Ctx,
  path: string,
  body: { source: Readable; failure: () => unknown },
  declared: number | undefined,
  options: Pick<WriteOptions, 'writeType' | 'encryption'> = {},
): Promise<FileInfo> {
  if (declared === undefined || declared > SMALL_BODY_BYTES)
    return writeChecked(ctx, path, body, undefined, options);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body.source) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    const cause = body.failure() ?? err;
    throw cause instanceof S3Error ? cause : toS3Error(cause);
  }
  const data = Buffer.concat(chunks, size);
  return writeChecked(ctx, path, { source: Readable.from([data]), failure: body.failure }, size, options);
}

/**
 * Copies `length` bytes of the stored file `from` (at `offset`) to `dest` through a CheckedBody:
 * MD5 always, the additional checksum `alg` when asked; the body's own error wins over the
 * store's (CopyObject, UploadPartCopy, moving a file into the overflow folder).
 */
export async function copyChecked(
  ctx: Ctx,
  from: string,
  dest: string,
  o: { offset?: number; length: number; maxBytes?: number; alg?: ChecksumAlgorithm | undefined },
  io: { read?: Pick<ReadOptions, 'readType'>; write?: Pick<WriteOptions, 'writeType' | 'encryption'> } = {},
): Promise<{ info: FileInfo; checked: CheckedBody }> {
  const checked = new CheckedBody({
    maxBytes: o.maxBytes ?? Number.MAX_SAFE_INTEGER,
    length: o.length,
    ...(o.alg ? { checksum: { alg: o.alg } } : {}),
  });
  const stream = await ctx.fs.read(from, { offset: o.offset ?? 0, length: o.length, ...io.read });
  let failed: unknown;
  pipelineCb(stream, checked, (err) => {
    if (err) failed = err;
  });
  const info = await writeChecked(ctx, dest, { source: checked, failure: () => failed }, o.length, io.write);
  return { info, checked };
}

/** Where an object's bytes go: its own path, or the overflow folder (overflow.ts). */
export type Place = 'tree' | 'overflow';

/**
 * Where a write of `key` goes, answering NoSuchBucket: its own path, unless a directory stands
 * there (other keys have it as their prefix) or it is a folder key ("a/") — then the overflow
 * folder. A file standing where the key needs a directory ("a/b" when writing "a/b/c") is moved
 * to the overflow folder first, so both keys exist as in S3.
 */
export async function placeWrite(ctx: Ctx, key: string): Promise<Place> {
  const path = treePath(ctx.bucket, key);
  if (isDirKey(key) || path === undefined) {
    await requireBucket(ctx);
    return 'overflow';
  }
  try {
    const st = await ctx.fs.status(path);
    return st.type === 'directory' ? 'overflow' : 'tree';
  } catch (err) {
    if (isStrataError(err, 'NOT_A_DIRECTORY')) {
      await displaceAncestor(ctx, key);
      return 'tree';
    }
    await requireBucket(ctx);
    if (isStrataError(err, 'NOT_FOUND')) return 'tree';
    throw toS3Error(err);
  }
}

/** Moves the file that stands where `key` needs a directory into the overflow folder. */
async function displaceAncestor(ctx: Ctx, key: string): Promise<void> {
  const segments = key.split('/');
  for (let i = 1; i < segments.length; i++) {
    const k = segments.slice(0, i).join('/');
    const at = treePath(ctx.bucket, k);
    if (at === undefined) return; // no path names this prefix: no file can stand there
    let st: FileInfo;
    try {
      st = await ctx.fs.status(at);
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return;
      throw toS3Error(err);
    }
    if (st.type === 'directory') continue;
    const state = await statObject(ctx, k);
    // An object the store encrypts stays so in its new place (and is not cached on the way).
    const sse = state.meta?.sse;
    const { info } = await copyChecked(
      ctx,
      state.path,
      overflowPath(ctx.bucket, k),
      { length: state.info.size },
      { read: storeReadOptions(sse), write: storeWriteOptions(sse) },
    );
    await saveOverflowMeta(ctx, k, {
      headers: {},
      meta: {},
      tags: {},
      ...state.meta,
      ...contentIdentity(info, state.etag),
    });
    await ctx.fs.delete(state.path).catch((err) => {
      if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
    });
    await deleteMeta(ctx.fs, ctx.bucket, k, ctx.cache);
    ctx.cache.invalidate(state.path);
    return;
  }
}

/** The path that holds the bytes of `key` at `place`. */
export function placePath(ctx: Ctx, key: string, place: Place): string {
  const path = place === 'tree' ? treePath(ctx.bucket, key) : overflowPath(ctx.bucket, key);
  if (path === undefined) throw new S3Error('InternalError', `key ${key} has no path in the tree`);
  return path;
}

/**
 * Records an object's metadata where its bytes are; a write into the tree drops an older
 * overflow copy of the same key (a key is in one place only).
 */
export async function commitMeta(ctx: Ctx, key: string, place: Place, meta: ObjectMeta): Promise<void> {
  if (place === 'overflow') {
    await saveOverflowMeta(ctx, key, meta);
    return;
  }
  await saveMeta(ctx.fs, ctx.bucket, key, meta, ctx.cache);
  if (await findOverflow(ctx, key)) await deleteOverflow(ctx, key);
}

/** The full-object checksum a verified body computed, for the sidecar. */
export function storedChecksum(body: VerifiedBody): StoredChecksum | undefined {
  const alg = body.declared?.alg;
  const value = body.source.checksum;
  return alg && value !== undefined ? { alg, value, type: 'FULL_OBJECT' } : undefined;
}

/** The checksum headers of a write's answer (PutObject, UploadPart, Complete). */
export function checksumResponse(c: StoredChecksum | undefined): Record<string, string> {
  return c ? { [`x-amz-checksum-${c.alg}`]: c.value, 'x-amz-checksum-type': c.type } : {};
}

export async function removeIfEmptyDir(ctx: Ctx, path: string): Promise<void> {
  try {
    const st = await ctx.fs.status(path);
    if (st.type === 'directory' && (await ctx.fs.list(path)).length === 0) await ctx.fs.delete(path);
  } catch {
    // Not there, or not empty: nothing lists it as the folder key.
  } finally {
    ctx.cache.invalidate(path);
  }
}

const STORED_HEADERS = [
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
];

const MAX_META_BYTES = 2048;

/**
 * Content-Encoding without the aws-chunked transfer framing, otherwise exactly as sent ("deflate,
 * gzip" keeps its space): S3 returns the stored value byte for byte.
 */
export function withoutAwsChunked(value: string): string {
  if (!/(^|,)\s*aws-chunked\s*(,|$)/.test(value)) return value.trim();
  return value
    .split(',')
    .filter((s) => s.trim() !== 'aws-chunked' && s.trim() !== '')
    .join(',')
    .trim();
}

/** x-amz-meta-*, Content-Type, the stored headers, and the new object's ACL and owner from a request. */
export function metadataFromRequest(
  ctx: Ctx,
): Pick<ObjectMeta, 'contentType' | 'headers' | 'meta' | 'acl' | 'owner'> {
  const meta: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    const v = Array.isArray(value) ? value.join(',') : (value ?? '');
    if (name.startsWith('x-amz-meta-')) {
      const text = metaValueFromHeader(v);
      meta[name.slice(11)] = text;
      bytes += name.length - 11 + Buffer.byteLength(text);
    } else if (STORED_HEADERS.includes(name)) {
      if (name === 'content-encoding') {
        const rest = withoutAwsChunked(v);
        if (rest) headers[name] = rest;
      } else headers[name] = v;
    }
  }
  if (bytes > MAX_META_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers exceed the maximum allowed metadata size (${MAX_META_BYTES} bytes)`,
    );
  }
  const ct = header(ctx, 'content-type');
  return { ...(ct ? { contentType: ct } : {}), headers, meta, ...objectAccessFromRequest(ctx) };
}

/**
 * Object-lock headers on writes: this gateway does not store them, so a well-formed request for
 * them is 501 NotImplemented rather than silently stored without. (Server-side encryption
 * headers are read by sse.ts sseForWrite.)
 */
export function checkUnsupportedWriteHeaders(ctx: Ctx): void {
  for (const name of [
    'x-amz-object-lock-mode',
    'x-amz-object-lock-retain-until-date',
    'x-amz-object-lock-legal-hold',
  ])
    if (header(ctx, name) !== undefined)
      throw new S3Error('NotImplemented', 'Object lock is not implemented by this gateway');
}
