import { Worker } from 'node:worker_threads';
import { PAGE_HEADER_BYTES } from '../cache/page-file.js';
import type { PageReadReply, PageReadRequest } from './page-read-worker.js';

/**
 * Large page files read and checked on a helper thread (page-read-worker.ts): the read syscall
 * and the CRC-32 of a 1 MiB page (~0.2 ms each here) then cost the event loop one message,
 * not both — on 2 cores, the difference between a short-circuit read slower than the RPC's
 * copy and one near the in-process read. The bytes come back in the shared buffer the caller
 * lent (`into`, a pool buffer: no allocation, no page faults), or in a buffer transferred.
 */
class PageReadThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { into: Buffer | undefined; length: number; resolve: (b: Buffer | undefined) => void }
  >();
  /** Pages whose payload CRC the thread computed, and pages it trusted (checked before, unchanged). */
  private readonly counts = { payloadChecks: 0, trusted: 0 };

  /**
   * The checked payload of page `index` (`length` bytes), or undefined for any problem. `into`:
   * SharedArrayBuffer-backed memory of at least header + length bytes the file is read into
   * (the answer is then a view of its payload; the caller must not touch it until this settles).
   * `range`: a file checked before in this process and unchanged is read as its header and those
   * bytes only.
   */
  read(
    file: string,
    index: number,
    length: number,
    into?: Buffer,
    /** Only payload bytes [from, to) are wanted (the answer is those); not with `into`. */
    range?: { readonly from: number; readonly to: number },
  ): Promise<Buffer | undefined> {
    const shared =
      into !== undefined &&
      into.buffer instanceof SharedArrayBuffer &&
      into.length >= PAGE_HEADER_BYTES + length
        ? into
        : undefined;
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, { into: shared, length, resolve });
      const w = this.thread();
      w.ref();
      const req: PageReadRequest =
        shared === undefined
          ? range === undefined
            ? { id, file, index, length }
            : { id, file, index, length, range: { from: range.from, to: range.to } }
          : {
              id,
              file,
              index,
              length,
              into: { buffer: shared.buffer as SharedArrayBuffer, offset: shared.byteOffset },
            };
      w.postMessage(req);
    });
  }

  stats(): { payloadChecks: number; trusted: number } {
    return { ...this.counts };
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./page-read-worker.js', import.meta.url), { execArgv: [] });
    w.on('message', (reply: PageReadReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) w.unref();
      if (waiter === undefined) return;
      if ('reason' in reply) {
        waiter.resolve(undefined);
        return;
      }
      if (reply.verified) this.counts.payloadChecks++;
      else this.counts.trusted++;
      if ('buffer' in reply) waiter.resolve(Buffer.from(reply.buffer, reply.start, reply.length));
      else waiter.resolve(waiter.into!.subarray(PAGE_HEADER_BYTES, PAGE_HEADER_BYTES + waiter.length));
    });
    const fail = (): void => {
      if (this.worker === w) this.worker = undefined;
      // Whatever was asked goes over the RPC instead.
      for (const { resolve } of this.waiting.values()) resolve(undefined);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', fail);
    w.unref();
    this.worker = w;
    return w;
  }
}

/** The process's page-read thread (started on first use). */
export const pageReadThread = new PageReadThread();
