import { Readable } from 'node:stream';
import { throwIfAborted } from '../core/abort.js';
import { RELEASE_CHUNK, type ReleasingReadable } from '../core/buffer-pool.js';
import { isStrataError, StrataError } from '../core/errors.js';
import type { FileInfo, ReadOptions } from '../core/file-system.js';
import { hostIdentity } from '../core/host-identity.js';
import type { PageLocation } from '../core/page-location.js';
import { normalizePath } from '../core/paths.js';
import type { WorkerInfo } from '../registry/registry.js';
import { WorkerMetadataCache } from './metadata-cache.js';
import { type OwnerRouter, workerFailed } from './owner-router.js';
import { readRangeLocally, releasePageChunk, streamRangeLocally } from './short-circuit-reader.js';

export interface ClusterPathOptions {
  /**
   * How long the client keeps a status from a worker's answer (GET locate), at most; 0 turns
   * the client metadata cache off. Entries are dropped as soon as the owner reports a change
   * (GET watch) and whenever that stream breaks. Default 10,000 ms.
   */
  readonly metadataLeaseMs?: number;
  /** Statuses kept per worker at most. Default 100,000. */
  readonly metadataCacheEntries?: number;
  /** Read the page files of a worker on the same host directly (short-circuit reads). Default true. */
  readonly shortCircuit?: boolean;
}

export const DEFAULT_METADATA_LEASE_MS = 10_000;

/** How long short-circuit hit bytes are summed before they are reported to their workers. */
const HIT_REPORT_MS = 100;

/** Locate calls in flight to one worker past which statuses go the batched way, uncached. */
const MAX_LOCATES_IN_FLIGHT = 16;

/** What the fast path did (diagnostics and tests; ClusterFileSystem.fastPathStats()). */
export interface ClusterPathStats {
  /** Reads (read or readBuffer) served from co-located page files, and their bytes. */
  shortCircuitReads: number;
  shortCircuitBytes: number;
  /** Reads that tried the page files and went (or continued) over the RPC instead. */
  shortCircuitFallbacks: number;
  /** Statuses answered from the client metadata cache, and those that had to ask. */
  cacheHits: number;
  cacheMisses: number;
  /** Workers whose change stream is open now, and their ids. */
  liveStreams: number;
  streamsTo: string[];
  /** Entries dropped because their owner reported a change. */
  invalidations: number;
}

interface Located {
  readonly loc: PageLocation;
  readonly owner: WorkerInfo;
  readonly cache: WorkerMetadataCache | undefined;
}

/**
 * The cluster client's fast path to a path's owner: statuses from the client metadata cache
 * (metadata-cache.ts) and reads from the owner's page files when it runs on this host
 * (short-circuit-reader.ts). Every method answers undefined when it cannot help — feature off,
 * owner down, an older worker, a page not on disk — and the caller then takes the ordinary RPC
 * path, so what a caller sees never depends on whether the fast path was taken.
 */
export class ClusterPath {
  private readonly caches = new Map<string, WorkerMetadataCache>();
  private readonly inFlight = new Map<string, number>();
  /** Workers that answered "no RPC … locate" (older versions). */
  private readonly noLocate = new Set<string>();
  private readonly leaseMs: number;
  private readonly shortCircuit: boolean;
  private readonly maxEntries: number;
  private readonly me = hostIdentity();
  private readonly counts = { shortCircuitReads: 0, shortCircuitBytes: 0, shortCircuitFallbacks: 0 };
  /** Hit bytes not reported yet, by worker, then mount. */
  private readonly hits = new Map<string, { worker: WorkerInfo; byMount: Map<string, number> }>();
  private hitTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly router: OwnerRouter,
    options: ClusterPathOptions,
  ) {
    this.leaseMs = options.metadataLeaseMs ?? DEFAULT_METADATA_LEASE_MS;
    this.shortCircuit = options.shortCircuit ?? true;
    this.maxEntries = options.metadataCacheEntries ?? 100_000;
  }

  private get enabled(): boolean {
    return this.leaseMs > 0 || this.shortCircuit;
  }

  /** Follows membership: the caches of workers that left (or moved) are closed. */
  setWorkers(workers: readonly WorkerInfo[]): void {
    const live = new Set(workers.map((w) => `${w.id}@${w.address}`));
    for (const [key, cache] of this.caches) {
      if (!live.has(key)) {
        cache.close();
        this.caches.delete(key);
      }
    }
  }

  stats(): ClusterPathStats {
    const caches = [...this.caches.values()];
    const sum = (f: (c: WorkerMetadataCache) => number) => caches.reduce((n, c) => n + f(c), 0);
    return {
      ...this.counts,
      cacheHits: sum((c) => c.counters.hits),
      cacheMisses: sum((c) => c.counters.misses),
      liveStreams: sum((c) => (c.live ? 1 : 0)),
      streamsTo: [...this.caches].filter(([, c]) => c.live).map(([key]) => key.slice(0, key.indexOf('@'))),
      invalidations: sum((c) => c.counters.invalidated),
    };
  }

  /**
   * Bytes read from a worker's page files are that worker's cache hits: they are summed and
   * reported (POST short-circuit-hits) within HIT_REPORT_MS, so the workers' hit ratio
   * (strata_cache_hit_bytes_total) counts every read the cache served.
   */
  private hit(worker: WorkerInfo, mount: string, bytes: number): void {
    const key = `${worker.id}@${worker.address}`;
    let w = this.hits.get(key);
    if (w === undefined) {
      w = { worker, byMount: new Map() };
      this.hits.set(key, w);
    }
    w.byMount.set(mount, (w.byMount.get(mount) ?? 0) + bytes);
    if (this.hitTimer === undefined) {
      this.hitTimer = setTimeout(() => void this.flushHits(), HIT_REPORT_MS);
      this.hitTimer.unref();
    }
  }

  /** Reports the hit bytes summed so far (best effort: a worker that does not answer loses them). */
  async flushHits(): Promise<void> {
    if (this.hitTimer) clearTimeout(this.hitTimer);
    this.hitTimer = undefined;
    const all = [...this.hits.values()];
    this.hits.clear();
    await Promise.allSettled(
      all.map(({ worker, byMount }) =>
        this.router.client(worker).shortCircuitHits([...byMount].map(([mount, bytes]) => ({ mount, bytes }))),
      ),
    );
  }

  close(): void {
    for (const c of this.caches.values()) c.close();
    this.caches.clear();
  }

  /** The cache of one worker (its change stream opens on first use). */
  cacheOf(worker: WorkerInfo): WorkerMetadataCache | undefined {
    if (!this.enabled || this.noLocate.has(worker.id)) return undefined;
    const key = `${worker.id}@${worker.address}`;
    let c = this.caches.get(key);
    if (c === undefined) {
      c = new WorkerMetadataCache(this.router.client(worker), {
        leaseMs: this.leaseMs,
        maxEntries: this.maxEntries,
      });
      this.caches.set(key, c);
    }
    return c;
  }

  /** After this client changed a path: forget it everywhere (`tree`: and everything below). */
  forget(path: string, tree: boolean): void {
    let p: string;
    try {
      p = normalizePath(path);
    } catch {
      return;
    }
    for (const c of this.caches.values()) c.forget(p, tree);
  }

  /** The status from the cache or a locate call; undefined: ask the ordinary way. */
  async status(path: string, signal: AbortSignal | undefined): Promise<FileInfo | undefined> {
    if (this.leaseMs <= 0) return undefined;
    return (await this.located(path, signal, true))?.loc.info;
  }

  /** The range from the owner's page files (same host), else undefined. */
  async readBuffer(
    path: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Buffer | undefined> {
    const l = await this.localLocated(path, signal);
    if (l === undefined) return undefined;
    const size = l.loc.info.size;
    if (l.loc.info.type !== 'file' || offset > size) return undefined;
    const len = Math.min(length, size - offset);
    if (len === 0) return Buffer.alloc(0);
    const buf = await readRangeLocally(l.loc, offset, len);
    // A page gone (evicted, moved, the file overwritten): ask the owner where things are now.
    if (buf === undefined) {
      l.cache?.drop(l.loc.info.path);
      this.counts.shortCircuitFallbacks++;
    } else {
      this.counts.shortCircuitReads++;
      this.counts.shortCircuitBytes += buf.length;
      this.hit(l.owner, l.loc.info.mount, buf.length);
    }
    throwIfAborted(signal);
    return buf;
  }

  /**
   * A read served from the owner's page files while they last; a page that cannot be read
   * locally mid-way hands over to `rest` (the RPC) at that byte, which must be the same version
   * (fingerprint) or the stream fails FINGERPRINT_CHANGED, as a resumed RPC read does.
   */
  async read(
    path: string,
    options: ReadOptions,
    rest: (offset: number, length: number) => Promise<Readable & { fingerprint?: string }>,
  ): Promise<Readable | undefined> {
    if (options.readType !== undefined && options.readType !== 'CACHE') return undefined;
    const l = await this.localLocated(path, options.signal);
    if (l === undefined || l.loc.info.type !== 'file') return undefined;
    const { loc } = l;
    const offset = options.offset ?? 0;
    const size = loc.info.size;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) return undefined;
    const length = Math.min(options.length ?? size - offset, size - offset);
    if (!Number.isSafeInteger(length) || length < 0) return undefined;
    const local = streamRangeLocally(loc, offset, length);
    // The first page decides: unreadable → the whole read goes over the RPC, as if never tried.
    const first = await local.next();
    if (first.done === true && first.value < offset + length) {
      l.cache?.drop(loc.info.path);
      this.counts.shortCircuitFallbacks++;
      return undefined;
    }
    const cache = l.cache;
    const counts = this.counts;
    const hit = (bytes: number) => this.hit(l.owner, loc.info.mount, bytes);
    counts.shortCircuitReads++;
    const end = offset + length;
    async function* bytes(): AsyncGenerator<Buffer> {
      let step = first;
      while (step.done !== true) {
        counts.shortCircuitBytes += step.value.length;
        hit(step.value.length);
        yield step.value;
        step = await local.next();
      }
      const at = step.value;
      if (at >= end) return;
      cache?.drop(loc.info.path);
      counts.shortCircuitFallbacks++;
      const more = await rest(at, end - at);
      if (more.fingerprint !== undefined && more.fingerprint !== loc.info.fingerprint) {
        more.destroy();
        throw new StrataError('FINGERPRINT_CHANGED', `${loc.info.path} changed while being read; retry`, {
          details: { path: loc.info.path },
        });
      }
      for await (const chunk of more) yield chunk as Buffer;
    }
    const out: ReleasingReadable = Readable.from(bytes(), { objectMode: false });
    // Large pages come in pool buffers: a consumer that is done with a chunk gives it back.
    out[RELEASE_CHUNK] = releasePageChunk;
    options.signal?.addEventListener('abort', () => out.destroy(options.signal?.reason as Error), {
      once: true,
    });
    return Object.assign(out, { contentLength: length, fingerprint: loc.info.fingerprint });
  }

  /** The location, when the owner runs on this host and short-circuit reads are on. */
  private async localLocated(path: string, signal: AbortSignal | undefined): Promise<Located | undefined> {
    if (!this.shortCircuit) return undefined;
    const owner = this.ownerOf(path);
    if (owner === undefined) return undefined;
    const cache = this.cacheOf(owner);
    if (cache?.host === undefined || !sameHost(cache.host, await this.me)) return undefined;
    return this.located(path, signal, false);
  }

  private ownerOf(path: string): WorkerInfo | undefined {
    try {
      return this.router.tryOrder(normalizePath(path))[0];
    } catch {
      return undefined; // a bad path: the ordinary call reports it
    }
  }

  private async located(
    path: string,
    signal: AbortSignal | undefined,
    forStatus: boolean,
  ): Promise<Located | undefined> {
    let p: string;
    try {
      p = normalizePath(path);
    } catch {
      return undefined;
    }
    const owner = this.router.tryOrder(p)[0];
    if (owner === undefined) return undefined;
    const cache = this.cacheOf(owner);
    if (cache === undefined) return undefined;
    const hit = cache.get(p);
    if (hit !== undefined) return { loc: hit, owner, cache };
    const busy = this.inFlight.get(owner.id) ?? 0;
    // A stat storm (ls -l, a data loader) goes as status batches, uncached, rather than 1 call each.
    if (forStatus && (busy >= MAX_LOCATES_IN_FLIGHT || !cache.live)) return undefined;
    const ticket = cache.ticket();
    this.inFlight.set(owner.id, busy + 1);
    try {
      const loc = await this.router.client(owner).locate(p, signal ? { signal } : {});
      cache.put(p, loc, ticket);
      return { loc, owner, cache };
    } catch (err) {
      if (isStrataError(err, 'INVALID_ARGUMENT') && err.message.startsWith('no RPC ')) {
        this.noLocate.add(owner.id);
        return undefined;
      }
      // A dead owner: the ordinary path skips it for the next replica.
      if (workerFailed(err)) return undefined;
      throw err;
    } finally {
      this.inFlight.set(owner.id, (this.inFlight.get(owner.id) ?? 1) - 1);
    }
  }
}

function sameHost(a: { hostname: string; bootId: string }, b: { hostname: string; bootId: string }): boolean {
  return a.hostname === b.hostname && a.bootId === b.bootId;
}

/**
 * The settings from the environment, for options the caller left unset:
 * STRATA_SHORT_CIRCUIT (`true`/`1` or `false`/`0`) and STRATA_CLIENT_METADATA_LEASE_MS (an
 * integer ≥ 0; 0 turns the client metadata cache off). A bad value is INVALID_ARGUMENT.
 */
export function clusterPathSettings(
  options: ClusterPathOptions,
  env: NodeJS.ProcessEnv = process.env,
): ClusterPathOptions {
  let out: ClusterPathOptions = options;
  const sc = env.STRATA_SHORT_CIRCUIT;
  if (options.shortCircuit === undefined && sc !== undefined && sc !== '') {
    const v = sc.toLowerCase();
    if (!['true', '1', 'false', '0'].includes(v))
      throw new StrataError('INVALID_ARGUMENT', `STRATA_SHORT_CIRCUIT must be true or false, got "${sc}"`);
    out = { ...out, shortCircuit: v === 'true' || v === '1' };
  }
  const lease = env.STRATA_CLIENT_METADATA_LEASE_MS;
  if (options.metadataLeaseMs === undefined && lease !== undefined && lease !== '') {
    const n = Number(lease);
    if (!/^\d+$/.test(lease) || !Number.isSafeInteger(n))
      throw new StrataError(
        'INVALID_ARGUMENT',
        `STRATA_CLIENT_METADATA_LEASE_MS must be an integer ≥ 0 (ms), got "${lease}"`,
      );
    out = { ...out, metadataLeaseMs: n };
  }
  return out;
}
