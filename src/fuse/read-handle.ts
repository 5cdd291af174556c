import type { Readable } from 'node:stream';
import type { StrataFileSystem } from '../client/types.js';
import { StrataError } from '../core/errors.js';

/**
 * Per-open-file read buffer. Sequential readers get windows that grow from `minWindow` to
 * `maxWindow` and the next window is fetched while the current one is consumed, so 128 KiB kernel
 * reads do not each become an RPC. Random reads fetch exactly what was asked for. Concurrent kernel
 * reads that fall into one window share its single fetch.
 */

export interface ReadHandleOptions {
  readonly minWindow: number;
  readonly maxWindow: number;
  readonly timeoutMs: number;
}

interface Window {
  readonly start: number;
  readonly end: number;
  readonly data: Promise<Buffer>;
}

const MAX_WINDOWS = 4;

export class ReadHandle {
  readonly #fs: StrataFileSystem;
  readonly #size: number;
  readonly #o: ReadHandleOptions;
  #path: string;
  #windows: Window[] = [];
  #next = -1;
  #run = 0;
  #window: number;

  constructor(fs: StrataFileSystem, path: string, size: number, options: ReadHandleOptions) {
    this.#fs = fs;
    this.#path = path;
    this.#size = size;
    this.#o = options;
    this.#window = options.minWindow;
  }

  get path(): string {
    return this.#path;
  }

  set path(p: string) {
    this.#path = p;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.#size || length <= 0) return Buffer.alloc(0);
    const end = Math.min(this.#size, offset + length);
    // Windows only after a run of back-to-back reads: the kernel's readahead of a random reader
    // also looks "next", and fetching megabytes for it wastes the link.
    this.#run = offset === this.#next ? this.#run + 1 : 0;
    const sequential = this.#run >= 2 || this.#find(offset) !== undefined;
    this.#next = end;
    if (!sequential) {
      this.#window = this.#o.minWindow;
      return this.#fetch(offset, end - offset);
    }
    const pieces: Buffer[] = [];
    let pos = offset;
    while (pos < end) {
      const w = this.#find(pos) ?? this.#add(pos);
      const data = await w.data;
      const piece = data.subarray(pos - w.start, Math.min(end, w.end) - w.start);
      pieces.push(piece);
      pos += piece.length;
    }
    this.#prefetch(end);
    this.#drop(offset);
    return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  }

  #find(pos: number): Window | undefined {
    return this.#windows.find((w) => w.start <= pos && pos < w.end);
  }

  #add(start: number): Window {
    const end = Math.min(this.#size, start + this.#window);
    this.#window = Math.min(this.#o.maxWindow, this.#window * 2);
    const w: Window = { start, end, data: this.#fetch(start, end - start) };
    // A failed window is forgotten so the next read retries instead of repeating the error.
    w.data.catch(() => {
      this.#windows = this.#windows.filter((x) => x !== w);
    });
    this.#windows.push(w);
    if (this.#windows.length > MAX_WINDOWS) this.#windows.shift();
    return w;
  }

  /** Starts the next window once the reader is past the middle of the last one. */
  #prefetch(pos: number): void {
    const last = this.#windows.reduce<Window | undefined>((a, w) => (a && a.end >= w.end ? a : w), undefined);
    if (!last || last.end >= this.#size) return;
    if (pos >= last.start + (last.end - last.start) / 2 && !this.#find(last.end)) this.#add(last.end);
  }

  /** Forgets windows wholly behind the reader. */
  #drop(pos: number): void {
    if (this.#windows.length <= 2) return;
    this.#windows = this.#windows.filter((w) => w.end > pos);
  }

  async #fetch(offset: number, length: number): Promise<Buffer> {
    const stream = await this.#fs.read(this.#path, {
      offset,
      length,
      signal: AbortSignal.timeout(this.#o.timeoutMs),
    });
    return collect(stream, length, this.#path);
  }
}

/** Reads a stream of known length into one buffer (one copy). */
export async function collect(stream: Readable, length: number, path: string): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (n + chunk.length > length) {
      stream.destroy();
      throw new StrataError('FINGERPRINT_CHANGED', `${path} returned more bytes than asked for`);
    }
    chunk.copy(out, n);
    n += chunk.length;
  }
  if (n !== length)
    throw new StrataError('FINGERPRINT_CHANGED', `${path} ended after ${n} of ${length} bytes (changed?)`);
  return out;
}
