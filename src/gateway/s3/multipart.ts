import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, pipeline as pipelineCb } from 'node:stream';
import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { CheckedBody } from './body.js';
import { type Ctx, header, OWNER, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { isoDate, readBody, sendEmpty, sendXml } from './http.js';
import { keyToPath, uploadsDir } from './keys.js';
import { contentIdentity, readSmall, writeSmall } from './meta.js';
import {
  bodyStream,
  checkAclHeaders,
  checkUnsupportedWriteHeaders,
  commitMeta,
  copySourceConditions,
  metadataFromRequest,
  parseCopySource,
  parseTagHeader,
  placePath,
  placeWrite,
  statObject,
  writeChecked,
  writePreconditions,
} from './objects.js';
import { child, children, parseXml, toXml } from './xml.js';

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
}

interface PartRecord {
  readonly etag: string;
  readonly size: number;
  readonly lastModified: number;
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
  keyToPath(ctx.bucket, ctx.key);
  checkAclHeaders(ctx);
  checkUnsupportedWriteHeaders(ctx);
  await requireBucket(ctx);
  const id = randomBytes(16).toString('hex');
  const rec: UploadRecord = {
    key: ctx.key,
    initiated: Date.now(),
    ...metadataFromRequest(ctx),
    tags: parseTagHeader(header(ctx, 'x-amz-tagging')),
  };
  await writeSmall(ctx.fs, `${uploadDir(ctx.bucket, id)}/upload.json`, JSON.stringify(rec));
  sendXml(
    ctx.res,
    200,
    toXml('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: id }),
  );
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
  await loadUpload(ctx, id);
  const dir = uploadDir(ctx.bucket, id);
  const copySource = header(ctx, 'x-amz-copy-source');
  let etag: string;
  let info: FileInfo;
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
    const checked = new CheckedBody({ maxBytes: ctx.limits.maxObjectBytes, length });
    const stream = await ctx.fs.read(state.path, { offset, length });
    let failed: unknown;
    pipelineCb(stream, checked, (err) => {
      if (err) failed = err;
    });
    info = await writeChecked(
      ctx,
      `${dir}/${partName(n)}`,
      { source: checked, failure: () => failed },
      length,
    );
    etag = checked.md5Hex;
  } else {
    const body = bodyStream(ctx, ctx.limits.maxObjectBytes);
    info = await ctx.fs.write(`${dir}/${partName(n)}`, body.source, { writeType: 'THROUGH' }).catch((err) => {
      const cause = body.failure() ?? body.source.errored;
      throw cause instanceof S3Error ? cause : toS3Error(err);
    });
    etag = body.source.md5Hex;
  }
  const rec: PartRecord = { etag, size: info.size, lastModified: info.mtimeMs };
  await writeSmall(ctx.fs, `${dir}/${partName(n)}.json`, JSON.stringify(rec));
  if (copySource !== undefined) {
    sendXml(
      ctx.res,
      200,
      toXml('CopyPartResult', { LastModified: isoDate(info.mtimeMs), ETag: `"${etag}"` }),
    );
  } else sendEmpty(ctx.res, 200, { etag: `"${etag}"` });
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
}

const COMPLETED = 'completed.json';
/** Completed-upload records older than this are removed when uploads are listed. */
const COMPLETED_TTL_MS = 15 * 60 * 1000;

function completeResult(ctx: Ctx, etag: string): string {
  const host = ctx.req.headers.host ?? 'localhost';
  return toXml('CompleteMultipartUploadResult', {
    Location: `http://${host}/${ctx.bucket}/${encodeURI(ctx.key)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: `"${etag}"`,
  });
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
      sendXml(ctx.res, 200, completeResult(ctx, rec.etag));
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
  for (const [i, p] of requested.entries()) {
    const rec = stored.get(p.n);
    if (!rec || rec.etag !== p.etag) {
      throw new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
      );
    }
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
  let info: FileInfo;
  try {
    info = await ctx.fs.write(path, joined, { size: total });
  } catch (err) {
    joined.destroy();
    throw toS3Error(err);
  } finally {
    ctx.cache.invalidate(path);
  }
  await feed;
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
  });
  await ctx.fs.delete(dir, { recursive: true }).catch(() => undefined);
  const done: CompletedRecord = { key: ctx.key, etag, parts: requested };
  await writeSmall(ctx.fs, `${dir}/${COMPLETED}`, JSON.stringify(done)).catch(() => undefined);
  sendXml(ctx.res, 200, completeResult(ctx, etag));
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
  await loadUpload(ctx, id);
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
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length > 0 ? page[page.length - 1]![0] : marker,
      MaxParts: max,
      IsTruncated: truncated,
      Part: page.map(([n, p]) => ({
        PartNumber: n,
        LastModified: isoDate(p.lastModified),
        ETag: `"${p.etag}"`,
        Size: p.size,
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
  let entries: FileInfo[] = [];
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
