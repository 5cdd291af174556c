import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { createRing, type HashRing, type RingAlgorithm } from '../cluster/ring.js';
import { throwIfAborted } from '../core/abort.js';
import { isStrataError, StrataError } from '../core/errors.js';
import type { MountRecord } from '../core/mounts.js';
import { isWithin, normalizePath, relativeTo } from '../core/paths.js';
import type { Unwatch, WorkerInfo } from '../registry/registry.js';
import type { UnderStore } from '../ufs/under-store.js';
import { fingerprintOf } from '../ufs/under-store.js';
import { RemoteFileSystem, type RemoteFileSystemOptions } from './remote-file-system.js';
import type {
  CacheProbeItem,
  CallOptions,
  ClusterReport,
  DeleteOptions,
  FileInfo,
  JobSummary,
  MountInfo,
  MountOptions,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WorkerReport,
  WriteOptions,
} from './types.js';

/** Where the client learns the live workers (and, for direct store reads, the mount records). */
export interface WorkerDirectory {
  listWorkers(): Promise<WorkerInfo[]>;
  watchWorkers?(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch>;
  /** Mount records with credentials, for fallbackToUfs reads. */
  loadMounts?(): Promise<MountRecord[]>;
  close?(): Promise<void>;
}

export interface ClusterOptions extends RemoteFileSystemOptions {
  /** Owners tried for one path before giving up (primary first). Default 3. */
  readonly replicas?: number;
  /**
   * After a worker fails a call (refused, unreachable, deadline), it is tried last for this long,
   * so one partitioned worker does not cost every request a connect timeout until its lease
   * expires. Default 5,000 ms.
   */
  readonly suspectMs?: number;
  readonly algorithm?: RingAlgorithm;
}

/** Listings larger than this keep the directory owner's cached figures (one probe per owner). */
const MAX_PROBED_ENTRIES = 10_000;

type ReadableWithMeta = Readable & { fingerprint?: string; contentLength?: number };

/** Errors that say "this worker is gone or stuck", as opposed to answers about the path. */
function workerFailed(err: unknown): boolean {
  return isStrataError(err, 'UNAVAILABLE') || isStrataError(err, 'TIMEOUT');
}

/**
 * The client side of the cluster: routes each path to the workers that own it on a consistent-
 * hash ring built from the registry's live workers (weighted by capacity), and follows
 * membership changes. A dead or stuck owner is skipped for the next replica; a read that breaks
 * midway resumes at the same byte on the next replica, after checking the content fingerprint is
 * the same; when every owner fails and the mount allows it, the store is read directly.
 * Operations on whole trees (load, free, du, pin) walk the tree and send each file to its owner.
 */
export class ClusterFileSystem implements StrataFileSystem {
  private ring: HashRing = createRing([]);
  private workers = new Map<string, WorkerInfo>();
  private readonly clients = new Map<string, RemoteFileSystem>();
  private unwatch: Unwatch | undefined;
  private readonly stores = new Map<string, Promise<UnderStore>>();
  /** worker id → time until which it is tried after the others. */
  private readonly suspects = new Map<string, number>();

  private constructor(
    private readonly directory: WorkerDirectory,
    private readonly options: ClusterOptions,
  ) {}

  static async open(directory: WorkerDirectory, options: ClusterOptions = {}): Promise<ClusterFileSystem> {
    const fs = new ClusterFileSystem(directory, options);
    fs.setWorkers(await directory.listWorkers());
    if (directory.watchWorkers) fs.unwatch = await directory.watchWorkers((w) => fs.setWorkers(w));
    return fs;
  }

  async close(): Promise<void> {
    this.unwatch?.();
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
    await Promise.allSettled([...this.stores.values()].map(async (s) => (await s).close()));
    await this.directory.close?.();
  }

  /** The workers that own a path, primary first (what `strata fs location` prints). */
  location(path: string): WorkerInfo[] {
    const p = normalizePath(path);
    return this.ring
      .owners(p, Math.min(this.options.replicas ?? 3, this.ring.nodes.length))
      .map((id) => this.workers.get(id)!);
  }

  /** Owners in the order to try them: healthy ones first, recently failed ones last. */
  private tryOrder(path: string): WorkerInfo[] {
    const owners = this.location(path);
    if (this.suspects.size === 0) return owners;
    const now = Date.now();
    const suspect = (w: WorkerInfo) => {
      const until = this.suspects.get(w.id);
      if (until !== undefined && until <= now) this.suspects.delete(w.id);
      return until !== undefined && until > now;
    };
    return [...owners.filter((w) => !suspect(w)), ...owners.filter(suspect)];
  }

  private suspect(worker: WorkerInfo): void {
    this.suspects.set(worker.id, Date.now() + (this.options.suspectMs ?? 5000));
  }

  liveWorkers(): WorkerInfo[] {
    return [...this.workers.values()];
  }

  private setWorkers(list: WorkerInfo[]): void {
    // Draining workers finish what they serve but get no new paths.
    const active = list.filter((w) => w.state === 'ACTIVE');
    this.workers = new Map(active.map((w) => [w.id, w]));
    this.ring = createRing(
      active.map((w) => ({ id: w.id, weight: Math.max(1, w.capacityBytes) })),
      this.options.algorithm === undefined ? {} : { algorithm: this.options.algorithm },
    );
    const live = new Set(active.map((w) => w.address));
    for (const [address, client] of this.clients) {
      if (!live.has(address)) {
        this.clients.delete(address);
        client.close().catch(() => undefined);
      }
    }
  }

  private client(worker: WorkerInfo): RemoteFileSystem {
    let c = this.clients.get(worker.address);
    if (!c) {
      c = new RemoteFileSystem(worker.address, this.options);
      this.clients.set(worker.address, c);
    }
    return c;
  }

  /** Runs `fn` on the owners of `path` in order until one answers. */
  private async routed<T>(
    path: string,
    fn: (fs: RemoteFileSystem) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    throwIfAborted(signal);
    const owners = this.tryOrder(path);
    if (owners.length === 0) throw new StrataError('UNAVAILABLE', 'no live workers in the cluster');
    let last: unknown;
    for (const owner of owners) {
      try {
        return await fn(this.client(owner));
      } catch (err) {
        if (!workerFailed(err)) throw err;
        this.suspect(owner);
        last = err;
      }
    }
    throw last;
  }

  /** Runs `fn` on any live worker (cluster-wide operations). */
  private async anyWorker<T>(
    fn: (fs: RemoteFileSystem) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return this.routed('/', fn, signal);
  }

  status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    return this.routed(path, (fs) => fs.status(path, options), options.signal);
  }

  /**
   * A directory's listing comes from the directory's owner, but each file is cached on its own
   * owner: ask those (one batch each, no store access) for the cached bytes shown.
   */
  async list(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    const entries = await this.listRaw(path, options);
    const files = entries.filter((e) => e.type === 'file');
    if (files.length === 0 || files.length > MAX_PROBED_ENTRIES || this.ring.nodes.length <= 1)
      return entries;
    const byOwner = new Map<string, { worker: WorkerInfo; at: number[] }>();
    entries.forEach((e, i) => {
      const owner = e.type === 'file' ? this.tryOrder(e.path)[0] : undefined;
      if (!owner) return;
      const group = byOwner.get(owner.id) ?? { worker: owner, at: [] };
      group.at.push(i);
      byOwner.set(owner.id, group);
    });
    const patched = [...entries];
    await Promise.all(
      [...byOwner.values()].map(async ({ worker, at }) => {
        try {
          const bytes = await this.client(worker).cachedBytesOf(
            at.map((i) => ({ path: entries[i]!.path, fingerprint: entries[i]!.fingerprint })),
            options,
          );
          at.forEach((i, k) => {
            const e = entries[i]!;
            const cached = bytes[k] ?? 0;
            patched[i] = {
              ...e,
              cachedBytes: cached,
              cachedPercent: e.size > 0 ? Math.floor((cached * 100) / e.size) : 100,
            };
          });
        } catch {
          // Keep the directory owner's view rather than fail the listing.
        }
      }),
    );
    throwIfAborted(options.signal);
    return patched;
  }

  private listRaw(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    return this.routed(path, (fs) => fs.list(path, options), options.signal);
  }

  /** Asks each file's owner (one batch per owner) how much of it is cached. */
  async cachedBytesOf(items: readonly CacheProbeItem[], options: CallOptions = {}): Promise<number[]> {
    throwIfAborted(options.signal);
    const out = new Array<number>(items.length).fill(0);
    const byOwner = new Map<string, { worker: WorkerInfo; at: number[] }>();
    items.forEach((item, i) => {
      const owner = this.tryOrder(normalizePath(item.path))[0];
      if (!owner) return;
      const group = byOwner.get(owner.id) ?? { worker: owner, at: [] };
      group.at.push(i);
      byOwner.set(owner.id, group);
    });
    await Promise.all(
      [...byOwner.values()].map(async ({ worker, at }) => {
        const bytes = await this.client(worker).cachedBytesOf(
          at.map((i) => items[i]!),
          options,
        );
        at.forEach((i, k) => {
          out[i] = bytes[k] ?? 0;
        });
      }),
    );
    return out;
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const owners = this.tryOrder(p);
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
          return (await this.client(owners[attempt]!).read(p, opts)) as ReadableWithMeta;
        } catch (err) {
          if (!workerFailed(err)) throw err;
          this.suspect(owners[attempt]!);
          last = err;
          attempt++;
        }
      }
      const direct = await this.readStoreDirectly(p, offset, length, options.signal);
      if (direct) {
        attempt = Number.POSITIVE_INFINITY;
        return direct;
      }
      throw last ?? new StrataError('UNAVAILABLE', 'no live workers in the cluster');
    };
    const first = await open(start, options.length);
    const fingerprint = first.fingerprint;
    const total = first.contentLength;
    const markFailed = (i: number) => {
      const w = owners[i];
      if (w) this.suspect(w);
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

  /** Reads the store itself when the mount allows it (every owner failed). */
  private async readStoreDirectly(
    p: string,
    offset: number,
    length: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ReadableWithMeta | undefined> {
    const records = (await this.directory.loadMounts?.().catch(() => undefined)) ?? [];
    const mount = records.filter((m) => isWithin(p, m.path)).sort((a, b) => b.path.length - a.path.length)[0];
    if (!mount?.fallbackToUfs) return undefined;
    let store = this.stores.get(mount.path);
    if (!store) {
      store = import('../ufs/factory.js').then((f) => f.createUnderStore(mount.uri, mount.options));
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

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    throwIfAborted(options.signal);
    const owners = this.tryOrder(path);
    let last: unknown = new StrataError('UNAVAILABLE', 'no live workers in the cluster');
    for (const owner of owners) {
      try {
        return await this.client(owner).write(path, source, options);
      } catch (err) {
        // A body already partly sent cannot be replayed: only an unreached owner is skipped.
        if (!workerFailed(err)) throw err;
        this.suspect(owner);
        if (source.readableDidRead) throw err;
        last = err;
      }
    }
    throw last;
  }

  delete(path: string, options: DeleteOptions = {}): Promise<void> {
    return this.routed(path, (fs) => fs.delete(path, options), options.signal);
  }

  mkdir(path: string, options: CallOptions = {}): Promise<void> {
    return this.routed(path, (fs) => fs.mkdir(path, options), options.signal);
  }

  rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    return this.routed(from, (fs) => fs.rename(from, to, options), options.signal);
  }

  mount(path: string, uri: string, options: MountOptions & CallOptions = {}): Promise<MountInfo> {
    return this.anyWorker((fs) => fs.mount(path, uri, options), options.signal);
  }

  unmount(path: string, options: CallOptions = {}): Promise<void> {
    return this.anyWorker((fs) => fs.unmount(path, options), options.signal);
  }

  mounts(options: CallOptions = {}): Promise<MountInfo[]> {
    return this.anyWorker((fs) => fs.mounts(options), options.signal);
  }

  /** Every file at or below `path`, listing each directory on its owner. */
  private async *files(path: string, options: CallOptions): AsyncGenerator<FileInfo> {
    const root = await this.status(path, options);
    if (root.type === 'file') {
      yield root;
      return;
    }
    const stack = [root.path];
    while (stack.length > 0) {
      for (const e of await this.listRaw(stack.pop()!, options)) {
        if (e.type === 'directory') stack.push(e.path);
        else yield e;
      }
    }
  }

  private async eachFile(
    path: string,
    options: CallOptions,
    fn: (file: FileInfo) => Promise<void>,
    concurrency = 8,
  ): Promise<void> {
    const running = new Set<Promise<void>>();
    for await (const f of this.files(path, options)) {
      const p = fn(f).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= concurrency) await Promise.race(running);
    }
    await Promise.all(running);
  }

  async load(path: string, options: CallOptions = {}): Promise<JobSummary> {
    let files = 0;
    let bytes = 0;
    await this.eachFile(path, options, async (f) => {
      const r = await this.routed(f.path, (fs) => fs.load(f.path, options), options.signal);
      files += r.files;
      bytes += r.bytes;
    });
    return { files, bytes };
  }

  async free(path: string, options: CallOptions = {}): Promise<JobSummary> {
    let files = 0;
    let bytes = 0;
    await this.eachFile(path, options, async (f) => {
      const r = await this.routed(f.path, (fs) => fs.free(f.path, options), options.signal);
      files += r.files;
      bytes += r.bytes;
    });
    return { files, bytes };
  }

  async pin(path: string, pinned: boolean, options: CallOptions = {}): Promise<void> {
    await this.eachFile(path, options, (f) =>
      this.routed(f.path, (fs) => fs.pin(f.path, pinned, options), options.signal),
    );
  }

  async setTtl(
    path: string,
    ttlMs: number | null,
    action: 'free' | 'delete' = 'free',
    options: CallOptions = {},
  ): Promise<void> {
    const root = await this.status(path, options);
    if (root.type === 'file' || action === 'delete' || ttlMs === null) {
      await this.routed(path, (fs) => fs.setTtl(path, ttlMs, action, options), options.signal);
      if (root.type === 'file' || ttlMs !== null) return;
    }
    // Freeing a tree frees pages on every file's owner, so each owner gets the TTL for its files.
    await this.eachFile(path, options, (f) =>
      this.routed(f.path, (fs) => fs.setTtl(f.path, ttlMs, action, options), options.signal),
    );
  }

  async du(path: string, options: CallOptions = {}): Promise<UsageSummary> {
    let files = 0;
    let bytes = 0;
    let cachedBytes = 0;
    let directories = 0;
    const root = await this.status(path, options);
    if (root.type === 'directory') {
      const stack = [root.path];
      directories++;
      while (stack.length > 0) {
        for (const e of await this.listRaw(stack.pop()!, options)) {
          if (e.type === 'directory') {
            directories++;
            stack.push(e.path);
          }
        }
      }
    }
    // Cached bytes live on each file's owner, not on the owner of its directory.
    await this.eachFile(path, options, async (f) => {
      const s = await this.status(f.path, options);
      files++;
      bytes += s.size;
      cachedBytes += s.cachedBytes;
    });
    return { files, directories, bytes, cachedBytes };
  }

  async report(options: CallOptions = {}): Promise<ClusterReport> {
    throwIfAborted(options.signal);
    const workers = this.liveWorkers();
    const reports = await Promise.allSettled(workers.map((w) => this.client(w).report(options)));
    const merged: WorkerReport[] = [];
    let base: ClusterReport | undefined;
    let pending = 0;
    reports.forEach((r, i) => {
      const w = workers[i]!;
      if (r.status === 'fulfilled') {
        base ??= r.value;
        pending += r.value.pendingPersists;
        merged.push(...r.value.workers.map((x) => ({ ...x, state: w.state })));
      } else {
        merged.push({
          id: w.id,
          address: w.address,
          state: 'LOST',
          capacityBytes: w.capacityBytes,
          usedBytes: 0,
          hitRatio: 0,
          tiers: [],
          startedAtMs: w.startedAtMs,
          version: w.version,
        });
      }
    });
    throwIfAborted(options.signal);
    if (!base) throw new StrataError('UNAVAILABLE', 'no worker answered');
    return { ...base, workers: merged.sort((a, b) => (a.id < b.id ? -1 : 1)), pendingPersists: pending };
  }
}
