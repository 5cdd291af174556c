import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { throwIfAborted } from '../core/abort.js';
import { StrataError } from '../core/errors.js';
import type { ReadOptions } from '../core/file-system.js';
import type { MountRecord } from '../core/mounts.js';
import { isWithin, normalizePath, relativeTo } from '../core/paths.js';
import { DEFAULT_STORE_DEADLINE_MS, deadlineOf, InstrumentedStore } from '../ufs/instrumented-store.js';
import type { UnderStore } from '../ufs/under-store.js';
import { fingerprintOf } from '../ufs/under-store.js';
import { type OwnerRouter, workerFailed } from './owner-router.js';

export type ReadableWithMeta = Readable & { fingerprint?: string; contentLength?: number };

/**
 * A mount's store read directly by the client, when every owner failed and the mount allows it
 * (fallbackToUfs). Stores are opened on first use and kept until close().
 */
export class DirectStoreReader {
  private readonly stores = new Map<string, Promise<UnderStore>>();

  constructor(private readonly loadMounts: (() => Promise<MountRecord[]>) | undefined) {}

  /** The range from the store, or undefined when the path's mount does not allow direct reads. */
  async read(
    p: string,
    offset: number,
    length: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ReadableWithMeta | undefined> {
    const records = (await this.loadMounts?.().catch(() => undefined)) ?? [];
    const mount = records.filter((m) => isWithin(p, m.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!mount?.fallbackToUfs) return undefined;
    let store = this.stores.get(mount.path);
    if (!store) {
      // The same wrapper workers put around their stores: the deadline and the caller's signal
      // bound a direct read too.
      store = import('../ufs/factory.js').then(
        async (f) =>
          new InstrumentedStore(await f.createUnderStore(mount.uri, mount.options), {
            deadlineMs: deadlineOf(mount.options, DEFAULT_STORE_DEADLINE_MS),
          }),
      );
      this.stores.set(mount.path, store);
    }
    const s = await store;
    const ufsPath = relativeTo(p, mount.path);
    const call = signal ? { signal } : {};
    const st = await s.status(ufsPath, call);
    const len = length ?? st.size - offset;
    const stream = await s.read(ufsPath, { offset, length: len, ...call });
    return Object.assign(stream, {
      fingerprint: fingerprintOf(st),
      contentLength: Math.max(0, Math.min(len, st.size - offset)),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.stores.values()].map(async (s) => (await s).close()));
  }
}

/**
 * A read from the path's owners: a dead owner is skipped for the next one; a read that breaks
 * midway resumes at the same byte on the next owner, after checking the content fingerprint is
 * the same; when every owner fails, the store itself if the mount allows it.
 */
export async function resumableRead(
  router: OwnerRouter,
  direct: DirectStoreReader,
  path: string,
  options: ReadOptions,
): Promise<Readable> {
  throwIfAborted(options.signal);
  const p = normalizePath(path);
  const owners = router.tryOrder(p);
  const start = options.offset ?? 0;
  let attempt = 0;
  let last: unknown;
  const open = async (offset: number, length: number | undefined): Promise<ReadableWithMeta> => {
    const opts: ReadOptions = {
      offset,
      ...(length === undefined ? {} : { length }),
      ...(options.readType === undefined ? {} : { readType: options.readType }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    while (attempt < owners.length) {
      try {
        return (await router.client(owners[attempt]!).read(p, opts)) as ReadableWithMeta;
      } catch (err) {
        if (!workerFailed(err)) throw err;
        router.suspect(owners[attempt]!);
        last = err;
        attempt++;
      }
    }
    const fromStore = await direct.read(p, offset, length, options.signal);
    if (fromStore) {
      attempt = Number.POSITIVE_INFINITY;
      return fromStore;
    }
    throw last ?? new StrataError('UNAVAILABLE', 'no live workers in the cluster');
  };
  const first = await open(start, options.length);
  const fingerprint = first.fingerprint;
  const total = first.contentLength;
  const markFailed = (i: number) => {
    const w = owners[i];
    if (w) router.suspect(w);
  };
  async function* resume(): AsyncGenerator<Buffer> {
    let stream: ReadableWithMeta = first;
    let served = 0;
    for (;;) {
      try {
        for await (const chunk of stream) {
          served += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        return;
      } catch (err) {
        if (!workerFailed(err) || total === undefined) throw err;
        markFailed(attempt);
        attempt++;
        stream = await open(start + served, total - served);
        if (
          fingerprint !== undefined &&
          stream.fingerprint !== undefined &&
          stream.fingerprint !== fingerprint
        ) {
          stream.destroy();
          throw new StrataError('FINGERPRINT_CHANGED', `${p} changed while being read; retry`, {
            details: { path: p },
          });
        }
      }
    }
  }
  const out = ReadableStream.from(resume(), { objectMode: false });
  return Object.assign(out, {
    ...(total === undefined ? {} : { contentLength: total }),
    ...(fingerprint === undefined ? {} : { fingerprint }),
  });
}
