/**
 * The thread side of page-read-thread.ts: reads a whole page file with plain syscalls, checks it
 * (page-file.ts), and answers with the buffer transferred (no copy) or, when the caller lent
 * shared memory to read into (`into`), with nothing but "done". Sync calls are right here: this
 * thread has no event loop to keep free.
 *
 * The payload CRC-32 is computed once per page file per process while the file's identity
 * (device, inode, size, ctime and mtime, in ns, of the opened descriptor) is unchanged; every
 * read still checks the header (magic, header CRC, index, length). Page files are never written
 * in place by Strata — a page is written to a temporary name and renamed, an overwrite writes
 * new files — so an unchanged identity means unchanged bytes for everything Strata (or any
 * write(2) on the file) does: any write changes ctime and mtime, a replacement changes the
 * inode. What this does not catch: the media changing bytes under an unchanged inode while
 * this process runs; the next process (or the worker's own read after its restart, or
 * `load --verify`) checks again.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { pageChecksum } from '../cache/checksum.js';
import { decodePageHeader, isSealedHeader, PAGE_HEADER_BYTES, splitPageFile } from '../cache/page-file.js';

export interface PageReadRequest {
  readonly id: number;
  readonly file: string;
  readonly index: number;
  readonly length: number;
  /** Read the file into this memory (at least header + length bytes from `offset`). */
  readonly into?: { readonly buffer: SharedArrayBuffer; readonly offset: number };
  /**
   * Only payload bytes [from, to) are wanted: a file trusted here (checked before, identity
   * unchanged) is then read as its header and that range only. Not with `into`.
   */
  readonly range?: { readonly from: number; readonly to: number };
}

/** `buffer`: the payload (or the asked range of it) is bytes [start, start + length) of it. */
export type PageReadReply =
  | {
      readonly id: number;
      readonly buffer: ArrayBuffer;
      readonly start: number;
      readonly length: number;
      readonly verified: boolean;
    }
  | { readonly id: number; readonly into: true; readonly verified: boolean }
  | { readonly id: number; readonly reason: string };

/** Page files whose payload passed its CRC here, by path: the identity they had then. */
const verified = new Map<string, string>();
/** Entries kept at most (oldest forgotten first: forgetting only costs a CRC). */
const MAX_VERIFIED = 65_536;

function identityOf(fd: number): { size: number; identity: string } {
  const st = fstatSync(fd, { bigint: true });
  return { size: Number(st.size), identity: `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}` };
}

function readPage(r: PageReadRequest): PageReadReply {
  const size = PAGE_HEADER_BYTES + r.length;
  let fd: number;
  try {
    fd = openSync(r.file, 'r');
  } catch (err) {
    return { id: r.id, reason: (err as NodeJS.ErrnoException).code ?? 'open failed' };
  }
  try {
    // Taken before the read: a write during the read changes it, so the next read checks again.
    const { size: fileSize, identity } = identityOf(fd);
    if (fileSize !== size) return { id: r.id, reason: 'length' };
    const trusted = verified.get(r.file) === identity;
    if (trusted && r.range !== undefined && r.into === undefined) return readTrustedRange(r, fd);
    // Shared memory lent by the caller, or its own ArrayBuffer (transferable); not zero-filled:
    // every byte is read over.
    const view =
      r.into === undefined ? Buffer.allocUnsafeSlow(size) : Buffer.from(r.into.buffer, r.into.offset, size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, view, off, size - off, off);
      if (n === 0) return { id: r.id, reason: 'short file' };
      off += n;
    }
    const parts = splitPageFile(
      view,
      r.index,
      trusted ? { body: 'trusted', header: pageChecksum(view.subarray(0, 28)) } : undefined,
    );
    if (typeof parts === 'string') {
      verified.delete(r.file);
      return { id: r.id, reason: parts };
    }
    if (isSealedHeader(parts.header)) return { id: r.id, reason: 'sealed' };
    if (parts.body.length !== r.length) return { id: r.id, reason: 'length' };
    if (!trusted) {
      if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!);
      verified.set(r.file, identity);
    }
    if (r.into !== undefined) return { id: r.id, into: true, verified: !trusted };
    const from = r.range?.from ?? 0;
    const to = r.range?.to ?? r.length;
    return {
      id: r.id,
      buffer: view.buffer as ArrayBuffer,
      start: PAGE_HEADER_BYTES + from,
      length: to - from,
      verified: !trusted,
    };
  } catch (err) {
    return { id: r.id, reason: (err as NodeJS.ErrnoException).code ?? String(err) };
  } finally {
    closeSync(fd);
  }
}

/** Fills `buf` from the file at `position`; false if the file ended first. */
function readFully(fd: number, buf: Buffer, position: number): boolean {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) return false;
    off += n;
  }
  return true;
}

/**
 * A payload range of a trusted file: the header (checked as always: magic, header CRC, index,
 * length, not sealed) and the range's bytes, nothing else — a 4 KiB range of a 1 MiB page reads
 * 4 KiB, not the page.
 */
function readTrustedRange(r: PageReadRequest, fd: number): PageReadReply {
  const { from, to } = r.range!;
  if (!(from >= 0 && from <= to && to <= r.length)) return { id: r.id, reason: 'range' };
  const head = Buffer.allocUnsafe(PAGE_HEADER_BYTES);
  const view = Buffer.allocUnsafeSlow(to - from);
  if (!readFully(fd, head, 0) || !readFully(fd, view, PAGE_HEADER_BYTES + from))
    return { id: r.id, reason: 'short file' };
  const header = decodePageHeader(head);
  if (typeof header === 'string') {
    verified.delete(r.file);
    return { id: r.id, reason: header };
  }
  if (header.index !== r.index || header.length !== r.length) return { id: r.id, reason: 'index or length' };
  if (isSealedHeader(header)) return { id: r.id, reason: 'sealed' };
  return { id: r.id, buffer: view.buffer as ArrayBuffer, start: 0, length: view.length, verified: false };
}

parentPort?.on('message', (r: PageReadRequest) => {
  const reply = readPage(r);
  if ('buffer' in reply) parentPort!.postMessage(reply, [reply.buffer]);
  else parentPort!.postMessage(reply);
});
