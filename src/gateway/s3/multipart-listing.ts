import { readSmallFile } from '../../client/s3-settings.js';
import type { FileInfo } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { ALGORITHM_NAMES } from './checksums.js';
import { type Ctx, OWNER, requireBucket } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import { isoDate, sendXml } from './http.js';
import { uploadsDir } from './keys.js';
import { COMPLETED_TTL_MS, listParts, loadUpload, MAX_PARTS, type UploadRecord } from './uploads.js';
import { toXml } from './xml.js';

/** ListParts and ListMultipartUploads. */

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
      const raw = await readSmallFile(ctx.fs, `${uploadsDir(ctx.bucket)}/${e.name}/upload.json`);
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
