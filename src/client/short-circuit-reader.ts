import { isSealedHeader, PAGE_HEADER_BYTES, splitPageFile } from '../cache/page-file.js';
import { BufferPool } from '../core/buffer-pool.js';
import { ioThread, MAX_IO_THREAD_BYTES } from '../core/io-thread.js';
import type { PageLocation } from '../core/page-location.js';
import { pageReadThread } from './page-read-thread.js';

/**
 * Short-circuit reads: a client on the same host as a file's owner reads the owner's page files
 * itself (their paths come from GET /rpc/v1/locate) instead of receiving the bytes over the
 * RPC. Each page is checked exactly as the worker checks it — magic, header CRC, page index,
 * length, payload CRC-32 (page-file.ts) — and a page that is missing (evicted, moved to another
 * tier), unreadable (another user's files), sealed or bad makes the whole read undefined: the
 * caller then reads over the RPC. No sync I/O on the event loop: a small page is one round trip
 * to the I/O thread (src/core/io-thread.ts), a large one is read and checked on the page-read
 * thread (page-read-thread.ts).
 *
 * A stream's large pages are read into pool buffers (core/buffer-pool.ts), given back only by
 * the stream's consumer through RELEASE_CHUNK once it will never read the chunk again
 * (sendStream: after the socket took it) — or here, for a page that was never handed out.
 */

/** Pools of page-file buffers, by buffer size (header + page size). */
const pools = new Map<number, BufferPool>();

/** The pool for pages of `pageSize` bytes. */
export function pagePool(pageSize: number): BufferPool {
  const size = PAGE_HEADER_BYTES + pageSize;
  let p = pools.get(size);
  if (p === undefined) {
    p = new BufferPool(size);
    pools.set(size, p);
  }
  return p;
}

/** Gives back the pool buffer `chunk` is a view of (a stream's RELEASE_CHUNK); others: nothing. */
export function releasePageChunk(chunk: Buffer): void {
  pools.get(chunk.buffer.byteLength)?.give(chunk);
}

/**
 * The payload of page `index` of the located file (a view of what was read) — with `range`, only
 * payload bytes [from, to) of it — or undefined.
 */
export async function readPageFile(
  file: string,
  index: number,
  length: number,
  /** A large page is read into this shared memory (header + length bytes) when given. */
  into?: Buffer,
  range?: { readonly from: number; readonly to: number },
): Promise<Buffer | undefined> {
  const size = PAGE_HEADER_BYTES + length;
  // A large page: read and checked on the page-read thread, off the event loop; a range of a
  // page it has checked before is read alone (its header and those bytes).
  if (size > MAX_IO_THREAD_BYTES) {
    if (into === undefined) return pageReadThread.read(file, index, length, undefined, range);
    const body = await pageReadThread.read(file, index, length, into);
    return range === undefined ? body : body?.subarray(range.from, range.to);
  }
  let buf: Buffer | undefined;
  try {
    buf = await ioThread.read(file, 0, size);
  } catch {
    return undefined; // ENOENT (evicted, replaced), EACCES (not our files): the RPC serves it
  }
  if (buf === undefined || buf.length !== size) return undefined;
  const parts = splitPageFile(buf, index);
  if (typeof parts === 'string' || isSealedHeader(parts.header) || parts.body.length !== length)
    return undefined;
  return range === undefined ? parts.body : parts.body.subarray(range.from, range.to);
}

/** The pages [first, last] a range covers, when every one of them has a page file; else undefined. */
export function localPages(
  loc: PageLocation,
  offset: number,
  length: number,
): { first: number; last: number; files: readonly (string | null)[] } | undefined {
  const files = loc.files;
  if (files === undefined || length <= 0) return undefined;
  const first = Math.floor(offset / loc.pageSize);
  const last = Math.floor((offset + length - 1) / loc.pageSize);
  if (last >= files.length) return undefined;
  for (let i = first; i <= last; i++) if (files[i] === null || files[i] === undefined) return undefined;
  return { first, last, files };
}

/** Payload length of page `index` of a file of `size` bytes. */
export function pageLength(loc: PageLocation, index: number): number {
  return Math.min(loc.pageSize, loc.info.size - index * loc.pageSize);
}

/** The bytes of [offset, offset+length) in one buffer, from the page files; undefined: use the RPC. */
export async function readRangeLocally(
  loc: PageLocation,
  offset: number,
  length: number,
): Promise<Buffer | undefined> {
  const pages = localPages(loc, offset, length);
  if (pages === undefined) return undefined;
  // Each page's part of the range: all that is read of a large page checked before.
  const parts = await Promise.all(
    Array.from({ length: pages.last - pages.first + 1 }, (_, k) => {
      const i = pages.first + k;
      const start = i * loc.pageSize;
      const len = pageLength(loc, i);
      const from = Math.max(offset, start) - start;
      const to = Math.min(offset + length, start + len) - start;
      return readPageFile(
        pages.files[i]!,
        i,
        len,
        undefined,
        from === 0 && to === len ? undefined : { from, to },
      );
    }),
  );
  if (parts.some((p) => p === undefined)) return undefined;
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts as Buffer[], length);
}

/** Pages read ahead of a streaming consumer (bounded memory: this many pages). */
const STREAM_WINDOW = 8;

/**
 * The range as a stream of page views read from the page files, `STREAM_WINDOW` pages ahead.
 * Yields until a page cannot be read locally, then returns the offset where it stopped (the
 * caller continues over the RPC from there), or `offset + length` when it served everything.
 */
export async function* streamRangeLocally(
  loc: PageLocation,
  offset: number,
  length: number,
): AsyncGenerator<Buffer, number> {
  const pages = localPages(loc, offset, length);
  const end = offset + length;
  if (pages === undefined) return offset;
  const pool = PAGE_HEADER_BYTES + loc.pageSize > MAX_IO_THREAD_BYTES ? pagePool(loc.pageSize) : undefined;
  const window: { read: Promise<Buffer | undefined>; buf: Buffer | undefined }[] = [];
  let next = pages.first;
  const fill = () => {
    while (window.length < STREAM_WINDOW && next <= pages.last) {
      const i = next++;
      const buf = pool?.take();
      window.push({ read: readPageFile(pages.files[i]!, i, pageLength(loc, i), buf), buf });
    }
  };
  let at = offset;
  try {
    for (let i = pages.first; i <= pages.last; i++) {
      fill();
      const slot = window.shift()!;
      const body = await slot.read;
      if (body === undefined) {
        if (slot.buf !== undefined) pool!.give(slot.buf); // the thread is done with it; never handed out
        return at;
      }
      const start = i * loc.pageSize;
      const from = Math.max(at, start) - start;
      const to = Math.min(end, start + body.length) - start;
      yield from === 0 && to === body.length ? body : body.subarray(from, to);
      at = start + to;
    }
    return end;
  } finally {
    // Reads already started: their buffers go back once the thread is done (never handed out).
    for (const slot of window)
      void slot.read.then(
        () => slot.buf !== undefined && pool!.give(slot.buf),
        () => undefined,
      );
  }
}
