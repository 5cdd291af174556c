import { ALGORITHM_NAMES } from './checksums.js';
import { type Ctx, header } from './context.js';
import { S3Error } from './errors.js';
import { httpDate, sendXml } from './http.js';
import { statObject } from './object-state.js';
import { toXml, type XmlNode } from './xml.js';

/** GetObjectAttributes: the attributes x-amz-object-attributes names, as GetObjectAttributesResponse XML. */

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

/** The attribute names asked for; S3 refuses a missing or unknown one with 400 InvalidArgument. */
export function askedAttributes(value: string | undefined): Set<Attribute> {
  const names = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0)
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty',
      {
        extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: value ?? '' },
      },
    );
  for (const n of names) {
    if (!(ATTRIBUTES as readonly string[]).includes(n))
      throw new S3Error('InvalidArgument', `Invalid attribute name specified: ${n}`, {
        extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: n },
      });
  }
  return new Set(names as Attribute[]);
}

function intHeader(ctx: Ctx, name: string, fallback: number, max: number): number {
  const v = header(ctx, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) > max)
    throw new S3Error('InvalidArgument', `${name} must be an integer between 0 and ${max}`, {
      extra: { ArgumentName: name, ArgumentValue: v },
    });
  return Number(v);
}

export async function getObjectAttributes(ctx: Ctx): Promise<void> {
  const asked = askedAttributes(header(ctx, 'x-amz-object-attributes'));
  const maxParts = intHeader(ctx, 'x-amz-max-parts', 1000, 1000);
  const marker = intHeader(ctx, 'x-amz-part-number-marker', 0, 10000);
  const state = await statObject(ctx, ctx.key);
  const meta = state.meta;
  const body: XmlNode = {};
  if (asked.has('ETag')) body.ETag = state.etag;
  if (asked.has('Checksum') && meta?.checksum) {
    body.Checksum = {
      [`Checksum${ALGORITHM_NAMES[meta.checksum.alg]}`]: meta.checksum.value,
      ChecksumType: meta.checksum.type,
    };
  }
  if (asked.has('ObjectParts') && meta?.parts) {
    const sizes = meta.partSizes ?? [];
    const parts: XmlNode[] = [];
    const alg = meta.checksum?.alg;
    for (let n = marker + 1; n <= sizes.length && parts.length < maxParts; n++) {
      const sum = meta.partChecksums?.[n - 1];
      parts.push({
        PartNumber: n,
        Size: sizes[n - 1]!,
        ...(alg !== undefined && sum !== undefined ? { [`Checksum${ALGORITHM_NAMES[alg]}`]: sum } : {}),
      });
    }
    const last = parts.length > 0 ? marker + parts.length : marker;
    const truncated = last < sizes.length;
    body.ObjectParts = {
      PartsCount: meta.parts,
      PartNumberMarker: marker,
      ...(truncated ? { NextPartNumberMarker: last } : {}),
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: parts,
    };
  }
  if (asked.has('StorageClass')) body.StorageClass = 'STANDARD';
  if (asked.has('ObjectSize')) body.ObjectSize = state.meta?.sse?.size ?? state.info.size;
  sendXml(ctx.res, 200, toXml('GetObjectAttributesResponse', body), {
    'last-modified': httpDate(state.info.mtimeMs),
  });
}
