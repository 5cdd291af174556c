import { type Ctx, header } from './context.js';
import { S3Error } from './errors.js';
import { type ObjectState, statObject } from './object-state.js';

/**
 * Conditional requests (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on reads
 * and writes) and the byte ranges of a read (Range, ?partNumber=N).
 */

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

export function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((e) => e.trim() === '*' || unquote(e) === etag);
}

export function parseHttpDate(value: string | undefined): number | undefined {
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

/**
 * GetObject/HeadObject with ?partNumber=N: part N of a multipart object (206 with its range and
 * x-amz-mp-parts-count), part 1 of any other object is the whole object; other numbers are
 * 400 InvalidPart. Undefined when no part number was asked for (or it means the whole object).
 */
export function partRange(
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
