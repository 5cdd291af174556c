import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, pipeline as pipelineCb } from 'node:stream';
import { readSmallFile, writeSmallFile } from '../../client/s3-settings.js';
import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { checkAclHeaders } from './acl.js';
import { CheckedBody } from './body.js';
import {
  ALGORITHM_NAMES,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  compositeChecksum,
  parseAlgorithm,
  requestChecksum,
  validChecksumValue,
} from './checksums.js';
import { writePreconditions } from './conditions.js';
import { type Ctx, header, requireBucket } from './context.js';
import { copySourceConditions, copySourceKey, parseCopySource } from './copy.js';
import { S3Error, toS3Error } from './errors.js';
import { isoDate, readBody, sendEmpty, sendXml } from './http.js';
import { treePath, validateKey } from './keys.js';
import { contentIdentity, type StoredChecksum } from './meta.js';
import { statObject } from './object-state.js';
import {
  bodyStream,
  checksumResponse,
  checkUnsupportedWriteHeaders,
  commitMeta,
  copyChecked,
  metadataFromRequest,
  type Place,
  placePath,
  placeWrite,
} from './object-write.js';
import { dataKeyForRead, type SseWrite, sseEtag, sseForWrite, sseHeaders } from './sse.js';
import { storedSegmentSize } from './sse-format.js';
import { copyPlain, objectSize, sealSegment } from './sse-io.js';
import { isSealed, storeReadOptions, storeWriteOptions } from './sse-store.js';
import { parseTagHeader } from './tagging.js';
import {
  COMPLETED,
  type CompletedRecord,
  listParts,
  loadUpload,
  MAX_PARTS,
  type PartRecord,
  partName,
  type UploadRecord,
  uploadDir,
} from './uploads.js';
import { child, children, parseXml, toXml, type XmlElement } from './xml.js';

/** A stored part chosen by a CompleteMultipartUpload list, with its number. */
type ChosenPart = PartRecord & { readonly n: number };

export async function createUpload(ctx: Ctx): Promise<void> {
  validateKey(ctx.key);
  checkAclHeaders(ctx);
  checkUnsupportedWriteHeaders(ctx);
  const checksum = uploadChecksum(ctx);
  await requireBucket(ctx);
  const sse = await sseForWrite(ctx, true, treePath(ctx.bucket, ctx.key) ?? `/${ctx.bucket}`);
  const id = randomBytes(16).toString('hex');
  const rec: UploadRecord = {
    key: ctx.key,
    initiated: Date.now(),
    ...metadataFromRequest(ctx),
    tags: parseTagHeader(header(ctx, 'x-amz-tagging')),
    ...(checksum ? { checksum } : {}),
    ...(sse ? { sse: sse.record } : {}),
  };
  await writeSmallFile(ctx.fs, `${uploadDir(ctx.bucket, id)}/upload.json`, JSON.stringify(rec));
  sendXml(
    ctx.res,
    200,
    toXml('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: id }),
    {
      ...(checksum
        ? {
            'x-amz-checksum-algorithm': ALGORITHM_NAMES[checksum.alg],
            'x-amz-checksum-type': checksum.type,
          }
        : {}),
      ...sseHeaders(sse?.record, sse?.customerMd5),
    },
  );
}

/**
 * x-amz-checksum-algorithm / x-amz-checksum-type of CreateMultipartUpload. COMPOSITE (a checksum
 * of the part checksums, "-N") is the default and the only type for SHA-1/SHA-256; CRC64NVME is
 * FULL_OBJECT only (a checksum of the whole object, computed as Complete streams the parts).
 */
function uploadChecksum(ctx: Ctx): UploadRecord['checksum'] {
  const rawAlg = header(ctx, 'x-amz-checksum-algorithm');
  const rawType = header(ctx, 'x-amz-checksum-type');
  if (rawAlg === undefined) {
    if (rawType !== undefined)
      throw new S3Error(
        'InvalidRequest',
        'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
      );
    return undefined;
  }
  const alg = parseAlgorithm(rawAlg);
  if (!alg) throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-algorithm header is invalid.');
  const type = (rawType ?? (alg === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE')).toUpperCase();
  if (type !== 'COMPOSITE' && type !== 'FULL_OBJECT')
    throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (
    (type === 'FULL_OBJECT' && (alg === 'sha1' || alg === 'sha256')) ||
    (type === 'COMPOSITE' && alg === 'crc64nvme')
  )
    throw new S3Error(
      'InvalidRequest',
      `The ${type} checksum type cannot be used with the ${alg} checksum algorithm.`,
    );
  return { alg, type };
}

function partNumber(ctx: Ctx): number {
  const raw = ctx.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
  }
  return n;
}

export async function uploadPart(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  const n = partNumber(ctx);
  const upload = await loadUpload(ctx, id);
  const dir = uploadDir(ctx.bucket, id);
  const copySource = header(ctx, 'x-amz-copy-source');
  const uploadAlg = upload.checksum?.alg;
  // An encrypted upload: its data key (SSE-C: every part brings the upload's key).
  const opened = isSealed(upload.sse) ? dataKeyForRead(ctx, upload.sse, ctx.bucket, upload.key) : undefined;
  // Sealed here (with the upload's data key), or passed on to the store (its parts as well).
  const sse: SseWrite | undefined =
    upload.sse && opened
      ? { record: upload.sse, dataKey: opened.dataKey }
      : upload.sse?.byStore
        ? { record: upload.sse, dataKey: Buffer.alloc(0) }
        : undefined;
  if (upload.sse?.byStore && header(ctx, 'x-amz-server-side-encryption-customer-algorithm') !== undefined)
    throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  let etag: string;
  let info: FileInfo;
  let checksum: PartRecord['checksum'];
  let plainSize: number;
  let nonce: Buffer | undefined;
  if (copySource !== undefined) {
    const src = parseCopySource(copySource);
    const state = await statObject({ fs: ctx.fs, bucket: src.bucket, cache: ctx.cache }, src.key);
    copySourceConditions(ctx, state);
    const sourceKey = copySourceKey(ctx, state, src);
    let offset = 0;
    let length = objectSize(state);
    const range = header(ctx, 'x-amz-copy-source-range');
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m || Number(m[2]) < Number(m[1]))
        throw new S3Error(
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        );
      if (Number(m[2]) >= objectSize(state))
        throw new S3Error('InvalidRange', 'The requested range is not satisfiable');
      offset = Number(m[1]);
      length = Number(m[2]) - offset + 1;
    }
    const part = `${dir}/${partName(n)}`;
    const o = { offset, length, maxBytes: ctx.limits.maxObjectBytes, alg: uploadAlg };
    const copied =
      sourceKey !== undefined || sse !== undefined
        ? await copyPlain(ctx, state, sourceKey, part, o, sse)
        : await copyChecked(ctx, state.path, part, o, { read: storeReadOptions(state.meta?.sse) });
    const checked = copied.checked;
    info = copied.info;
    nonce = (copied as { nonce?: Buffer }).nonce;
    plainSize = length;
    etag = sse ? sseEtag(sse, checked.md5Hex) : checked.md5Hex;
    if (uploadAlg && checked.checksum !== undefined) checksum = { alg: uploadAlg, value: checked.checksum };
  } else {
    const declared = requestChecksum(ctx.req.headers)?.alg;
    if (uploadAlg && declared && declared !== uploadAlg) {
      throw new S3Error(
        'InvalidRequest',
        `Checksum Type mismatch occurred, expected checksum Type: ${uploadAlg}, actual checksum Type: ${declared}`,
      );
    }
    const body = bodyStream(ctx, ctx.limits.maxObjectBytes, uploadAlg);
    const sealed = sse && isSealed(sse.record) ? sealSegment(body.source, sse.dataKey) : undefined;
    info = await ctx.fs
      .write(`${dir}/${partName(n)}`, sealed?.stream ?? body.source, {
        writeType: 'THROUGH',
        ...storeWriteOptions(upload.sse),
      })
      .catch((err) => {
        const cause = body.failure() ?? sealed?.failure() ?? body.source.errored;
        throw cause instanceof S3Error ? cause : toS3Error(err);
      });
    nonce = sealed?.nonce;
    plainSize = body.source.bytes;
    etag = sse ? sseEtag(sse, body.source.md5Hex) : body.source.md5Hex;
    const alg = declared ?? uploadAlg;
    if (alg && body.source.checksum !== undefined) checksum = { alg, value: body.source.checksum };
  }
  const rec: PartRecord = {
    etag,
    size: sse ? plainSize : info.size,
    lastModified: info.mtimeMs,
    ...(checksum ? { checksum } : {}),
    ...(sse && nonce ? { storedSize: info.size, nonce: nonce.toString('base64url') } : {}),
  };
  await writeSmallFile(ctx.fs, `${dir}/${partName(n)}.json`, JSON.stringify(rec));
  if (copySource !== undefined) {
    sendXml(
      ctx.res,
      200,
      toXml('CopyPartResult', {
        LastModified: isoDate(info.mtimeMs),
        ETag: `"${etag}"`,
        ...(checksum ? { [`Checksum${ALGORITHM_NAMES[checksum.alg]}`]: checksum.value } : {}),
      }),
      sseHeaders(upload.sse, opened?.customerMd5),
    );
  } else
    sendEmpty(ctx.res, 200, {
      etag: `"${etag}"`,
      ...(checksum ? { [`x-amz-checksum-${checksum.alg}`]: checksum.value } : {}),
      ...sseHeaders(upload.sse, opened?.customerMd5),
    });
}

function completeResult(ctx: Ctx, etag: string, checksum: StoredChecksum | undefined): string {
  const host = ctx.req.headers.host ?? 'localhost';
  return toXml('CompleteMultipartUploadResult', {
    Location: `http://${host}/${ctx.bucket}/${encodeURI(ctx.key)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: `"${etag}"`,
    ...(checksum
      ? { [`Checksum${ALGORITHM_NAMES[checksum.alg]}`]: checksum.value, ChecksumType: checksum.type }
      : {}),
  });
}

/** The <ChecksumCRC32>… element of a part in a CompleteMultipartUpload document, if any. */
function xmlPartChecksum(p: XmlElement): { alg: ChecksumAlgorithm; value: string } | undefined {
  for (const alg of CHECKSUM_ALGORITHMS) {
    const el = child(p, `Checksum${ALGORITHM_NAMES[alg]}`);
    if (el !== undefined) return { alg, value: el.text.trim() };
  }
  return undefined;
}

function invalidPart(): S3Error {
  return new S3Error(
    'InvalidPart',
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
  );
}

function malformed(): S3Error {
  return new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}

/** One <Part> of a CompleteMultipartUpload document. */
interface RequestedPart {
  readonly n: number;
  readonly etag: string;
  /** Its <ChecksumCRC32>… element, if any. */
  readonly checksum: { alg: ChecksumAlgorithm; value: string } | undefined;
}

/** The parsed CompleteMultipartUpload body: its root element (none for an empty body) and parts. */
interface PartList {
  readonly doc: XmlElement | undefined;
  readonly parts: readonly RequestedPart[];
}

/**
 * CompleteMultipartUpload, in the order S3 reports its errors: the document, a repeat of an
 * already completed upload, the upload, the preconditions, the parts (order, then existence,
 * checksums and sizes), the object's place; then the parts stream into the object, the sidecar
 * commits, the staging folder goes and the answer is sent.
 */
export async function completeUpload(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  const dir = uploadDir(ctx.bucket, id);
  const uploadRaw = await readSmallFile(ctx.fs, `${dir}/upload.json`);
  const list = parsePartList(await readBody(ctx.req, 4 * 1024 * 1024));
  if (uploadRaw === undefined) {
    const done = await repeatedCompletion(ctx, dir, list.parts);
    if (done) {
      sendXml(ctx.res, 200, completeResult(ctx, done.etag, done.checksum));
      return;
    }
  }
  const upload = await loadUpload(ctx, id);
  validatePartList(list);
  await writePreconditions(ctx);
  const chosen = checkParts(ctx, list.parts, await listParts(ctx, id), upload.checksum);
  if (isSealed(upload.sse)) completedSse(upload, chosen); // every part sealed, checked before any is read
  // Where the object goes, before any part is read (this can answer NoSuchBucket).
  const place = await placeWrite(ctx, ctx.key);
  const { info, fullChecksum } = await streamPartsIntoObject(ctx, dir, chosen, place, upload);
  const checksum = objectChecksum(upload.checksum, chosen, fullChecksum);
  const etag = multipartEtag(chosen);
  await commitObject(ctx, place, upload, chosen, info, etag, checksum);
  await retireUpload(ctx, dir, {
    key: ctx.key,
    etag,
    parts: list.parts.map(({ n, etag }) => ({ n, etag })),
    ...(checksum ? { checksum } : {}),
  });
  sendXml(ctx.res, 200, completeResult(ctx, etag, checksum), {
    ...checksumResponse(checksum),
    ...sseHeaders(upload.sse, header(ctx, 'x-amz-server-side-encryption-customer-key-md5')),
  });
}

/** Parses the request body (MalformedXML when it is not XML); an empty body has no parts. */
function parsePartList(body: Buffer): PartList {
  const doc = body.length === 0 ? undefined : parseXml(body.toString('utf8'));
  const parts = (doc ? children(doc, 'Part') : []).map((p) => ({
    n: Number(child(p, 'PartNumber')?.text ?? Number.NaN),
    etag: (child(p, 'ETag')?.text ?? '').trim().replace(/^"|"$/g, ''),
    checksum: xmlPartChecksum(p),
  }));
  return { doc, parts };
}

/** The document is a CompleteMultipartUpload with at least one part. */
function validatePartList(list: PartList): void {
  if (list.doc?.name !== 'CompleteMultipartUpload') throw malformed();
  if (list.parts.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
}

/** The record of an upload already completed with this very part list (S3 answers it again). */
async function repeatedCompletion(
  ctx: Ctx,
  dir: string,
  parts: readonly RequestedPart[],
): Promise<CompletedRecord | undefined> {
  if (parts.length === 0) return undefined;
  const raw = await readSmallFile(ctx.fs, `${dir}/${COMPLETED}`);
  const rec = raw ? (JSON.parse(raw.toString('utf8')) as CompletedRecord) : undefined;
  const same =
    rec !== undefined &&
    rec.key === ctx.key &&
    rec.parts.length === parts.length &&
    rec.parts.every((p, i) => p.n === parts[i]!.n && p.etag === parts[i]!.etag);
  return same ? rec : undefined;
}

/**
 * The stored parts the list names, in its order: the order and numbers of every part first
 * (InvalidPart, InvalidPartOrder), then each part's existence and ETag (InvalidPart), its
 * checksum (InvalidPart; missing under COMPOSITE: InvalidRequest) and, but for the last, its size
 * (EntityTooSmall) — as S3 reports them.
 */
function checkParts(
  ctx: Ctx,
  requested: readonly RequestedPart[],
  stored: ReadonlyMap<number, PartRecord>,
  mode: UploadRecord['checksum'],
): ChosenPart[] {
  let prev = 0;
  for (const p of requested) {
    if (!Number.isInteger(p.n) || p.n < 1 || p.n > MAX_PARTS)
      throw new S3Error('InvalidPart', `Part number ${p.n} is not valid`);
    if (p.n <= prev)
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
      );
    prev = p.n;
  }
  return requested.map((p, i) => {
    const rec = stored.get(p.n);
    if (!rec || rec.etag !== p.etag) throw invalidPart();
    const claimed = p.checksum;
    // A part checksum in the document must be the one the part was stored with.
    if (
      claimed &&
      (rec.checksum?.alg !== claimed.alg ||
        rec.checksum.value !== claimed.value ||
        (mode !== undefined && mode.alg !== claimed.alg))
    )
      throw invalidPart();
    if (mode?.type === 'COMPOSITE' && !claimed)
      throw new S3Error(
        'InvalidRequest',
        `The upload was created using a ${mode.alg} checksum. The complete request must include the checksum for each part. It was missing for part ${p.n} in the request.`,
      );
    if (i < requested.length - 1 && rec.size < ctx.limits.minPartBytes)
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
      );
    return { ...rec, n: p.n };
  });
}

/**
 * Streams the parts one after another into the object at `place` (memory stays bounded whatever
 * the size). FULL_OBJECT uploads: the checksum of the whole object is computed as the parts go by
 * and the one the request states (x-amz-checksum-<alg>) is checked before the object commits.
 */
async function streamPartsIntoObject(
  ctx: Ctx,
  dir: string,
  parts: readonly ChosenPart[],
  place: Place,
  upload: UploadRecord,
): Promise<{ info: FileInfo; fullChecksum: string | undefined }> {
  const mode = upload.checksum;
  const full = mode?.type === 'FULL_OBJECT' ? mode.alg : undefined;
  const stated = full ? header(ctx, `x-amz-checksum-${full}`) : undefined;
  if (full && stated !== undefined && !validChecksumValue(full, stated))
    throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${full} header is invalid.`);
  // Encrypted parts are larger on disk than their plaintext (sse-format.ts).
  const total = parts.reduce((s, p) => s + (p.storedSize ?? p.size), 0);
  const path = placePath(ctx, ctx.key, place);
  const joined = new PassThrough({ highWaterMark: 1024 * 1024 });
  const feed = (async () => {
    for (const p of parts) {
      const part = await ctx.fs.read(`${dir}/${partName(p.n)}`, { readType: 'NO_CACHE' });
      for await (const chunk of part) {
        if (!joined.write(chunk)) await new Promise<void>((ok) => joined.once('drain', ok));
      }
    }
    joined.end();
  })().catch((err) => joined.destroy(err));
  const checked = full
    ? new CheckedBody({
        maxBytes: Number.MAX_SAFE_INTEGER,
        length: total,
        checksum: { alg: full, expected: stated },
      })
    : undefined;
  let failed: unknown;
  if (checked)
    pipelineCb(joined, checked, (err) => {
      if (err) failed = err;
    });
  let info: FileInfo;
  try {
    info = await ctx.fs.write(path, checked ?? joined, { size: total, ...storeWriteOptions(upload.sse) });
  } catch (err) {
    joined.destroy();
    const cause = failed ?? checked?.errored;
    throw cause instanceof S3Error ? cause : toS3Error(err);
  } finally {
    ctx.cache.invalidate(path);
  }
  await feed;
  return { info, fullChecksum: checked?.checksum };
}

/** The object's checksum: FULL_OBJECT as streamed, COMPOSITE over the part checksums ("-N"). */
function objectChecksum(
  mode: UploadRecord['checksum'],
  parts: readonly ChosenPart[],
  fullChecksum: string | undefined,
): StoredChecksum | undefined {
  if (mode && fullChecksum !== undefined) return { alg: mode.alg, value: fullChecksum, type: 'FULL_OBJECT' };
  if (mode?.type !== 'COMPOSITE') return undefined;
  const value = compositeChecksum(
    mode.alg,
    parts.map((p) => p.checksum!.value),
  );
  return { alg: mode.alg, value, type: 'COMPOSITE' };
}

/** md5 of the parts' binary MD5s, "-N". */
function multipartEtag(parts: readonly ChosenPart[]): string {
  const md5 = createHash('md5');
  for (const p of parts) md5.update(Buffer.from(p.etag, 'hex'));
  return `${md5.digest('hex')}-${parts.length}`;
}

/** The object's sidecar: the upload's metadata and tags, the part sizes and checksums. */
async function commitObject(
  ctx: Ctx,
  place: Place,
  upload: UploadRecord,
  parts: readonly ChosenPart[],
  info: FileInfo,
  etag: string,
  checksum: StoredChecksum | undefined,
): Promise<void> {
  await commitMeta(ctx, ctx.key, place, {
    ...contentIdentity(info, etag),
    ...(upload.contentType !== undefined ? { contentType: upload.contentType } : {}),
    headers: upload.headers,
    meta: upload.meta,
    tags: upload.tags,
    ...(upload.acl !== undefined ? { acl: upload.acl } : {}),
    ...(upload.owner !== undefined ? { owner: upload.owner } : {}),
    parts: parts.length,
    partSizes: parts.map((p) => p.size),
    ...(checksum ? { checksum } : {}),
    ...(checksum?.type === 'COMPOSITE' ? { partChecksums: parts.map((p) => p.checksum!.value) } : {}),
    ...(isSealed(upload.sse) ? { sse: completedSse(upload, parts) } : {}),
    ...(upload.sse?.byStore ? { sse: { ...upload.sse, size: parts.reduce((s, p) => s + p.size, 0) } } : {}),
  });
}

/** The sidecar encryption record of a completed encrypted upload: one segment per part. */
function completedSse(upload: UploadRecord, parts: readonly ChosenPart[]): NonNullable<UploadRecord['sse']> {
  const nonces: Buffer[] = [];
  for (const p of parts) {
    const nonce = p.nonce === undefined ? undefined : Buffer.from(p.nonce, 'base64url');
    // A part stored before its upload was encrypted cannot be: refused rather than mixed.
    if (nonce === undefined || p.storedSize !== storedSegmentSize(p.size))
      throw new S3Error('InvalidPart', `Part ${p.n} is not encrypted as its upload is`);
    nonces.push(nonce);
  }
  return {
    ...upload.sse!,
    size: parts.reduce((s, p) => s + p.size, 0),
    nonces: Buffer.concat(nonces).toString('base64url'),
    segmentsAreParts: true,
  };
}

/** Drops the staged parts and leaves the record a repeated Complete is answered from. */
async function retireUpload(ctx: Ctx, dir: string, done: CompletedRecord): Promise<void> {
  await ctx.fs.delete(dir, { recursive: true }).catch(() => undefined);
  await writeSmallFile(ctx.fs, `${dir}/${COMPLETED}`, JSON.stringify(done)).catch(() => undefined);
}

export async function abortUpload(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  await loadUpload(ctx, id);
  await ctx.fs.delete(uploadDir(ctx.bucket, id), { recursive: true }).catch((err) => {
    if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
  });
  sendEmpty(ctx.res, 204);
}
