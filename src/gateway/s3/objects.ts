import { isStrataError } from '../../core/errors.js';
import { parentOf } from '../../core/paths.js';
import { sendStream } from '../../core/send-stream.js';
import { checkAclHeaders } from './acl.js';
import { parseRange, partRange, preconditions, writePreconditions } from './conditions.js';
import { type Ctx, header, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { httpDate, readBody, sendEmpty } from './http.js';
import { isDirKey, metaPath, treePath } from './keys.js';
import { contentIdentity, etagOf, metaValueToHeader } from './meta.js';
import { type ObjectState, statObject } from './object-state.js';
import {
  bodyStream,
  checksumResponse,
  checkUnsupportedWriteHeaders,
  commitMeta,
  isChunkedTransfer,
  metadataFromRequest,
  placePath,
  placeWrite,
  removeIfEmptyDir,
  storedChecksum,
  writeChecked,
  writeVerified,
} from './object-write.js';
import { deleteOverflow, findOverflow } from './overflow.js';
import { dataKeyForRead, sseEtag, sseForWrite, sseHeaders } from './sse.js';
import {
  objectSize,
  readPlain,
  readPlainBuffer,
  sealedLength,
  sealSegment,
  singleSegmentRecord,
} from './sse-io.js';
import { isSealed, storeReadOptions, storeWriteOptions } from './sse-store.js';
import { parseTagHeader } from './tagging.js';

/** GetObject, HeadObject and PutObject. */

/** GETs up to this size are answered from one buffer when the file system offers readBuffer. */
const SMALL_GET_BYTES = 256 * 1024;

const OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/**
 * Whether a value can be sent as an HTTP header value: no control characters but tab (CR and LF
 * would end the header), nothing past Latin-1 (node refuses it rather than send it).
 */
function headerSafe(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** The response-* overrides of a GET/HEAD (header name → value), refused when not sendable. */
function responseOverrides(ctx: Ctx): [string, string][] | undefined {
  let out: [string, string][] | undefined;
  for (const q in OVERRIDES) {
    const v = ctx.query.get(q);
    if (v === undefined) continue;
    if (!headerSafe(v))
      throw new S3Error(
        'InvalidArgument',
        `${q} must be a valid HTTP header value (no control characters such as CR or LF, nothing outside ISO-8859-1)`,
        { extra: { ArgumentName: q } },
      );
    out ??= [];
    out.push([OVERRIDES[q]!, v]);
  }
  return out;
}

function objectHeaders(state: ObjectState): Record<string, string | number> {
  const h: Record<string, string | number> = {
    etag: `"${state.etag}"`,
    'last-modified': httpDate(state.info.mtimeMs),
    'accept-ranges': 'bytes',
    'content-type': state.meta?.contentType ?? 'binary/octet-stream',
  };
  for (const [k, v] of Object.entries(state.meta?.headers ?? {})) h[k] = v;
  for (const [k, v] of Object.entries(state.meta?.meta ?? {})) h[`x-amz-meta-${k}`] = metaValueToHeader(v);
  const tags = Object.keys(state.meta?.tags ?? {}).length;
  if (tags > 0) h['x-amz-tagging-count'] = tags;
  if (state.meta?.parts) h['x-amz-mp-parts-count'] = state.meta.parts;
  return h;
}

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
  const overrides = responseOverrides(ctx);
  const cached = head ? undefined : peekObject(ctx);
  const state = cached?.state ?? (await statObject(ctx, ctx.key));
  if (header(ctx, 'x-amz-server-side-encryption') !== undefined)
    throw new S3Error('InvalidArgument', 'x-amz-server-side-encryption is not valid on a read');
  const enc = state.meta?.sse;
  // A sealed object needs its data key (SSE-C: the request's key); a plain one (or one the store
  // encrypts) refuses SSE-C headers.
  const opened = isSealed(enc) ? dataKeyForRead(ctx, enc, ctx.bucket, ctx.key) : undefined;
  if (!isSealed(enc) && header(ctx, 'x-amz-server-side-encryption-customer-algorithm') !== undefined)
    throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  const headers = { ...objectHeaders(state), ...sseHeaders(enc, opened?.customerMd5) };
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
  if (overrides) for (const [h, v] of overrides) headers[h] = v;
  const size = objectSize(state);
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
  if (opened !== undefined) {
    // Decrypted here: the cache and the store hold only the sealed bytes (sse-format.ts).
    const body =
      length <= SMALL_GET_BYTES
        ? await readPlainBuffer(ctx, state, opened.dataKey, offset, length)
        : undefined;
    if (body !== undefined) {
      ctx.res.writeHead(status, headers);
      ctx.res.end(body);
      return;
    }
    const plain = await readPlain(ctx, state, opened.dataKey, offset, length);
    ctx.res.writeHead(status, headers);
    await sendStream(plain, ctx.res);
    return;
  }
  const small = ctx.fs.readBuffer;
  const readType = storeReadOptions(enc);
  if (small && length <= SMALL_GET_BYTES) {
    // One buffer, one write: no stream machinery for the many-small-objects case.
    const body = await small.call(ctx.fs, state.path, { offset, length, ...readType });
    ctx.res.writeHead(status, headers);
    ctx.res.end(body);
    return;
  }
  const stream = await ctx.fs.read(state.path, { offset, length, ...readType });
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
  const sse = await sseForWrite(ctx, true, path ?? `/${ctx.bucket}`);
  // A folder key with an empty body (a chunked one of unknown length is an object).
  const emptyBody = (declaredLength(ctx) ?? (isChunkedTransfer(ctx) ? -1 : 0)) === 0;
  if (sse === undefined && path !== undefined && isDirKey(ctx.key) && emptyBody) {
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
  const dest = placePath(ctx, ctx.key, place);
  // Encrypted: the plaintext is sealed on its way to the file system (sse-format.ts), unless
  // the store encrypts it (sse-store.ts).
  const sealed = !isSealed(sse?.record) ? undefined : sealSegment(body.source, sse.dataKey);
  const info = sealed
    ? await writeChecked(
        ctx,
        dest,
        { source: sealed.stream, failure: () => body.failure() ?? sealed.failure() },
        sealedLength(declaredLength(ctx)),
      )
    : await writeVerified(ctx, dest, body, declaredLength(ctx), storeWriteOptions(sse?.record));
  const etag = sse ? sseEtag(sse, body.source.md5Hex) : body.source.md5Hex;
  const checksum = storedChecksum(body);
  await commitMeta(ctx, ctx.key, place, {
    ...contentIdentity(info, etag),
    ...md,
    tags,
    ...(checksum ? { checksum } : {}),
    ...(sse && sealed ? { sse: singleSegmentRecord(sse, sealed.nonce, body.source.bytes) } : {}),
    ...(sse?.record.byStore ? { sse: sse.record } : {}),
  });
  // A folder key kept in the overflow folder: its empty directory must not list it a second time.
  if (path !== undefined && isDirKey(ctx.key)) await removeIfEmptyDir(ctx, path);
  sendEmpty(ctx.res, 200, {
    etag: `"${etag}"`,
    ...checksumResponse(checksum),
    ...sseHeaders(sse?.record, sse?.customerMd5),
  });
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
