import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, pipeline as pipelineCb } from 'node:stream';
import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { CheckedBody } from './body.js';
import {
  ALGORITHM_NAMES,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  type ChecksumType,
  compositeChecksum,
  parseAlgorithm,
  requestChecksum,
  validChecksumValue,
} from './checksums.js';
import { type Ctx, header, OWNER, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { isoDate, readBody, sendEmpty, sendXml } from './http.js';
import { uploadsDir, validateKey } from './keys.js';
import { contentIdentity, readSmall, type StoredChecksum, writeSmall } from './meta.js';
import {
  bodyStream,
  checkAclHeaders,
  checksumResponse,
  checkUnsupportedWriteHeaders,
  commitMeta,
  copyChecked,
  copySourceConditions,
  metadataFromRequest,
  parseCopySource,
  parseTagHeader,
  placePath,
  placeWrite,
  statObject,
  writePreconditions,
} from './objects.js';
import { child, children, parseXml, toXml, type XmlElement } from './xml.js';

/**
 * Multipart uploads are staged in the bucket's hidden folder:
 * `.strata-s3/uploads/<id>/upload.json` (key, metadata) and `<id>/<00001>` (part bytes, written
 * THROUGH to the store, no cache) with `<00001>.json` (ETag, size). Complete streams the parts
 * in order into the final object, so memory stays bounded whatever the size.
 */

interface UploadRecord {
  readonly key: string;
  readonly initiated: number;
  readonly contentType?: string;
  readonly headers: Record<string, string>;
  readonly meta: Record<string, string>;
  readonly tags: Record<string, string>;
  /** CreateMultipartUpload's x-amz-checksum-algorithm and x-amz-checksum-type. */
  readonly checksum?: { readonly alg: ChecksumAlgorithm; readonly type: ChecksumType };
}

interface PartRecord {
  readonly etag: string;
  readonly size: number;
  readonly lastModified: number;
  /** The part's additional checksum (declared by the client and verified, or computed). */
  readonly checksum?: { readonly alg: ChecksumAlgorithm; readonly value: string };
}

const MAX_PARTS = 10000;

function uploadDir(bucket: string, id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id))
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    );
  return `${uploadsDir(bucket)}/${id}`;
}

function partName(n: number): string {
  return String(n).padStart(5, '0');
}

async function loadUpload(ctx: Ctx, id: string): Promise<UploadRecord> {
  const raw = await readSmall(ctx.fs, `${uploadDir(ctx.bucket, id)}/upload.json`);
  if (!raw) {
    await requireBucket(ctx);
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    );
  }
  const rec = JSON.parse(raw.toString('utf8')) as UploadRecord;
  if (rec.key !== ctx.key)
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist for this key.');
  return rec;
}

export async function createUpload(ctx: Ctx): Promise<void> {
  validateKey(ctx.key);
  checkAclHeaders(ctx);
  checkUnsupportedWriteHeaders(ctx);
  const checksum = uploadChecksum(ctx);
  await requireBucket(ctx);
  const id = randomBytes(16).toString('hex');
  const rec: UploadRecord = {
    key: ctx.key,
    initiated: Date.now(),
    ...metadataFromRequest(ctx),
    tags: parseTagHeader(header(ctx, 'x-amz-tagging')),
    ...(checksum ? { checksum } : {}),
  };
  await writeSmall(ctx.fs, `${uploadDir(ctx.bucket, id)}/upload.json`, JSON.stringify(rec));
  sendXml(
    ctx.res,
    200,
    toXml('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: id }),
    checksum
      ? {
          'x-amz-checksum-algorithm': ALGORITHM_NAMES[checksum.alg],
          'x-amz-checksum-type': checksum.type,
        }
      : {},
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
  let etag: string;
  let info: FileInfo;
  let checksum: PartRecord['checksum'];
  if (copySource !== undefined) {
    const src = parseCopySource(copySource);
    const state = await statObject({ fs: ctx.fs, bucket: src.bucket, cache: ctx.cache }, src.key);
    copySourceConditions(ctx, state);
    let offset = 0;
    let length = state.info.size;
    const range = header(ctx, 'x-amz-copy-source-range');
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m || Number(m[2]) < Number(m[1]))
        throw new S3Error(
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        );
      if (Number(m[2]) >= state.info.size)
        throw new S3Error('InvalidRange', 'The requested range is not satisfiable');
      offset = Number(m[1]);
      length = Number(m[2]) - offset + 1;
    }
    const { info: written, checked } = await copyChecked(ctx, state.path, `${dir}/${partName(n)}`, {
      offset,
      length,
      maxBytes: ctx.limits.maxObjectBytes,
      alg: uploadAlg,
    });
    info = written;
    etag = checked.md5Hex;
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
    info = await ctx.fs.write(`${dir}/${partName(n)}`, body.source, { writeType: 'THROUGH' }).catch((err) => {
      const cause = body.failure() ?? body.source.errored;
      throw cause instanceof S3Error ? cause : toS3Error(err);
    });
    etag = body.source.md5Hex;
    const alg = declared ?? uploadAlg;
    if (alg && body.source.checksum !== undefined) checksum = { alg, value: body.source.checksum };
  }
  const rec: PartRecord = {
    etag,
    size: info.size,
    lastModified: info.mtimeMs,
    ...(checksum ? { checksum } : {}),
  };
  await writeSmall(ctx.fs, `${dir}/${partName(n)}.json`, JSON.stringify(rec));
  if (copySource !== undefined) {
    sendXml(
      ctx.res,
      200,
      toXml('CopyPartResult', {
        LastModified: isoDate(info.mtimeMs),
        ETag: `"${etag}"`,
        ...(checksum ? { [`Checksum${ALGORITHM_NAMES[checksum.alg]}`]: checksum.value } : {}),
      }),
    );
  } else
    sendEmpty(ctx.res, 200, {
      etag: `"${etag}"`,
      ...(checksum ? { [`x-amz-checksum-${checksum.alg}`]: checksum.value } : {}),
    });
}

async function listParts(ctx: Ctx, id: string): Promise<Map<number, PartRecord>> {
  const dir = uploadDir(ctx.bucket, id);
  const entries = await ctx.fs.list(dir, { syncIntervalMs: 0 });
  const parts = new Map<number, PartRecord>();
  await Promise.all(
    entries
      .filter((e) => /^\d{5}\.json$/.test(e.name))
      .map(async (e) => {
        const raw = await readSmall(ctx.fs, `${dir}/${e.name}`);
        if (raw) parts.set(Number(e.name.slice(0, 5)), JSON.parse(raw.toString('utf8')) as PartRecord);
      }),
  );
  return parts;
}

/** What a completed upload leaves behind, so that repeating the same Complete answers the same. */
interface CompletedRecord {
  readonly key: string;
  readonly etag: string;
  readonly parts: readonly { n: number; etag: string }[];
  readonly checksum?: StoredChecksum;
}

const COMPLETED = 'completed.json';
/** Completed-upload records older than this are removed when uploads are listed. */
const COMPLETED_TTL_MS = 15 * 60 * 1000;

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

export async function completeUpload(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  const dir = uploadDir(ctx.bucket, id);
  const uploadRaw = await readSmall(ctx.fs, `${dir}/upload.json`);
  const body = await readBody(ctx.req, 4 * 1024 * 1024);
  const doc = body.length === 0 ? undefined : parseXml(body.toString('utf8'));
  const requested = (doc ? children(doc, 'Part') : []).map((p) => ({
    n: Number(child(p, 'PartNumber')?.text ?? Number.NaN),
    etag: (child(p, 'ETag')?.text ?? '').trim().replace(/^"|"$/g, ''),
  }));
  const requestedChecksums = (doc ? children(doc, 'Part') : []).map(xmlPartChecksum);
  if (uploadRaw === undefined && requested.length > 0) {
    // Already completed with this very part list: S3 answers the same result again.
    const done = await readSmall(ctx.fs, `${dir}/${COMPLETED}`);
    const rec = done ? (JSON.parse(done.toString('utf8')) as CompletedRecord) : undefined;
    if (
      rec &&
      rec.key === ctx.key &&
      rec.parts.length === requested.length &&
      rec.parts.every((p, i) => p.n === requested[i]!.n && p.etag === requested[i]!.etag)
    ) {
      sendXml(ctx.res, 200, completeResult(ctx, rec.etag, rec.checksum));
      return;
    }
  }
  const upload = await loadUpload(ctx, id);
  if (doc?.name !== 'CompleteMultipartUpload') throw malformed();
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
  await writePreconditions(ctx);
  const stored = await listParts(ctx, id);
  let prev = 0;
  const chosen: PartRecord[] = [];
  // Order and existence of every part first, then the sizes (as S3 reports them).
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
  const mode = upload.checksum;
  for (const [i, p] of requested.entries()) {
    const rec = stored.get(p.n);
    if (!rec || rec.etag !== p.etag) throw invalidPart();
    const claimed = requestedChecksums[i];
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
    if (i < requested.length - 1 && rec.size < ctx.limits.minPartBytes) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
      );
    }
    chosen.push(rec);
  }
  const total = chosen.reduce((s, p) => s + p.size, 0);
  // Where the object goes, before any part is read (this can answer NoSuchBucket).
  const place = await placeWrite(ctx, ctx.key);
  const joined = new PassThrough({ highWaterMark: 1024 * 1024 });
  const feed = (async () => {
    for (const p of requested) {
      const part = await ctx.fs.read(`${dir}/${partName(p.n)}`, { readType: 'NO_CACHE' });
      for await (const chunk of part) {
        if (!joined.write(chunk)) await new Promise<void>((ok) => joined.once('drain', ok));
      }
    }
    joined.end();
  })().catch((err) => joined.destroy(err));
  const path = placePath(ctx, ctx.key, place);
  // FULL_OBJECT: the checksum of the whole object, as the parts stream by (and the one the
  // request states, x-amz-checksum-<alg>, checked before the object commits).
  const full = mode?.type === 'FULL_OBJECT' ? mode.alg : undefined;
  const stated = full ? header(ctx, `x-amz-checksum-${full}`) : undefined;
  if (full && stated !== undefined && !validChecksumValue(full, stated))
    throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${full} header is invalid.`);
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
    info = await ctx.fs.write(path, checked ?? joined, { size: total });
  } catch (err) {
    joined.destroy();
    const cause = failed ?? checked?.errored;
    throw cause instanceof S3Error ? cause : toS3Error(err);
  } finally {
    ctx.cache.invalidate(path);
  }
  await feed;
  let checksum: StoredChecksum | undefined;
  if (mode && checked?.checksum !== undefined)
    checksum = { alg: mode.alg, value: checked.checksum, type: 'FULL_OBJECT' };
  else if (mode?.type === 'COMPOSITE')
    checksum = {
      alg: mode.alg,
      value: compositeChecksum(
        mode.alg,
        chosen.map((p) => p.checksum!.value),
      ),
      type: 'COMPOSITE',
    };
  const md5 = createHash('md5');
  for (const p of chosen) md5.update(Buffer.from(p.etag, 'hex'));
  const etag = `${md5.digest('hex')}-${chosen.length}`;
  await commitMeta(ctx, ctx.key, place, {
    ...contentIdentity(info, etag),
    ...(upload.contentType !== undefined ? { contentType: upload.contentType } : {}),
    headers: upload.headers,
    meta: upload.meta,
    tags: upload.tags,
    parts: chosen.length,
    partSizes: chosen.map((p) => p.size),
    ...(checksum ? { checksum } : {}),
    ...(checksum?.type === 'COMPOSITE' ? { partChecksums: chosen.map((p) => p.checksum!.value) } : {}),
  });
  await ctx.fs.delete(dir, { recursive: true }).catch(() => undefined);
  const done: CompletedRecord = { key: ctx.key, etag, parts: requested, ...(checksum ? { checksum } : {}) };
  await writeSmall(ctx.fs, `${dir}/${COMPLETED}`, JSON.stringify(done)).catch(() => undefined);
  sendXml(ctx.res, 200, completeResult(ctx, etag, checksum), checksumResponse(checksum));
}

export async function abortUpload(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  await loadUpload(ctx, id);
  await ctx.fs.delete(uploadDir(ctx.bucket, id), { recursive: true }).catch((err) => {
    if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
  });
  sendEmpty(ctx.res, 204);
}

function intParam(ctx: Ctx, name: string, dflt: number, max: number): number {
  const raw = ctx.query.get(name);
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw))
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`);
  return Math.min(Number(raw), max);
}

export async function listPartsHandler(ctx: Ctx): Promise<void> {
  const id = ctx.query.get('uploadId') ?? '';
  const upload = await loadUpload(ctx, id);
  const max = intParam(ctx, 'max-parts', 1000, 1000);
  const marker = intParam(ctx, 'part-number-marker', 0, MAX_PARTS);
  const all = [...(await listParts(ctx, id))].sort((a, b) => a[0] - b[0]).filter(([n]) => n > marker);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  sendXml(
    ctx.res,
    200,
    toXml('ListPartsResult', {
      Bucket: ctx.bucket,
      Key: ctx.key,
      UploadId: id,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      ...(upload.checksum
        ? { ChecksumAlgorithm: ALGORITHM_NAMES[upload.checksum.alg], ChecksumType: upload.checksum.type }
        : {}),
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length > 0 ? page[page.length - 1]![0] : marker,
      MaxParts: max,
      IsTruncated: truncated,
      Part: page.map(([n, p]) => ({
        PartNumber: n,
        LastModified: isoDate(p.lastModified),
        ETag: `"${p.etag}"`,
        Size: p.size,
        ...(p.checksum ? { [`Checksum${ALGORITHM_NAMES[p.checksum.alg]}`]: p.checksum.value } : {}),
      })),
    }),
  );
}

export async function listUploads(ctx: Ctx): Promise<void> {
  await requireBucket(ctx);
  const prefix = ctx.query.get('prefix') ?? '';
  const keyMarker = ctx.query.get('key-marker') ?? '';
  const idMarker = ctx.query.get('upload-id-marker') ?? '';
  const max = intParam(ctx, 'max-uploads', 1000, 1000);
  let entries: readonly FileInfo[] = [];
  try {
    entries = await ctx.fs.list(uploadsDir(ctx.bucket), { syncIntervalMs: 0 });
  } catch (err) {
    if (!isStrataError(err, 'NOT_FOUND')) throw toS3Error(err);
  }
  const uploads: { id: string; rec: UploadRecord }[] = [];
  const now = Date.now();
  await Promise.all(
    entries.map(async (e) => {
      const raw = await readSmall(ctx.fs, `${uploadsDir(ctx.bucket)}/${e.name}/upload.json`);
      if (raw) uploads.push({ id: e.name, rec: JSON.parse(raw.toString('utf8')) as UploadRecord });
      else if (now - e.mtimeMs > COMPLETED_TTL_MS) {
        // A completed upload's record (or an abandoned staging folder): old enough to drop.
        await ctx.fs
          .delete(`${uploadsDir(ctx.bucket)}/${e.name}`, { recursive: true })
          .catch(() => undefined);
      }
    }),
  );
  const sorted = uploads
    .filter((u) => u.rec.key.startsWith(prefix))
    .filter((u) => {
      const c = compareUtf8(u.rec.key, keyMarker);
      return keyMarker === '' || c > 0 || (c === 0 && idMarker !== '' && u.id > idMarker);
    })
    .sort(
      (a, b) =>
        compareUtf8(a.rec.key, b.rec.key) || a.rec.initiated - b.rec.initiated || (a.id < b.id ? -1 : 1),
    );
  const page = sorted.slice(0, max);
  const last = page[page.length - 1];
  sendXml(
    ctx.res,
    200,
    toXml('ListMultipartUploadsResult', {
      Bucket: ctx.bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: idMarker,
      NextKeyMarker: last?.rec.key ?? '',
      NextUploadIdMarker: last?.id ?? '',
      Prefix: prefix,
      MaxUploads: max,
      IsTruncated: sorted.length > page.length,
      Upload: page.map((u) => ({
        Key: u.rec.key,
        UploadId: u.id,
        Initiator: OWNER,
        Owner: OWNER,
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.rec.initiated),
      })),
    }),
  );
}
