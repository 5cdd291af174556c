import { Worker } from 'node:worker_threads';
import { PAGE_HEADER_BYTES } from '../cache/page-file.js';
import type { PageReadReply, PageReadRequest } from './page-read-worker.js';

/**
 * Large page files read and checked on a helper thread (page-read-worker.ts): the read syscall
 * and the CRC-32 of a 1 MiB page (~0.2 ms each here) then cost the event loop one message,
 * not both — on 2 cores, the difference between a short-circuit read slower than the RPC's
 * copy and one near the in-process read. The buffer comes back transferred (no copy).
 */
class PageReadThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (payload: Buffer | undefined) => void>();

  /** The checked payload of page `index` (`length` bytes), or undefined for any problem. */
  read(file: string, index: number, length: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, resolve);
      const w = this.thread();
      w.ref();
      w.postMessage({ id, file, index, length } satisfies PageReadRequest);
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./page-read-worker.js', import.meta.url), { execArgv: [] });
    w.on('message', (reply: PageReadReply) => {
      const resolve = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) w.unref();
      resolve?.('buffer' in reply ? Buffer.from(reply.buffer, PAGE_HEADER_BYTES) : undefined);
    });
    const fail = (): void => {
      if (this.worker === w) this.worker = undefined;
      // Whatever was asked goes over the RPC instead.
      for (const resolve of this.waiting.values()) resolve(undefined);
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
