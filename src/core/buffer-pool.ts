import type { Readable } from 'node:stream';
import { shareableBuffer } from './io-thread.js';

/**
 * Page-sized buffers lent out and taken back, so a warm read from the disk tier reads each page
 * into memory that served an earlier page instead of allocating 1 MiB (and, at a GB/s, paying
 * a full garbage collection every few dozen pages for the external memory).
 *
 * Why it cannot hand one reader another's bytes:
 * - a buffer is lent to one taker; only `give` of a buffer that is lent right now puts it back,
 *   so giving it twice, or giving one never lent, does nothing;
 * - a taker gives it back only when nothing will read it again: the response writer, once the
 *   socket has taken the bytes (sendStream, on a write's successful callback);
 * - a buffer never given back is simply garbage (the lent set holds it weakly): forgetting is
 *   safe, only a release too early is not.
 * The buffers are SharedArrayBuffer-backed, so the I/O thread reads page files straight into them.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly lent = new WeakMap<ArrayBufferLike, Buffer>();
  private taken = 0;
  private reused = 0;

  constructor(
    /** Bytes of every buffer. */
    readonly size: number,
    /** Buffers kept while nobody uses them (the pool's bound: size × maxIdle bytes). */
    readonly maxIdle = 16,
  ) {}

  take(): Buffer {
    const buf = this.free.pop();
    this.taken++;
    if (buf !== undefined) this.reused++;
    const out = buf ?? shareableBuffer(this.size);
    this.lent.set(out.buffer, out);
    return out;
  }

  /** Takes back the buffer `chunk` is a view of, if it is one of this pool's and lent now. */
  give(chunk: Uint8Array): void {
    const buf = this.lent.get(chunk.buffer);
    if (buf === undefined) return;
    this.lent.delete(chunk.buffer);
    if (this.free.length < this.maxIdle) this.free.push(buf);
  }

  /** Buffers taken, and how many of those were reused (tests). */
  stats(): { taken: number; reused: number; idle: number } {
    return { taken: this.taken, reused: this.reused, idle: this.free.length };
  }
}

/**
 * A stream whose chunks may be pooled buffers: its consumer calls `stream[RELEASE_CHUNK](chunk)`
 * once it will never read that chunk again (sendStream does, after the socket took it). A
 * consumer that never calls it is correct too (the buffers are not reused).
 */
export const RELEASE_CHUNK = Symbol('strata.releaseChunk');

export type ReleasingReadable = Readable & { [RELEASE_CHUNK]?: (chunk: Buffer) => void };
