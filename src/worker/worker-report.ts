import type { PageStore } from '../cache/page-store.js';
import type { ClusterReport, WorkerReport } from '../core/file-system.js';
import type { WorkerMetrics } from './metrics.js';
import type { Persister } from './persister.js';

export interface WorkerIdentity {
  readonly id: string;
  readonly address: string;
  readonly registryUri: string;
  readonly version: string;
  readonly startedAtMs?: number;
}

/** The worker's own line of `strata report`, and the gauges refreshed before each scrape. */
export class WorkerReporter {
  constructor(
    private readonly identity: WorkerIdentity,
    private readonly pages: Pick<PageStore, 'stats'>,
    private readonly metrics: WorkerMetrics,
    private readonly persister: Pick<Persister, 'pending'>,
  ) {}

  async report(mounts: ClusterReport['mounts']): Promise<ClusterReport> {
    return {
      version: this.identity.version,
      registry: this.identity.registryUri,
      mounts,
      pendingPersists: this.persister.pending,
      workers: [await this.worker()],
    };
  }

  updateGauges(): void {
    const stats = this.pages.stats();
    for (const t of stats.tiers) {
      this.metrics.usedBytes.set({ tier: t.tier }, t.usedBytes);
      this.metrics.capacityBytes.set({ tier: t.tier }, t.capacityBytes);
    }
    this.metrics.corruptPages.set(stats.corruptPages);
    for (const [reason, n] of Object.entries(stats.unsealFailures ?? {})) {
      const seen = this.metrics.unsealFailuresSeen.get(reason) ?? 0;
      if (n > seen) this.metrics.unsealFailures.inc({ reason }, n - seen);
      this.metrics.unsealFailuresSeen.set(reason, n);
    }
    this.metrics.pendingPersists.set(this.persister.pending);
  }

  private async worker(): Promise<WorkerReport> {
    const stats = this.pages.stats();
    const hits = await sumCounter(this.metrics, 'strata_cache_hit_bytes_total');
    const misses = await sumCounter(this.metrics, 'strata_cache_miss_bytes_total');
    return {
      id: this.identity.id,
      address: this.identity.address,
      state: 'ACTIVE',
      capacityBytes: stats.tiers.reduce((a, t) => a + t.capacityBytes, 0),
      usedBytes: Math.max(0, ...stats.tiers.map((t) => t.usedBytes)),
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      tiers: stats.tiers.map((t) => ({
        tier: t.tier,
        capacityBytes: t.capacityBytes,
        usedBytes: t.usedBytes,
        pages: t.pages,
        evictions: t.evictions,
      })),
      startedAtMs: this.identity.startedAtMs ?? 0,
      version: this.identity.version,
    };
  }
}

async function sumCounter(metrics: WorkerMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values.reduce((a, v) => a + v.value, 0);
}
