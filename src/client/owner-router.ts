import { createRing, type HashRing, type RingAlgorithm } from '../cluster/ring.js';
import { throwIfAborted } from '../core/abort.js';
import { isStrataError, StrataError } from '../core/errors.js';
import { normalizePath } from '../core/paths.js';
import type { WorkerInfo } from '../registry/registry.js';
import { RemoteFileSystem, type RemoteFileSystemOptions } from './remote-file-system.js';

export interface RoutingOptions extends RemoteFileSystemOptions {
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

/** Errors that say "this worker is gone or stuck", as opposed to answers about the path. */
export function workerFailed(err: unknown): boolean {
  return isStrataError(err, 'UNAVAILABLE') || isStrataError(err, 'TIMEOUT');
}

/**
 * Which workers own a path, and calling them: a consistent-hash ring of the live ACTIVE workers
 * (weighted by capacity), one RemoteFileSystem per worker, and a short memory of workers that
 * just failed so they are tried last.
 */
export class OwnerRouter {
  private ring: HashRing = createRing([]);
  private workers = new Map<string, WorkerInfo>();
  private readonly clients = new Map<string, RemoteFileSystem>();
  /** worker id → time until which it is tried after the others. */
  private readonly suspects = new Map<string, number>();

  constructor(private readonly options: RoutingOptions) {}

  /** How many workers the ring has. */
  get size(): number {
    return this.ring.nodes.length;
  }

  /** The workers that own a path, primary first (what `strata fs location` prints). */
  location(path: string): WorkerInfo[] {
    const p = normalizePath(path);
    return this.ring
      .owners(p, Math.min(this.options.replicas ?? 3, this.ring.nodes.length))
      .map((id) => this.workers.get(id)!);
  }

  /** Owners in the order to try them: healthy ones first, recently failed ones last. */
  tryOrder(path: string): WorkerInfo[] {
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

  /** Marks a worker as just failed: tried last for suspectMs. */
  suspect(worker: WorkerInfo): void {
    this.suspects.set(worker.id, Date.now() + (this.options.suspectMs ?? 5000));
  }

  liveWorkers(): WorkerInfo[] {
    return [...this.workers.values()];
  }

  /** Follows a membership snapshot; clients of workers that left are closed. */
  setWorkers(list: readonly WorkerInfo[]): void {
    // Draining workers finish what they serve but get no new paths.
    const active = list.filter((w) => w.state === 'ACTIVE');
    this.workers = new Map(active.map((w) => [w.id, w]));
    this.ring = createRing(
      active.map((w) => ({ id: w.id, weight: Math.max(1, w.capacityBytes) })),
      this.options.algorithm === undefined ? {} : { algorithm: this.options.algorithm },
    );
    const live = new Set(active.map((w) => w.address));
    const listed = new Set(list.map((w) => w.address));
    for (const [address, client] of this.clients) {
      if (live.has(address)) continue;
      this.clients.delete(address);
      if (listed.has(address)) {
        client.close().catch(() => undefined); // draining: it finishes what it serves
        continue;
      }
      // Gone from the membership (its lease expired: stopped, hung, partitioned, dead): calls
      // still waiting on it fail over to the next owner now, not at their request deadline.
      const gone = new StrataError('UNAVAILABLE', `worker at ${address} left the cluster (its lease ended)`);
      client.destroy(gone).catch(() => undefined);
    }
  }

  client(worker: WorkerInfo): RemoteFileSystem {
    let c = this.clients.get(worker.address);
    if (!c) {
      c = new RemoteFileSystem(worker.address, this.options);
      this.clients.set(worker.address, c);
    }
    return c;
  }

  /** Runs `fn` on the owners of `path` in order until one answers (a failed worker is skipped). */
  async routed<T>(
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
  anyWorker<T>(fn: (fs: RemoteFileSystem) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return this.routed('/', fn, signal);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
  }
}
