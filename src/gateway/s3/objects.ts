import { pipeline as pipelineCb, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileInfo, StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { parentOf } from '../../core/paths.js';
import { sendStream } from '../../core/send-stream.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import {
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
} from './auth.js';
import { AwsChunkedDecoder, CheckedBody, checkContentMd5 } from './body.js';
import {
  ALGORITHM_NAMES,
  type ChecksumAlgorithm,
  parseAlgorithm,
  type RequestChecksum,
  requestChecksum,
} from './checksums.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { httpDate, isoDate, readBody, sendEmpty, sendXml } from './http.js';
import { bucketPath, isAddressableBucket, isDirKey, metaPath, treePath, validateKey } from './keys.js';
import {
  contentIdentity,
  deleteMeta,
  etagOf,
  loadMeta,
  type ObjectMeta,
  type StoredChecksum,
  saveMeta,
  validMeta,
} from './meta.js';
import {
  deleteOverflow,
  findOverflow,
  type OverflowObject,
  overflowPath,
  saveOverflowMeta,
} from './overflow.js';
import { child, children, parseXml, toXml } from './xml.js';

const STORED_HEADERS = [
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
];
const MAX_META_BYTES = 2048;
/** GETs up to this size are answered from one buffer when the file system offers readBuffer. */
const SMALL_GET_BYTES = 256 * 1024;

export interface ObjectState {
  readonly path: string;
  readonly info: FileInfo;
  readonly meta: ObjectMeta | undefined;
  readonly etag: string;
  /** Kept in the overflow folder (overflow.ts), not at its own path. */
  readonly overflow?: boolean;
}

function overflowState(o: OverflowObject): ObjectState {
  return { path: o.path, info: o.info, meta: o.meta, etag: o.meta.etag, overflow: true };
}

/** Looks an object up: NoSuchKey (or NoSuchBucket) when it is missing. */
export async function statObject(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  key: string,
): Promise<ObjectState> {
  const path = treePath(ctx.bucket, key);
  const inTree = path === undefined ? undefined : await treeState(ctx, key, path);
  if (inTree) return inTree;
  const o = await findOverflow(ctx, key);
  if (o) return overflowState(o);
  await requireBucket(ctx);
  throw new S3Error('NoSuchKey', 'The specified key does not exist.');
}

/** The object at its own path, or undefined when the tree does not hold it there. */
async function treeState(
  ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>,
  key: string,
  path: string,
): Promise<ObjectState | undefined> {
  let info: FileInfo;
  try {
    info = await ctx.fs.status(path);
  } catch (err) {
    if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_A_DIRECTORY')) return undefined;
    throw toS3Error(err);
  }
  if (info.type === 'directory') {
    // A directory key ("a/b/") exists while the directory is empty; a plain key naming a
    // directory (or a folder key with a body) can only be an overflow object.
    if (!isDirKey(key) || (await ctx.fs.list(path)).length > 0) return undefined;
    return { path, info: { ...info, size: 0 }, meta: undefined, etag: 'd41d8cd98f00b204e9800998ecf8427e' };
  }
  if (isDirKey(key)) return undefined;
  const meta = validMeta(await loadMeta(ctx.fs, ctx.bucket, key, ctx.cache), info);
  return { path, info, meta, etag: etagOf(info, meta) };
}

function objectHeaders(state: ObjectState): Record<string, string | number> {
  const h: Record<string, string | number> = {
    etag: `"${state.etag}"`,
    'last-modified': httpDate(state.info.mtimeMs),
    'accept-ranges': 'bytes',
    'content-type': state.meta?.contentType ?? 'binary/octet-stream',
  };
  for (const [k, v] of Object.entries(state.meta?.headers ?? {})) h[k] = v;
  for (const [k, v] of Object.entries(state.meta?.meta ?? {})) h[`x-amz-meta-${k}`] = v;
  const tags = Object.keys(state.meta?.tags ?? {}).length;
  if (tags > 0) h['x-amz-tagging-count'] = tags;
  if (state.meta?.parts) h['x-amz-mp-parts-count'] = state.meta.parts;
  return h;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((e) => e.trim() === '*' || unquote(e) === etag);
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** RFC 7232 evaluation order, as S3 does it. Returns 304/412 or undefined to proceed. */
export function preconditions(
  state: ObjectState,
  h: { ifMatch?: string; ifNoneMatch?: string; ifModifiedSince?: string; ifUnmodifiedSince?: string },
  isRead: boolean,
): 304 | 412 | undefined {
  const mtime = Math.floor(state.info.mtimeMs / 1000) * 1000;
  if (h.ifMatch !== undefined) {
    if (!etagMatches(h.ifMatch, state.etag)) return 412;
  } else {
    const t = parseHttpDate(h.ifUnmodifiedSince);
    if (t !== undefined && mtime > t) return 412;
  }
  if (h.ifNoneMatch !== undefined) {
    if (etagMatches(h.ifNoneMatch, state.etag)) return isRead ? 304 : 412;
  } else {
    const t = parseHttpDate(h.ifModifiedSince);
    if (t !== undefined && mtime <= t && isRead) return 304;
  }
  return undefined;
}

/** Parses one byte range against `size`; undefined means "ignore the header" (as S3 does). */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const invalid = () =>
    new S3Error('InvalidRange', 'The requested range is not satisfiable', {
      extra: { RangeRequested: value, ActualObjectSize: String(size) },
    });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw invalid();
  return { start, end };
}

const OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/**
 * A small object without a sidecar whose status and bytes the in-process worker has in memory
 * (StrataFileSystem.peekFile): the state statObject would build and the whole body, with no promise on the
 * way. Undefined whenever anything needs a lookup — then statObject and readBuffer decide.
 */
function peekObject(ctx: Ctx): { state: ObjectState; data: Buffer } | undefined {
  const peek = ctx.fs.peekFile;
  if (peek === undefined || isDirKey(ctx.key) || !plainGet(ctx)) return undefined;
  let path: string | undefined;
  try {
    path = treePath(ctx.bucket, ctx.key);
  } catch {
    return undefined; // statObject reports it
  }
  if (path === undefined) return undefined;
  const sidecar = metaPath(ctx.bucket, ctx.key);
  const dir = parentOf(sidecar);
  if (ctx.cache.peekHas(dir, sidecar.slice(dir.length + 1)) !== false) return undefined;
  const hit = peek.call(ctx.fs, path, SMALL_GET_BYTES);
  if (hit === undefined) return undefined;
  return {
    state: { path, info: hit.info, meta: undefined, etag: etagOf(hit.info, undefined) },
    data: hit.data,
  };
}

/** A GET of the whole object, unconditional: the peeked bytes are exactly what is served. */
function plainGet(ctx: Ctx): boolean {
  const h = ctx.req.headers;
  return (
    h.range === undefined &&
    h['if-match'] === undefined &&
    h['if-none-match'] === undefined &&
    h['if-modified-since'] === undefined &&
    h['if-unmodified-since'] === undefined &&
    !ctx.query.has('partNumber')
  );
}

export async function getObject(ctx: Ctx, head: boolean): Promise<void> {
  const cached = head ? undefined : peekObject(ctx);
  const state = cached?.state ?? (await statObject(ctx, ctx.key));
  // Nothing here is stored encrypted: encryption parameters on a read do not apply.
  if (header(ctx, 'x-amz-server-side-encryption') !== undefined)
    throw new S3Error('InvalidArgument', 'x-amz-server-side-encryption is not valid on a read');
  if (header(ctx, 'x-amz-server-side-encryption-customer-algorithm') !== undefined)
    throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  const headers = objectHeaders(state);
  const verdict = preconditions(
    state,
    {
      ifMatch: header(ctx, 'if-match'),
      ifNoneMatch: header(ctx, 'if-none-match'),
      ifModifiedSince: header(ctx, 'if-modified-since'),
      ifUnmodifiedSince: header(ctx, 'if-unmodified-since'),
    } as Parameters<typeof preconditions>[1],
    true,
  );
  if (verdict === 304) {
    sendEmpty(ctx.res, 304, { etag: headers.etag!, 'last-modified': headers['last-modified']! });
    return;
  }
  if (verdict === 412)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  for (const [q, h] of Object.entries(OVERRIDES)) {
    const v = ctx.query.get(q);
    if (v !== undefined) headers[h] = v;
  }
  const size = state.info.size;
  const range = partRange(ctx, state, headers) ?? parseRange(header(ctx, 'range'), size);
  let status = 200;
  let offset = 0;
  let length = size;
  if (range) {
    status = 206;
    offset = range.start;
    length = range.end - range.start + 1;
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  }
  headers['content-length'] = length;
  if (header(ctx, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED')
    checksumHeaders(ctx, state, headers, range !== undefined);
  if (head || length === 0 || state.info.type === 'directory') {
    sendEmpty(ctx.res, status, headers);
    return;
  }
  if (cached) {
    ctx.res.writeHead(status, headers);
    ctx.res.end(cached.data.subarray(offset, offset + length));
    return;
  }
  const small = ctx.fs.readBuffer;
  if (small && length <= SMALL_GET_BYTES) {
    // One buffer, one write: no stream machinery for the many-small-objects case.
    const body = await small.call(ctx.fs, state.path, { offset, length });
    ctx.res.writeHead(status, headers);
    ctx.res.end(body);
    return;
  }
  const stream = await ctx.fs.read(state.path, { offset, length });
  ctx.res.writeHead(status, headers);
  await sendStream(stream, ctx.res);
}

/**
 * x-amz-checksum-<alg> and x-amz-checksum-type of a read with x-amz-checksum-mode: ENABLED: the
 * object's checksum for the whole object; for ?partNumber=N of a multipart object, that part's
 * checksum; nothing for a byte range (S3 has no checksum of an arbitrary range).
 */
function checksumHeaders(
  ctx: Ctx,
  state: ObjectState,
  headers: Record<string, string | number>,
  ranged: boolean,
): void {
  const c = state.meta?.checksum;
  if (!c) return;
  const part = ctx.query.get('partNumber');
  if (part !== undefined && state.meta?.partSizes?.length) {
    const value = state.meta.partChecksums?.[Number(part) - 1];
    if (value !== undefined && c.type === 'COMPOSITE') {
      headers[`x-amz-checksum-${c.alg}`] = value;
      headers['x-amz-checksum-type'] = c.type;
    }
    return;
  }
  if (ranged) return;
  headers[`x-amz-checksum-${c.alg}`] = c.value;
  headers['x-amz-checksum-type'] = c.type;
}

/**
 * GetObject/HeadObject with ?partNumber=N: part N of a multipart object (206 with its range and
 * x-amz-mp-parts-count), part 1 of any other object is the whole object; other numbers are
 * 400 InvalidPart. Undefined when no part number was asked for (or it means the whole object).
 */
function partRange(
  ctx: Ctx,
  state: ObjectState,
  headers: Record<string, string | number>,
): { start: number; end: number } | undefined {
  const raw = ctx.query.get('partNumber');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 10000)
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
  if (header(ctx, 'range') !== undefined)
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  const sizes = state.meta?.partSizes;
  if (!sizes || sizes.length === 0) {
    if (n === 1) return undefined;
    throw new S3Error('InvalidPart', 'The requested part number is not valid for this object');
  }
  if (n > sizes.length)
    throw new S3Error('InvalidPart', 'The requested part number is not valid for this object');
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += sizes[i]!;
  headers['x-amz-mp-parts-count'] = sizes.length;
  const end = start + sizes[n - 1]! - 1;
  if (end < start) throw new S3Error('InvalidPart', 'The requested part is empty');
  return { start, end };
}

/** x-amz-meta-*, Content-Type and the stored headers from a request. */
export function metadataFromRequest(ctx: Ctx): Pick<ObjectMeta, 'contentType' | 'headers' | 'meta'> {
  const meta: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    const v = Array.isArray(value) ? value.join(',') : (value ?? '');
    if (name.startsWith('x-amz-meta-')) {
      meta[name.slice(11)] = v;
      bytes += name.length - 11 + Buffer.byteLength(v);
    } else if (STORED_HEADERS.includes(name)) {
      if (name === 'content-encoding') {
        const rest = v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== 'aws-chunked' && s !== '')
          .join(',');
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
  return { ...(ct ? { contentType: ct } : {}), headers, meta };
}

export function parseTagHeader(value: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (!value) return tags;
  for (const [k, v] of new URLSearchParams(value)) tags[k] = v;
  validateTags(tags);
  return tags;
}

export function validateTags(tags: Record<string, string>): void {
  const keys = Object.keys(tags);
  if (keys.length > 10) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10');
  for (const k of keys) {
    if (k.length === 0 || k.length > 128)
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ((tags[k] ?? '').length > 256)
      throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
  }
}

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
  } else {
    // S3 needs a length up front (no plain chunked transfer encoding, no length-less bodies).
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  if (length > maxBytes)
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
    length,
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

/** Writes a stream to `path`, preferring the body's own S3 error (digest, length) over the store's. */
export async function writeChecked(
  ctx: Ctx,
  path: string,
  body: { source: CheckedBody; failure: () => unknown },
  size?: number,
): Promise<FileInfo> {
  try {
    return await ctx.fs.write(path, body.source, size === undefined ? {} : { size });
  } catch (err) {
    const cause = body.failure() ?? (body.source.errored as unknown);
    if (cause instanceof S3Error) throw cause;
    throw toS3Error(err);
  } finally {
    ctx.cache.invalidate(parentOf(path));
  }
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
): Promise<{ info: FileInfo; checked: CheckedBody }> {
  const checked = new CheckedBody({
    maxBytes: o.maxBytes ?? Number.MAX_SAFE_INTEGER,
    length: o.length,
    ...(o.alg ? { checksum: { alg: o.alg } } : {}),
  });
  const stream = await ctx.fs.read(from, { offset: o.offset ?? 0, length: o.length });
  let failed: unknown;
  pipelineCb(stream, checked, (err) => {
    if (err) failed = err;
  });
  const info = await writeChecked(ctx, dest, { source: checked, failure: () => failed }, o.length);
  return { info, checked };
}

/** Canned ACLs that only restate this gateway's single-owner, private model. */
const PRIVATE_ACLS = new Set(['private', 'bucket-owner-full-control', 'bucket-owner-read']);
const CANNED_ACLS = new Set([
  ...PRIVATE_ACLS,
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'log-delivery-write',
]);

/**
 * ACL headers on writes (PutObject, CopyObject, CreateMultipartUpload, CreateBucket): a known
 * canned ACL is accepted and not stored (every bucket and object here is private to the gateway's
 * keys, as MinIO does it); an unknown canned ACL is 400 InvalidArgument. With `strict` (the ACL
 * APIs themselves) only a canned ACL that restates "private" is accepted, any other grant is an
 * ACL write this gateway does not implement (501).
 */
export function checkAclHeaders(ctx: Ctx, strict = false): void {
  const acl = header(ctx, 'x-amz-acl');
  if (acl !== undefined && !CANNED_ACLS.has(acl))
    throw new S3Error('InvalidArgument', `Unknown canned ACL: ${acl}`);
  if (!strict) return;
  if (acl !== undefined && !PRIVATE_ACLS.has(acl))
    throw new S3Error('NotImplemented', `The canned ACL "${acl}" is not implemented by this gateway`);
  for (const name of Object.keys(ctx.req.headers)) {
    if (name.startsWith('x-amz-grant-'))
      throw new S3Error('NotImplemented', 'ACL grants (x-amz-grant-*) are not implemented by this gateway');
  }
}

const SSE_ALGORITHMS = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);

/**
 * Server-side encryption and object-lock headers on writes: this gateway stores neither, so a
 * well-formed request for them is 501 NotImplemented rather than silently stored without; the
 * combinations S3 itself refuses are 400 InvalidArgument.
 */
export function checkUnsupportedWriteHeaders(ctx: Ctx): void {
  const sse = header(ctx, 'x-amz-server-side-encryption');
  const ssec = header(ctx, 'x-amz-server-side-encryption-customer-algorithm');
  const kmsKey = header(ctx, 'x-amz-server-side-encryption-aws-kms-key-id');
  if (sse !== undefined && !SSE_ALGORITHMS.has(sse))
    throw new S3Error('InvalidArgument', `Invalid server-side encryption algorithm: ${sse}`);
  if (sse !== undefined && ssec !== undefined)
    throw new S3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
    );
  if (kmsKey !== undefined && !sse?.startsWith('aws:kms'))
    throw new S3Error(
      'InvalidArgument',
      'Specifying a KMS key id requires x-amz-server-side-encryption to be aws:kms',
    );
  if (sse !== undefined || ssec !== undefined)
    throw new S3Error('NotImplemented', 'Server-side encryption is not implemented by this gateway');
  for (const name of [
    'x-amz-object-lock-mode',
    'x-amz-object-lock-retain-until-date',
    'x-amz-object-lock-legal-hold',
  ])
    if (header(ctx, name) !== undefined)
      throw new S3Error('NotImplemented', 'Object lock is not implemented by this gateway');
}

/**
 * If-Match / If-None-Match on a write (PutObject, CompleteMultipartUpload): If-Match needs the
 * object to exist with a matching ETag ("*": to exist); If-None-Match fails when it exists with a
 * matching ETag ("*": at all). Failing either is 412. Checked before the body is read; a write
 * racing this check is not excluded.
 */
export async function writePreconditions(ctx: Ctx): Promise<void> {
  const ifMatch = header(ctx, 'if-match');
  const ifNoneMatch = header(ctx, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return;
  let state: ObjectState | undefined;
  try {
    state = await statObject(ctx, ctx.key);
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'NoSuchKey')) throw err;
  }
  const held =
    (ifMatch === undefined || (state !== undefined && etagMatches(ifMatch, state.etag))) &&
    (ifNoneMatch === undefined || state === undefined || !etagMatches(ifNoneMatch, state.etag));
  if (!held)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
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
    const { info } = await copyChecked(ctx, state.path, overflowPath(ctx.bucket, k), {
      length: state.info.size,
    });
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

/** Declared body length of a request (aws-chunked: the decoded length); undefined when absent. */
function declaredLength(ctx: Ctx): number | undefined {
  const v = header(ctx, 'x-amz-decoded-content-length') ?? header(ctx, 'content-length');
  return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
}

export async function putObject(ctx: Ctx): Promise<void> {
  const path = treePath(ctx.bucket, ctx.key);
  const tags = parseTagHeader(header(ctx, 'x-amz-tagging'));
  const md = metadataFromRequest(ctx);
  checkAclHeaders(ctx);
  checkUnsupportedWriteHeaders(ctx);
  if (path !== undefined && isDirKey(ctx.key) && (declaredLength(ctx) ?? 0) === 0) {
    await requireBucket(ctx);
    await writePreconditions(ctx);
    // An empty folder key is an empty directory, unless a file of that name stands there.
    if (await makeDir(ctx, path)) {
      await readBody(ctx.req, 0).catch(() => undefined);
      if (await findOverflow(ctx, ctx.key)) await deleteOverflow(ctx, ctx.key);
      sendEmpty(ctx.res, 200, { etag: '"d41d8cd98f00b204e9800998ecf8427e"' });
      return;
    }
  }
  const place = await placeWrite(ctx, ctx.key);
  await writePreconditions(ctx);
  const body = bodyStream(ctx, ctx.limits.maxObjectBytes);
  const info = await writeChecked(ctx, placePath(ctx, ctx.key, place), body);
  const etag = body.source.md5Hex;
  const checksum = storedChecksum(body);
  await commitMeta(ctx, ctx.key, place, {
    ...contentIdentity(info, etag),
    ...md,
    tags,
    ...(checksum ? { checksum } : {}),
  });
  // A folder key kept in the overflow folder: its empty directory must not list it a second time.
  if (path !== undefined && isDirKey(ctx.key)) await removeIfEmptyDir(ctx, path);
  sendEmpty(ctx.res, 200, { etag: `"${etag}"`, ...checksumResponse(checksum) });
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

/** mkdir for a folder key: true when `path` is (now) a directory, false when a file blocks it. */
async function makeDir(ctx: Ctx, path: string): Promise<boolean> {
  try {
    await ctx.fs.mkdir(path);
    return true;
  } catch (err) {
    try {
      return (await ctx.fs.status(path)).type === 'directory';
    } catch {
      if (isStrataError(err, 'NOT_A_DIRECTORY') || isStrataError(err, 'ALREADY_EXISTS')) return false;
      throw toS3Error(err);
    }
  } finally {
    ctx.cache.invalidate(path);
  }
}

async function removeIfEmptyDir(ctx: Ctx, path: string): Promise<void> {
  try {
    const st = await ctx.fs.status(path);
    if (st.type === 'directory' && (await ctx.fs.list(path)).length === 0) await ctx.fs.delete(path);
  } catch {
    // Not there, or not empty: nothing lists it as the folder key.
  } finally {
    ctx.cache.invalidate(path);
  }
}

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
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const tagDirective = (header(ctx, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (!['COPY', 'REPLACE'].includes(directive) || !['COPY', 'REPLACE'].includes(tagDirective)) {
    throw new S3Error('InvalidArgument', 'Unknown metadata or tagging directive');
  }
  if (same && directive === 'COPY' && tagDirective === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  if (source.info.size > ctx.limits.maxObjectBytes) {
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
  if (same && recompute) {
    const checked = new CheckedBody({
      maxBytes: Number.MAX_SAFE_INTEGER,
      length: source.info.size,
      checksum: { alg },
    });
    await pipeline(await ctx.fs.read(source.path), checked, new Writable({ write: (_c, _e, cb) => cb() }));
    checksum = { alg, value: checked.checksum!, type: 'FULL_OBJECT' };
  }
  if (!same) {
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
  );
}

/** Deletes a file and its sidecar, then the directories it leaves empty (S3 has no empty "folders"). */
export async function removeObject(ctx: Pick<Ctx, 'fs' | 'bucket' | 'cache'>, key: string): Promise<void> {
  const path = treePath(ctx.bucket, key);
  if (path === undefined || (await findOverflow(ctx, key))) {
    await deleteOverflow(ctx, key);
    return;
  }
  try {
    const st = await ctx.fs.status(path, { syncIntervalMs: 0 });
    if (st.type === 'directory') {
      if (!isDirKey(key)) return;
      await ctx.fs.delete(path);
    } else {
      if (isDirKey(key)) return;
      await ctx.fs.delete(path);
    }
  } catch (err) {
    if (
      isStrataError(err, 'NOT_FOUND') ||
      isStrataError(err, 'NOT_A_DIRECTORY') ||
      isStrataError(err, 'DIRECTORY_NOT_EMPTY')
    ) {
      // Idempotent: deleting a missing key succeeds.
    } else throw toS3Error(err);
  }
  await deleteMeta(ctx.fs, ctx.bucket, key, ctx.cache);
  ctx.cache.invalidate(parentOf(path));
  await pruneEmpty(ctx.fs, parentOf(path), bucketPath(ctx.bucket));
  await pruneEmpty(ctx.fs, parentOf(metaPath(ctx.bucket, key)), `${bucketPath(ctx.bucket)}/.strata-s3/meta`);
}

async function pruneEmpty(fs: StrataFileSystem, dir: string, stopAt: string): Promise<void> {
  for (let d = dir; d.length > stopAt.length && d.startsWith(`${stopAt}/`); d = parentOf(d)) {
    try {
      if ((await fs.list(d, { syncIntervalMs: 0 })).length > 0) return;
      await fs.delete(d);
    } catch {
      return;
    }
  }
}

export async function deleteObject(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  await removeObject(ctx, ctx.key);
  sendEmpty(ctx.res, 204);
}

export async function deleteObjects(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const raw = await readBody(ctx.req, 2 * 1024 * 1024);
  const md5 = header(ctx, 'content-md5');
  if (md5 !== undefined) {
    const { createHash } = await import('node:crypto');
    if (createHash('md5').update(raw).digest('base64') !== md5)
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const doc = parseXml(raw.toString('utf8'));
  if (doc.name !== 'Delete')
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const quiet = child(doc, 'Quiet')?.text.trim() === 'true';
  const objects = children(doc, 'Object');
  if (objects.length === 0 || objects.length > 1000) {
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    const keyEl = child(o, 'Key');
    if (!keyEl) throw new S3Error('MalformedXML', 'Each Object needs a Key');
    const key = keyEl.text;
    const version = child(o, 'VersionId')?.text;
    if (version !== undefined && version !== 'null') {
      // Only the "null" version exists in a bucket without versioning.
      errors.push({ Key: key, Code: 'NoSuchVersion', Message: 'The specified version does not exist.' });
      continue;
    }
    try {
      await removeObject(ctx, key);
      deleted.push({ Key: key });
    } catch (err) {
      const e = toS3Error(err);
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  sendXml(ctx.res, 200, toXml('DeleteResult', { Deleted: quiet ? undefined : deleted, Error: errors }));
}

async function metaForUpdate(ctx: Ctx): Promise<{ meta: ObjectMeta; place: Place }> {
  const state = await statObject(ctx, ctx.key);
  const place: Place = state.overflow ? 'overflow' : 'tree';
  const meta = state.meta ?? {
    v: 1,
    etag: state.etag,
    size: state.info.size,
    fingerprint: state.info.fingerprint,
    headers: {},
    meta: {},
    tags: {},
  };
  return { meta, place };
}

export async function getTagging(ctx: Ctx): Promise<void> {
  const state = await statObject(ctx, ctx.key);
  const tags = Object.entries(state.meta?.tags ?? {})
    .sort(([a], [b]) => compareUtf8(a, b))
    .map(([Key, Value]) => ({ Key, Value }));
  sendXml(ctx.res, 200, toXml('Tagging', { TagSet: { Tag: tags } }));
}

export async function putTagging(ctx: Ctx): Promise<void> {
  const { meta: current, place } = await metaForUpdate(ctx);
  const doc = parseXml((await readBody(ctx.req, 64 * 1024)).toString('utf8'));
  const set = doc.name === 'Tagging' ? child(doc, 'TagSet') : undefined;
  if (!set)
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  const tags: Record<string, string> = {};
  for (const t of children(set, 'Tag')) {
    const k = child(t, 'Key')?.text;
    const v = child(t, 'Value')?.text ?? '';
    if (k === undefined) throw new S3Error('MalformedXML', 'Each Tag needs a Key');
    if (Object.hasOwn(tags, k))
      throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags[k] = v;
  }
  validateTags(tags);
  await commitMeta(ctx, ctx.key, place, { ...current, tags });
  sendEmpty(ctx.res, 200);
}

export async function deleteTagging(ctx: Ctx): Promise<void> {
  const { meta: current, place } = await metaForUpdate(ctx);
  await commitMeta(ctx, ctx.key, place, { ...current, tags: {} });
  sendEmpty(ctx.res, 204);
}

/** PutObjectAcl: only a canned "private" (what the object already is) is accepted. */
export async function putObjectAcl(ctx: Ctx): Promise<void> {
  await statObject(ctx, ctx.key);
  await putAcl(ctx);
}

/** The body of a Put*Acl request: canned private via x-amz-acl; grants and policies are 501. */
export async function putAcl(ctx: Ctx): Promise<void> {
  checkAclHeaders(ctx, true);
  const body = await readBody(ctx.req, 64 * 1024);
  if (body.length > 0 || header(ctx, 'x-amz-acl') === undefined)
    throw new S3Error('NotImplemented', 'Access control policies are not implemented by this gateway');
  sendEmpty(ctx.res, 200);
}
