import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { StrataError, toStrataError } from '../../src/core/errors.js';
import type {
  CallOptions,
  JobBatchRequest,
  JobBatchResult,
  StrataFileSystem,
  WorkerLocation,
} from '../../src/core/file-system.js';
import type { InProcessWorkers } from '../helpers/in-process-workers.js';

/**
 * The per-owner batch call (`fs.jobBatch`) as the engine's tests see it: every call recorded
 * (worker, op, paths, time), then either sent to the cluster client's real jobBatch (`real`) or
 * run by a stand-in — on the worker it names (`options.worker`, else the primary owner of its
 * first path) through that worker's own file system — where a test injects failures, owners or
 * answers the real workers would not give on demand.
 */

export interface BatchCall {
  readonly worker: string;
  readonly op: string;
  readonly paths: readonly string[];
  readonly options: JobBatchRequest['options'];
  readonly atMs: number;
}

export interface AdapterHooks {
  /** Record the calls but send them to the cluster client's own jobBatch (the worker side for real). */
  readonly real?: boolean;
  /** Throw to fail the whole call (e.g. UNAVAILABLE: the worker is gone). */
  readonly beforeCall?: (call: BatchCall, index: number) => void;
  /** An error for one path instead of running it. */
  readonly pathError?: (path: string, worker: string) => StrataError | undefined;
  /** Pages "repaired" by a verify (the worker's checksum pass is tested on the worker side). */
  readonly repaired?: (path: string) => number;
  /** Owners to report instead of the ring's (a worker that died before its lease expired…). */
  readonly location?: (path: string, real: readonly WorkerLocation[]) => readonly WorkerLocation[];
}

export function withJobBatch(
  workers: InProcessWorkers,
  cluster: ClusterFileSystem,
  hooks: AdapterHooks = {},
): { fs: StrataFileSystem; calls: BatchCall[] } {
  const calls: BatchCall[] = [];
  const location = (path: string): readonly WorkerLocation[] => {
    const real = cluster.location(path);
    return hooks.location ? hooks.location(path, real) : real;
  };
  const jobBatch = async (
    request: JobBatchRequest,
    options: CallOptions & { worker?: string } = {},
  ): Promise<JobBatchResult[]> => {
    const worker = options.worker ?? location(request.paths[0]!)[0]?.id ?? '';
    const entry: BatchCall = {
      worker,
      op: request.op,
      paths: [...request.paths],
      options: request.options,
      atMs: performance.now(),
    };
    calls.push(entry);
    hooks.beforeCall?.(entry, calls.length - 1);
    if (hooks.real) return cluster.jobBatch(request, options);
    const node = workers.workers.find((w) => w.id === worker)?.node;
    if (node === undefined) throw new StrataError('UNAVAILABLE', `worker ${worker} is not reachable`);
    const fs = node.fs;
    const o = request.options ?? {};
    const call: CallOptions = options.signal === undefined ? {} : { signal: options.signal };
    return Promise.all(
      request.paths.map(async (path): Promise<JobBatchResult> => {
        try {
          const injected = hooks.pathError?.(path, worker);
          if (injected) throw injected;
          if (request.op === 'free') {
            await fs.free(path, call);
            return { path, outcome: 'done', bytes: 0, storeBytesRead: 0, cachedPercent: 0 };
          }
          if (request.op === 'persist') {
            const s = await fs.status(path);
            return {
              path,
              outcome: 'skipped',
              bytes: s.size,
              storeBytesRead: 0,
              cachedPercent: s.cachedPercent,
            };
          }
          if (o.metadataOnly) {
            const s = await fs.status(path, { syncIntervalMs: 0 });
            return { path, outcome: 'done', bytes: 0, storeBytesRead: 0, cachedPercent: s.cachedPercent };
          }
          const before = await fs.status(path);
          if (o.skipIfCached && before.cachedPercent === 100)
            return { path, outcome: 'skipped', bytes: 0, storeBytesRead: 0, cachedPercent: 100 };
          await fs.load(path, call);
          const after = await fs.status(path);
          return {
            path,
            outcome: 'done',
            bytes: after.size,
            storeBytesRead: after.size,
            cachedPercent: after.cachedPercent,
            ...(o.verify ? { repairedPages: hooks.repaired?.(path) ?? 0 } : {}),
          };
        } catch (err) {
          const e = toStrataError(err);
          return { path, error: { code: e.code, message: e.message, retryable: e.retryable } };
        }
      }),
    );
  };
  const fs = new Proxy(cluster, {
    get(target, prop) {
      if (prop === 'jobBatch') return jobBatch;
      if (prop === 'location') return location;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { fs, calls };
}
