import { pipeline as pipelineCb, type Readable } from 'node:stream';
import type { FileInfo } from '../../client/types.js';
import { parentOf } from '../../core/paths.js';
import { CheckedBody } from './body.js';
import type { ChecksumAlgorithm } from './checksums.js';
import type { Ctx } from './context.js';
import { S3Error, toS3Error } from './errors.js';
import type { ObjectMeta } from './meta.js';
import type { ObjectState } from './object-state.js';
import { newNonce, type SseRecord, type SseWrite } from './sse.js';
import {
  OpenStream,
  openBuffer,
  planRange,
  SealStream,
  SSE_NONCE_BYTES,
  type SseSegment,
  storedSegmentSize,
} from './sse-format.js';
import { isSealed, storeReadOptions, storeWriteOptions } from './sse-store.js';

/**
 * Object bytes through the encryption format (sse-format.ts): reading a plaintext range of an
 * encrypted object, and writing a plaintext stream as one sealed segment.
 */

/** The size a client sees: the plaintext size of an encrypted object, else the file's. */
export function objectSize(state: Pick<ObjectState, 'info' | 'meta'>): number {
  return state.meta?.sse?.size ?? state.info.size;
}

/** The segments of an encrypted object (its nonces with their plaintext sizes). */
export function segmentsOf(meta: ObjectMeta, rec: SseRecord): SseSegment[] {
  const nonces = Buffer.from(rec.nonces ?? '', 'base64url');
  const sizes = rec.segmentsAreParts ? meta.partSizes : (rec.segmentSizes ?? [rec.size ?? 0]);
  if (sizes === undefined || nonces.length !== sizes.length * SSE_NONCE_BYTES)
    throw new S3Error('InternalError', "The object's encryption record does not match its segments");
  return sizes.map((size, i) => ({
    size,
    nonce: nonces.subarray(i * SSE_NONCE_BYTES, (i + 1) * SSE_NONCE_BYTES),
  }));
}

/** Plaintext [offset, offset + length) of an encrypted object, as a stream (a chunk in memory). */
export async function readPlain(
  ctx: Pick<Ctx, 'fs'>,
  state: ObjectState,
  dataKey: Buffer,
  offset: number,
  length: number,
): Promise<Readable> {
  const rec = state.meta!.sse!;
  const plan = planRange(segmentsOf(state.meta!, rec), offset, length);
  const stored = await ctx.fs.read(state.path, { offset: plan.storedOffset, length: plan.storedLength });
  const open = new OpenStream(dataKey, plan);
  pipelineCb(stored, open, () => {});
  return open;
}

/** The same range in one buffer, when the file system offers readBuffer (small GETs). */
export async function readPlainBuffer(
  ctx: Pick<Ctx, 'fs'>,
  state: ObjectState,
  dataKey: Buffer,
  offset: number,
  length: number,
): Promise<Buffer | undefined> {
  const small = ctx.fs.readBuffer;
  if (small === undefined) return undefined;
  const rec = state.meta!.sse!;
  const plan = planRange(segmentsOf(state.meta!, rec), offset, length);
  const stored = await small.call(ctx.fs, state.path, {
    offset: plan.storedOffset,
    length: plan.storedLength,
  });
  return openBuffer(dataKey, plan, stored);
}

/** A plaintext stream sealed as one segment: the stored stream, its nonce and its counter. */
export function sealSegment(
  source: Readable,
  dataKey: Buffer,
): { stream: SealStream; nonce: Buffer; failure: () => unknown } {
  const nonce = newNonce();
  const stream = new SealStream(dataKey, nonce);
  let failed: unknown;
  pipelineCb(source, stream, (err) => {
    if (err) failed = err;
  });
  return { stream, nonce, failure: () => failed };
}

/** The stored size of one segment of `plain` bytes (undefined stays undefined). */
export function sealedLength(plain: number | undefined): number | undefined {
  return plain === undefined ? undefined : storedSegmentSize(plain);
}

/** The sidecar record of a one-segment object written with `write`. */
export function singleSegmentRecord(write: SseWrite, nonce: Buffer, size: number): SseRecord {
  return { ...write.record, size, nonces: nonce.toString('base64url') };
}

/**
 * Copies plaintext [offset, offset + length) of `source` (decrypting it with `sourceKey` when it
 * is encrypted) to `dest`, through a CheckedBody (MD5, and `alg` when asked), sealing it with
 * `destSse` when given. The body's own error wins over the store's.
 */
export async function copyPlain(
  ctx: Ctx,
  source: ObjectState,
  sourceKey: Buffer | undefined,
  dest: string,
  o: { offset?: number; length: number; alg?: ChecksumAlgorithm | undefined; maxBytes?: number },
  destSse: SseWrite | undefined,
  writeOptions: { writeType?: 'THROUGH' } = {},
): Promise<{ info: FileInfo; checked: CheckedBody; nonce?: Buffer }> {
  const offset = o.offset ?? 0;
  const plain =
    sourceKey !== undefined
      ? await readPlain(ctx, source, sourceKey, offset, o.length)
      : await ctx.fs.read(source.path, { offset, length: o.length, ...storeReadOptions(source.meta?.sse) });
  const checked = new CheckedBody({
    maxBytes: o.maxBytes ?? Number.MAX_SAFE_INTEGER,
    length: o.length,
    ...(o.alg ? { checksum: { alg: o.alg } } : {}),
  });
  let failed: unknown;
  pipelineCb(plain, checked, (err) => {
    if (err) failed = err;
  });
  // Sealed here, or (a store that encrypts, sse-store.ts) written plain with the store's request.
  const sealed = isSealed(destSse?.record) ? sealSegment(checked, destSse.dataKey) : undefined;
  const out: Readable = sealed?.stream ?? checked;
  const size = sealed ? storedSegmentSize(o.length) : o.length;
  try {
    const info = await ctx.fs.write(dest, out, {
      size,
      ...writeOptions,
      ...storeWriteOptions(destSse?.record),
    });
    return { info, checked, ...(sealed ? { nonce: sealed.nonce } : {}) };
  } catch (err) {
    const cause = failed ?? sealed?.failure() ?? checked.errored;
    if (cause instanceof S3Error) throw cause;
    throw toS3Error(err);
  } finally {
    ctx.cache.invalidate(parentOf(dest));
  }
}
