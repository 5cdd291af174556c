/**
 * Small file operations (whole reads and writes of a few KiB) on one helper thread, coalesced.
 *
 * Why: a page write through fs/promises is three libuv threadpool round trips (open, writev,
 * close) and a small store read four (realpath, open, read, close). Each round trip wakes a pool
 * thread and then the event loop, and on a 2-core VM those wake-ups, not the syscalls, were the
 * cost: a job loading 4 KiB files spent ~40 % of its samples in futex waits and context switches
 * (perf), ~30 futex calls per file. Here every operation asked for in one turn of the event loop
 * goes to the thread in one message, runs there as plain syscalls, and comes back in one reply.
 *
 * Large transfers of a store keep using fs/promises (bandwidth, not wake-ups, is their cost);
 * callers pass at most MAX_IO_THREAD_BYTES per store read. Page files of the disk tier (up to
 * MAX_IO_THREAD_PAGE_BYTES) go through here too, with their CRC-32s computed on this thread
 * (`crc32` of a read, `fill` of a write): a 1 MiB page through fs/promises cost three to five
 * pool round trips and a 0.35 ms checksum on the event loop, measured as most of a cold GET's
 * main-thread time (issue 15). A write's bytes are copied into the message (~0.05 ms a MiB); a
 * read's come back in a buffer the thread allocated and transferred (no copy).
 */
import { Worker } from 'node:worker_threads';

/** Largest store read worth sending to the thread (the store's larger reads stream instead). */
export const MAX_IO_THREAD_BYTES = 256 * 1024;
/** Largest operation the thread takes: a page file of the largest page size. */
export const MAX_IO_THREAD_PAGE_BYTES = 64 * 1024 * 1024 + 4096;

/** CRC-32 (zlib's) of bytes [from, to) of an operation's data. */
export interface CrcRange {
  readonly from: number;
  readonly to: number;
}

/** Before a write: the CRC-32 of [from, to) of its data is stored at `at` (u32 LE). In order. */
export interface CrcFill extends CrcRange {
  readonly at: number;
}
/** Messages sent before the thread has answered the first: more ops wait for the next turn. */
const MAX_IN_FLIGHT = 2;

/** Reads `length` bytes at `offset` of a regular file; with `root`, only if the file opened lies under `root`. */
export interface ReadOp {
  readonly kind: 'read';
  readonly path: string;
  readonly offset: number;
  readonly length: number;
  readonly root?: string;
  /** Only a file of exactly offset + length bytes is read; any other size answers `fallback`. */
  readonly exact?: boolean;
  /** CRC-32s of these ranges of the bytes read, answered as `crcs`. */
  readonly crc32?: readonly CrcRange[];
  /** More ranges, computed (after `crc32`'s) only when the file's ctime is not `ctimeMs`. */
  readonly crc32Unless?: { readonly ctimeMs: number; readonly ranges: readonly CrcRange[] };
  /** Read into this memory (at least `length` bytes) instead of a new buffer; answered as `into: true`. */
  readonly into?: { readonly buffer: SharedArrayBuffer; readonly offset: number };
}

/**
 * Writes a whole file (creating it, or its parent with `makeParent`), then renames it if asked.
 * Its data is [dataOffset, dataOffset + dataLength) of the message's payload followed by
 * `shared` (bytes of a SharedArrayBuffer, handed over without a copy), if any.
 */
export interface WriteOp {
  readonly kind: 'write';
  readonly path: string;
  readonly dataOffset: number;
  readonly dataLength: number;
  readonly shared?: { readonly buffer: SharedArrayBuffer; readonly offset: number; readonly length: number };
  readonly makeParent: boolean;
  readonly fsync: boolean;
  readonly renameTo?: string;
  /**
   * Checksums computed into the data before it is written (offsets within this write's data;
   * each `at` within the payload part).
   */
  readonly fill?: readonly CrcFill[];
}

/** stat(2) of a path (following symlinks). */
export interface StatOp {
  readonly kind: 'stat';
  readonly path: string;
}

export type IoOp = ReadOp | WriteOp | StatOp;

/** What a stat answers: the parts of fs.Stats a store status needs. */
export interface ThreadStat {
  readonly type: 'file' | 'directory' | 'other';
  readonly size: number;
  readonly mtimeMs: number;
}

/** `fallback`: the operation did not apply (not a regular file, short, outside root): use the slow path. */
export type IoResult =
  | {
      readonly data?: ArrayBuffer;
      readonly stat?: ThreadStat;
      readonly crcs?: readonly number[];
      /** The file's ctime (st_ctime in ms) when it was read: changes with every write to it. */
      readonly ctimeMs?: number;
      readonly into?: true;
      readonly fallback?: true;
      readonly error?: undefined;
    }
  | { readonly error: { readonly code: string; readonly message: string } };

/** A slice of IoRequest.shared[buffer]. */
export interface SharedRef {
  readonly buffer: number;
  readonly offset: number;
  readonly length: number;
}

/** An op as it travels: its SharedArrayBuffers named by their index in IoRequest.shared. */
export type WireOp =
  | (Omit<ReadOp, 'into'> & { readonly into?: SharedRef })
  | (Omit<WriteOp, 'shared'> & { readonly shared?: SharedRef })
  | StatOp;

/**
 * One message to the thread. The ops travel as one JSON string: the structured clone of ~30
 * small objects of mixed shapes cost the event loop ~12 µs an op (postMessage was 7 % of a
 * small-file load's main thread), a string is copied whole.
 */
export interface IoRequest {
  readonly id: number;
  /** JSON of WireOp[]. */
  readonly ops: string;
  readonly shared: readonly SharedArrayBuffer[];
  /** Every write's bytes, one after another (a write op names its slice). */
  readonly payload: ArrayBuffer;
}

export interface IoReply {
  readonly id: number;
  readonly results: IoResult[];
}

/** What a read answers: the bytes, or undefined when the caller must take its slow path. */
export type ThreadRead = Buffer | undefined;

/** A checked read: the bytes, the CRC-32s asked for and the file's ctime; undefined: size differs, not a file. */
export type ThreadCheckedRead =
  | { readonly data: Buffer; readonly crcs: readonly number[]; readonly ctimeMs: number }
  | undefined;

interface Pending {
  readonly op: IoOp;
  readonly chunks?: readonly Buffer[];
  readonly bytes: number;
  readonly resolve: (r: IoResult) => void;
  readonly reject: (err: Error) => void;
}

export interface IoThreadStats {
  readonly messages: number;
  readonly ops: number;
}

export class IoThread {
  private worker: Worker | undefined;
  private queue: Pending[] = [];
  private readonly inFlight = new Map<number, Pending[]>();
  private nextId = 1;
  private scheduled = false;
  private messages = 0;
  private ops = 0;

  /** `length` bytes at `offset`; undefined when the file is not a regular file holding them all (or escapes `root`). */
  async read(path: string, offset: number, length: number, root?: string): Promise<ThreadRead> {
    checkSize(length, MAX_IO_THREAD_BYTES);
    const op: ReadOp =
      root === undefined
        ? { kind: 'read', path, offset, length }
        : { kind: 'read', path, offset, length, root };
    const r = await this.submit(op);
    if (r.error) throw errnoError(r.error, path);
    return r.data === undefined ? undefined : Buffer.from(r.data);
  }

  /**
   * The whole of a file that must be exactly `length` bytes, with the CRC-32s of `ranges`
   * computed on the thread; undefined when it has another size or is not a regular file.
   */
  async readChecked(
    path: string,
    length: number,
    ranges: readonly CrcRange[],
    /** Read into this (a shareableBuffer of at least `length` bytes): the answer is a view of it. */
    into?: Buffer,
    /** Ranges checksummed too unless the file's ctime is still this one (answered after `ranges`'). */
    unless?: { readonly ctimeMs: number; readonly ranges: readonly CrcRange[] },
  ): Promise<ThreadCheckedRead> {
    checkSize(length, MAX_IO_THREAD_PAGE_BYTES);
    const target =
      into !== undefined && into.buffer instanceof SharedArrayBuffer && into.length >= length
        ? { buffer: into.buffer, offset: into.byteOffset }
        : undefined;
    const op: ReadOp = {
      kind: 'read',
      path,
      offset: 0,
      length,
      exact: true,
      crc32: ranges,
      ...(unless === undefined ? {} : { crc32Unless: unless }),
    };
    const r = await this.submit(target === undefined ? op : { ...op, into: target });
    if (r.error) throw errnoError(r.error, path);
    const ctimeMs = r.ctimeMs ?? Number.NaN;
    if (r.into === true) return { data: into!.subarray(0, length), crcs: r.crcs ?? [], ctimeMs };
    if (r.data === undefined) return undefined;
    return { data: Buffer.from(r.data), crcs: r.crcs ?? [], ctimeMs };
  }

  /** stat(2) of `path`, following symlinks; throws the errno as fs/promises would. */
  async stat(path: string): Promise<ThreadStat> {
    const r = await this.submit({ kind: 'stat', path });
    if (r.error) throw errnoError(r.error, path);
    if (r.stat === undefined) throw errnoError({ code: 'EIO', message: `no stat of ${path}` }, path);
    return r.stat;
  }

  /** Writes `chunks` as the whole content of `path`; with `renameTo`, then renames it there. */
  async write(
    path: string,
    chunks: readonly Buffer[],
    options: { makeParent?: boolean; fsync?: boolean; renameTo?: string; fill?: readonly CrcFill[] } = {},
  ): Promise<void> {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    checkSize(total, MAX_IO_THREAD_PAGE_BYTES);
    const op: WriteOp = {
      kind: 'write',
      path,
      dataOffset: 0,
      dataLength: total,
      makeParent: options.makeParent === true,
      fsync: options.fsync === true,
      ...(options.renameTo === undefined ? {} : { renameTo: options.renameTo }),
      ...(options.fill === undefined ? {} : { fill: options.fill }),
    };
    const r = await this.submit(op, chunks, total);
    if (r.error) throw errnoError(r.error, path);
  }

  stats(): IoThreadStats {
    return { messages: this.messages, ops: this.ops };
  }

  /** Stops the thread (tests; a process exits without it, the thread is unref'd while idle). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private submit(op: IoOp, chunks?: readonly Buffer[], bytes = 0): Promise<IoResult> {
    return new Promise<IoResult>((resolve, reject) => {
      this.queue.push(
        chunks === undefined ? { op, bytes, resolve, reject } : { op, chunks, bytes, resolve, reject },
      );
      if (!this.scheduled) {
        this.scheduled = true;
        // After this turn's I/O callbacks: every op they ask for goes in one message.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.queue.length === 0 || this.inFlight.size >= MAX_IN_FLIGHT) return;
    const batch = this.queue;
    this.queue = [];
    let bytes = 0;
    for (const p of batch) bytes += p.bytes - (sharedTail(p.chunks)?.length ?? 0);
    const payload = new ArrayBuffer(bytes);
    const view = Buffer.from(payload);
    let off = 0;
    const shared: SharedArrayBuffer[] = [];
    const indexOf = new Map<SharedArrayBuffer, number>();
    const ref = (buffer: SharedArrayBuffer, offset: number, length: number): SharedRef => {
      let i = indexOf.get(buffer);
      if (i === undefined) {
        i = shared.push(buffer) - 1;
        indexOf.set(buffer, i);
      }
      return { buffer: i, offset, length };
    };
    const ops = batch.map((p): WireOp => {
      const op = p.op;
      if (op.kind === 'read') {
        if (op.into === undefined) return op as Omit<ReadOp, 'into'>;
        return { ...op, into: ref(op.into.buffer, op.into.offset, op.length) };
      }
      if (op.kind !== 'write') return op;
      if (p.chunks === undefined) return op as Omit<WriteOp, 'shared'>;
      const tail = sharedTail(p.chunks);
      const copied = tail === undefined ? p.chunks : p.chunks.slice(0, -1);
      const start = off;
      for (const c of copied) off += c.copy(view, off);
      const { shared: _none, ...plain } = op;
      if (tail === undefined) return { ...plain, dataOffset: start };
      const tailRef = ref(tail.buffer as SharedArrayBuffer, tail.byteOffset, tail.length);
      return { ...plain, dataOffset: start, dataLength: off - start, shared: tailRef };
    });
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    this.messages++;
    this.ops += batch.length;
    const w = this.thread();
    w.ref();
    w.postMessage({ id, ops: JSON.stringify(ops), shared, payload } satisfies IoRequest, [payload]);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // No flags of the parent: several are refused in a worker's execArgv (--input-type,
    // --max-old-space-size and other process-wide V8 flags) and the thread needs none.
    const w = new Worker(new URL('./io-thread-worker.js', import.meta.url), { execArgv: [] });
    w.on('message', (reply: IoReply) => {
      const batch = this.inFlight.get(reply.id);
      this.inFlight.delete(reply.id);
      if (this.inFlight.size === 0 && this.queue.length === 0) w.unref();
      if (batch) for (const [i, p] of batch.entries()) p.resolve(reply.results[i] ?? { fallback: true });
      this.flush();
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      const lost = [...this.inFlight.values()].flat();
      this.inFlight.clear();
      for (const p of lost) p.reject(err);
      this.flush();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`I/O thread exited with code ${code}`)));
    w.unref();
    this.worker = w;
    return w;
  }
}

function checkSize(n: number, max: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > max)
    throw new RangeError(`this I/O thread operation carries at most ${max} bytes, not ${n}`);
}

/** The thread's errno as the Error fs/promises would have thrown (code, path). */
function errnoError(e: { code: string; message: string }, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(e.message);
  err.code = e.code;
  err.path = path;
  return err;
}

/** Smallest last chunk of a write handed to the thread by reference rather than copied. */
const SHARE_MIN_BYTES = 16 * 1024;

/**
 * A buffer of `n` bytes that a write through the I/O thread takes without copying it (its
 * memory is a SharedArrayBuffer, zero-filled): for page buffers filled once and never changed.
 */
export function shareableBuffer(n: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(n));
}

/** The last chunk of a write, when it can travel by reference (see shareableBuffer). */
function sharedTail(chunks: readonly Buffer[] | undefined): Buffer | undefined {
  const last = chunks?.[chunks.length - 1];
  return last !== undefined && last.length >= SHARE_MIN_BYTES && last.buffer instanceof SharedArrayBuffer
    ? last
    : undefined;
}

/** The process's one I/O thread (started on first use). */
export const ioThread = new IoThread();
