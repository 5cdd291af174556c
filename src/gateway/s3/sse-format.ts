import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './errors.js';

/**
 * The at-rest format of a server-side encrypted object: chunked AEAD, so a range is decrypted
 * from the chunks it touches only and memory stays at a chunk whatever the object's size.
 *
 * An object is one or more segments (a PutObject: one; a multipart object: one per part, in
 * order, as the parts were written). A segment is its plaintext cut into chunks of CHUNK bytes
 * (the last one shorter; an empty segment has one empty chunk), each stored as
 *
 *   AES-256-GCM ciphertext (same length) ‖ tag (16 bytes)
 *
 * under the object's data key (random per object or upload, wrapped by sse-keys.ts), with the
 * IV = the segment's 8 random nonce bytes ‖ the chunk index (u32 BE), and the associated data
 * "strata-sse1" ‖ chunk index ‖ last-chunk flag, so chunks cannot be reordered, moved between
 * segments or cut off at the end of a segment without their tag failing. Nonces are random per
 * segment (a part uploaded again gets a new one), so no IV is used twice under a key. The
 * plaintext size of each segment is in the object's sidecar (meta.ts: sse.size, partSizes).
 */

export const SSE_CHUNK_BYTES = 64 * 1024;
export const SSE_TAG_BYTES = 16;
export const SSE_NONCE_BYTES = 8;
const AAD_PREFIX = Buffer.from('strata-sse1');

/** Stored bytes of a segment of `plain` bytes. */
export function storedSegmentSize(plain: number): number {
  return plain + Math.max(1, Math.ceil(plain / SSE_CHUNK_BYTES)) * SSE_TAG_BYTES;
}

function iv(nonce: Buffer, chunk: number): Buffer {
  const b = Buffer.alloc(12);
  nonce.copy(b, 0, 0, SSE_NONCE_BYTES);
  b.writeUInt32BE(chunk, 8);
  return b;
}

function aad(chunk: number, last: boolean): Buffer {
  const b = Buffer.alloc(AAD_PREFIX.length + 5);
  AAD_PREFIX.copy(b, 0);
  b.writeUInt32BE(chunk, AAD_PREFIX.length);
  b[AAD_PREFIX.length + 4] = last ? 1 : 0;
  return b;
}

function sealChunk(key: Buffer, nonce: Buffer, index: number, last: boolean, plain: Buffer): Buffer[] {
  const c = createCipheriv('aes-256-gcm', key, iv(nonce, index), { authTagLength: SSE_TAG_BYTES });
  c.setAAD(aad(index, last));
  const body = c.update(plain);
  c.final();
  return [body, c.getAuthTag()];
}

function openChunk(key: Buffer, nonce: Buffer, index: number, last: boolean, stored: Buffer): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv(nonce, index), { authTagLength: SSE_TAG_BYTES });
    d.setAAD(aad(index, last));
    d.setAuthTag(stored.subarray(stored.length - SSE_TAG_BYTES));
    const plain = d.update(stored.subarray(0, stored.length - SSE_TAG_BYTES));
    d.final();
    return plain;
  } catch (err) {
    // The stored bytes are not what was written under this key: never serve them.
    throw new S3Error('InternalError', 'The stored object failed its integrity check (encrypted chunk)', {
      cause: err,
    });
  }
}

/**
 * Plaintext in, one segment's stored bytes out. A chunk is held back until more bytes follow,
 * so the last one is known (and flagged) at the end without knowing the length up front.
 */
export class SealStream extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  /** Plaintext bytes sealed so far. */
  plainBytes = 0;

  constructor(
    private readonly key: Buffer,
    private readonly nonce: Buffer,
  ) {
    super({ highWaterMark: 4 * SSE_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.plainBytes += chunk.length;
    // Strictly more than a chunk held: the first chunk is not the last one.
    while (this.pendingBytes > SSE_CHUNK_BYTES) this.sealOut(this.takePending(SSE_CHUNK_BYTES), false);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.sealOut(this.takePending(this.pendingBytes), true);
    done();
  }

  private takePending(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }

  private sealOut(plain: Buffer, last: boolean): void {
    for (const b of sealChunk(this.key, this.nonce, this.index++, last, plain)) this.push(b);
  }
}

/** One chunk a range read goes through: where it is, and what of its plaintext is kept. */
interface ChunkStep {
  readonly nonce: Buffer;
  readonly index: number;
  readonly last: boolean;
  readonly plainBytes: number;
  /** Plaintext bytes dropped at the front (the range starts inside the chunk). */
  readonly skip: number;
  /** Plaintext bytes kept after `skip`. */
  readonly take: number;
}

/** A segment of an object: its plaintext size and nonce. */
export interface SseSegment {
  readonly size: number;
  readonly nonce: Buffer;
}

/** The stored bytes a plaintext range needs, and the chunks they hold in order. */
export interface RangePlan {
  readonly storedOffset: number;
  readonly storedLength: number;
  readonly steps: () => Generator<ChunkStep>;
}

/** Plans reading plaintext [offset, offset + length) of an object made of `segments`. */
export function planRange(segments: readonly SseSegment[], offset: number, length: number): RangePlan {
  const end = offset + length;
  let plainAt = 0;
  let storedAt = 0;
  let storedOffset = -1;
  let storedEnd = 0;
  const touched: { seg: SseSegment; plainStart: number; first: number; lastChunk: number }[] = [];
  for (const seg of segments) {
    const segEnd = plainAt + seg.size;
    const chunks = Math.max(1, Math.ceil(seg.size / SSE_CHUNK_BYTES));
    // An empty range of an empty object still reads (and checks) its one empty chunk.
    const overlaps = length === 0 ? seg.size === 0 && plainAt === offset : plainAt < end && segEnd > offset;
    if (overlaps) {
      const first = Math.floor(Math.max(0, offset - plainAt) / SSE_CHUNK_BYTES);
      const lastChunk = Math.min(
        chunks - 1,
        Math.floor((Math.min(end, segEnd) - 1 - plainAt) / SSE_CHUNK_BYTES),
      );
      const lc = Math.max(first, lastChunk);
      const from = storedAt + first * (SSE_CHUNK_BYTES + SSE_TAG_BYTES);
      const to =
        storedAt + Math.min(storedSegmentSize(seg.size), (lc + 1) * (SSE_CHUNK_BYTES + SSE_TAG_BYTES));
      if (storedOffset < 0) storedOffset = from;
      storedEnd = to;
      touched.push({ seg, plainStart: plainAt, first, lastChunk: lc });
    }
    plainAt = segEnd;
    storedAt += storedSegmentSize(seg.size);
  }
  if (storedOffset < 0) return { storedOffset: 0, storedLength: 0, steps: function* () {} };
  return {
    storedOffset,
    storedLength: storedEnd - storedOffset,
    steps: function* () {
      for (const t of touched) {
        const chunks = Math.max(1, Math.ceil(t.seg.size / SSE_CHUNK_BYTES));
        for (let i = t.first; i <= t.lastChunk; i++) {
          const chunkStart = t.plainStart + i * SSE_CHUNK_BYTES;
          const plainBytes = Math.min(SSE_CHUNK_BYTES, t.seg.size - i * SSE_CHUNK_BYTES);
          const skip = Math.max(0, offset - chunkStart);
          const take = Math.max(0, Math.min(chunkStart + plainBytes, end) - chunkStart - skip);
          yield { nonce: t.seg.nonce, index: i, last: i === chunks - 1, plainBytes, skip, take };
        }
      }
    },
  };
}

/** Stored bytes of a planned range in, the plaintext of the range out (checked chunk by chunk). */
export class OpenStream extends Transform {
  private readonly steps: Generator<ChunkStep>;
  private step: IteratorResult<ChunkStep>;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly key: Buffer,
    plan: RangePlan,
  ) {
    super({ highWaterMark: 4 * SSE_CHUNK_BYTES });
    this.steps = plan.steps();
    this.step = this.steps.next();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    try {
      this.drain();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.drain();
      if (!this.step.done || this.pendingBytes > 0)
        throw new S3Error(
          'InternalError',
          'The stored object is shorter or longer than its encryption record',
        );
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private drain(): void {
    while (!this.step.done) {
      const s = this.step.value;
      const need = s.plainBytes + SSE_TAG_BYTES;
      if (this.pendingBytes < need) return;
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      const plain = openChunk(this.key, s.nonce, s.index, s.last, all.subarray(0, need));
      const rest = all.subarray(need);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      if (s.take > 0) this.push(plain.subarray(s.skip, s.skip + s.take));
      this.step = this.steps.next();
    }
  }
}

/** The plaintext of a planned range from its stored bytes held in one buffer (small reads). */
export function openBuffer(key: Buffer, plan: RangePlan, stored: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (const s of plan.steps()) {
    const need = s.plainBytes + SSE_TAG_BYTES;
    if (at + need > stored.length)
      throw new S3Error('InternalError', 'The stored object is shorter than its encryption record');
    const plain = openChunk(key, s.nonce, s.index, s.last, stored.subarray(at, at + need));
    at += need;
    if (s.take > 0) out.push(plain.subarray(s.skip, s.skip + s.take));
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}
