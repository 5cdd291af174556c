/**
 * The thread side of page-read-thread.ts: reads a whole page file with plain syscalls, checks it
 * (page-file.ts), and sends the buffer back transferred (no copy). Sync calls are right here:
 * this thread has no event loop to keep free.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { isSealedHeader, PAGE_HEADER_BYTES, splitPageFile } from '../cache/page-file.js';

export interface PageReadRequest {
  readonly id: number;
  readonly file: string;
  readonly index: number;
  readonly length: number;
}

export type PageReadReply =
  | { readonly id: number; readonly buffer: ArrayBuffer }
  | { readonly id: number; readonly reason: string };

function readPage(r: PageReadRequest): PageReadReply {
  const size = PAGE_HEADER_BYTES + r.length;
  let fd: number;
  try {
    fd = openSync(r.file, 'r');
  } catch (err) {
    return { id: r.id, reason: (err as NodeJS.ErrnoException).code ?? 'open failed' };
  }
  try {
    // Its own ArrayBuffer (transferable), not zero-filled: every byte is read over.
    const view = Buffer.allocUnsafeSlow(size);
    const buffer = view.buffer as ArrayBuffer;
    let off = 0;
    while (off < size) {
      const n = readSync(fd, view, off, size - off, off);
      if (n === 0) return { id: r.id, reason: 'short file' };
      off += n;
    }
    const parts = splitPageFile(view, r.index);
    if (typeof parts === 'string') return { id: r.id, reason: parts };
    if (isSealedHeader(parts.header)) return { id: r.id, reason: 'sealed' };
    if (parts.body.length !== r.length) return { id: r.id, reason: 'length' };
    return { id: r.id, buffer };
  } catch (err) {
    return { id: r.id, reason: (err as NodeJS.ErrnoException).code ?? String(err) };
  } finally {
    closeSync(fd);
  }
}

parentPort?.on('message', (r: PageReadRequest) => {
  const reply = readPage(r);
  if ('buffer' in reply) parentPort!.postMessage(reply, [reply.buffer]);
  else parentPort!.postMessage(reply);
});
