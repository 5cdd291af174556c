import type { ClusterReport, StrataFileSystem, TierReport, WorkerLocation } from '../core/file-system.js';
import type { JobInfo } from '../core/jobs.js';
import { type HistorySample, mergeHistories } from './history.js';
import type { MountCounters, NodeView } from './node-view.js';

/**
 * The pages' data, computed from what already exists: the file system's `report()` (the data of
 * `strata report --json`: through the registry, every worker of the cluster), each worker's own
 * counters (NodeView, asked of each worker's admin port) and the jobs API.
 */

export type DashboardFileSystem = StrataFileSystem & {
  location?(path: string): readonly WorkerLocation[];
};

export interface ViewSources {
  readonly role: 'local' | 'worker';
  /** The id of the worker serving the page. */
  readonly selfId: string;
  fs(): Promise<DashboardFileSystem>;
  self(): Promise<NodeView>;
  selfHistory(): readonly HistorySample[];
  /** GET of another worker's dashboard API (its admin address), with the cluster token. */
  peer<T>(address: string, path: string): Promise<T>;
  jobs(): Promise<JobInfo[]>;
  readonly historyIntervalMs: number;
}

export interface JobsView {
  /** False when no scheduler answered (message says why). */
  readonly available: boolean;
  readonly message?: string;
  /** The newest MAX_JOBS_SHOWN jobs, newest first. */
  readonly jobs: readonly JobInfo[];
  /** Counted over every job, not only those shown. */
  readonly running: number;
  readonly pending: number;
}

/** Most jobs a page shows (newest first). */
export const MAX_JOBS_SHOWN = 200;

const ZERO: MountCounters = { hitBytes: 0, missBytes: 0, storeReadBytes: 0, storeWriteBytes: 0 };

export class DashboardViews {
  constructor(private readonly s: ViewSources) {}

  async report(): Promise<ClusterReport> {
    return (await this.s.fs()).report();
  }

  /** Every listed worker's own view; undefined for one that did not answer. */
  async nodes(report: ClusterReport): Promise<Map<string, NodeView | undefined>> {
    const out = new Map<string, NodeView | undefined>();
    await Promise.all(
      report.workers.map(async (w) => {
        if (w.state === 'LOST') return void out.set(w.id, undefined);
        try {
          out.set(
            w.id,
            w.id === this.s.selfId
              ? await this.s.self()
              : await this.s.peer<NodeView>(w.address, '/api/v1/dashboard/node'),
          );
        } catch {
          out.set(w.id, undefined);
        }
      }),
    );
    return out;
  }

  async jobs(): Promise<JobsView> {
    try {
      const jobs = await this.s.jobs();
      return {
        available: true,
        jobs: [...jobs].reverse().slice(0, MAX_JOBS_SHOWN),
        running: jobs.filter((j) => j.state === 'RUNNING').length,
        pending: jobs.filter((j) => j.state === 'PENDING').length,
      };
    } catch (err) {
      return { available: false, message: (err as Error).message, jobs: [], running: 0, pending: 0 };
    }
  }

  async overview() {
    const report = await this.report();
    const [nodes, jobs] = await Promise.all([this.nodes(report), this.jobs()]);
    const totals = { ...ZERO };
    for (const n of nodes.values()) for (const m of Object.values(n?.mounts ?? {})) add(totals, m);
    const states = { ACTIVE: 0, DRAINING: 0, LOST: 0 };
    for (const w of report.workers) states[w.state]++;
    const tiers = new Map<string, TierReport>();
    for (const w of report.workers)
      for (const t of w.tiers) {
        const had = tiers.get(t.tier);
        tiers.set(
          t.tier,
          had === undefined
            ? { ...t }
            : {
                tier: t.tier,
                capacityBytes: had.capacityBytes + t.capacityBytes,
                usedBytes: had.usedBytes + t.usedBytes,
                pages: had.pages + t.pages,
                evictions: had.evictions + t.evictions,
              },
        );
      }
    return {
      role: this.s.role,
      servedBy: this.s.selfId,
      version: report.version,
      registry: report.registry,
      workers: { total: report.workers.length, ...states },
      tiers: [...tiers.values()],
      ...totals,
      hitRatio: ratio(totals),
      // Egress saved needs a per-mount cost, which the policies issue adds.
      egressSavedBytes: null,
      pendingPersists: report.pendingPersists,
      mounts: report.mounts.length,
      jobs: {
        available: jobs.available,
        ...(jobs.message === undefined ? {} : { message: jobs.message }),
        running: jobs.running,
        pending: jobs.pending,
      },
    };
  }

  async workers() {
    const report = await this.report();
    const nodes = await this.nodes(report);
    return {
      workers: report.workers.map((w) => {
        const n = nodes.get(w.id);
        return { ...w, leaseRenewedAtMs: n?.leaseRenewedAtMs ?? null, answered: n !== undefined };
      }),
    };
  }

  /** Mounts (credentials already masked by mountInfo) with their counters summed over workers. */
  async mounts() {
    const report = await this.report();
    const nodes = await this.nodes(report);
    return {
      mounts: report.mounts.map((m) => {
        const c = { ...ZERO };
        for (const n of nodes.values()) {
          const mine = n?.mounts[m.path];
          if (mine !== undefined) add(c, mine);
        }
        return { ...m, ...c, hitRatio: ratio(c) };
      }),
    };
  }

  /** The cluster's history: this worker's own, merged with every other live worker's. */
  async history(): Promise<{ intervalMs: number; samples: HistorySample[] }> {
    if (this.s.role === 'local')
      return { intervalMs: this.s.historyIntervalMs, samples: [...this.s.selfHistory()] };
    const report = await this.report();
    const all = await Promise.all(
      report.workers.map(async (w) => {
        if (w.id === this.s.selfId) return this.s.selfHistory();
        if (w.state === 'LOST') return [];
        try {
          return (
            await this.s.peer<{ samples: HistorySample[] }>(w.address, '/api/v1/dashboard/node/history')
          ).samples;
        } catch {
          return [];
        }
      }),
    );
    return { intervalMs: this.s.historyIntervalMs, samples: mergeHistories(all, this.s.historyIntervalMs) };
  }
}

function add(into: MountCounters, c: MountCounters): void {
  into.hitBytes += c.hitBytes;
  into.missBytes += c.missBytes;
  into.storeReadBytes += c.storeReadBytes;
  into.storeWriteBytes += c.storeWriteBytes;
}

function ratio(c: MountCounters): number {
  return c.hitBytes + c.missBytes === 0 ? 0 : c.hitBytes / (c.hitBytes + c.missBytes);
}
