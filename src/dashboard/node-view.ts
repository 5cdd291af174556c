import type { Registry as PromRegistry } from 'prom-client';
import type { HistorySample } from './history.js';

/**
 * What one worker process tells the dashboard about itself, read from its own Prometheus series
 * (the same numbers /metrics shows, never a second count): per mount, bytes served from the cache,
 * missed, read from and written to the store; evictions; the lease's last renewal. In a cluster
 * the worker serving the page asks every other worker for this view
 * (`GET /api/v1/dashboard/node`) and sums.
 */

export interface MountCounters {
  hitBytes: number;
  missBytes: number;
  storeReadBytes: number;
  storeWriteBytes: number;
}

export interface NodeView {
  readonly id: string;
  /** Last lease grant or renewal (epoch ms), undefined before registering. */
  readonly leaseRenewedAtMs?: number;
  readonly mounts: Readonly<Record<string, MountCounters>>;
  readonly evictions: number;
  readonly usedBytes: number;
}

const BY_MOUNT: ReadonlyArray<[keyof MountCounters, string]> = [
  ['hitBytes', 'strata_cache_hit_bytes_total'],
  ['missBytes', 'strata_cache_miss_bytes_total'],
  ['storeReadBytes', 'strata_ufs_read_bytes_total'],
  ['storeWriteBytes', 'strata_ufs_write_bytes_total'],
];

async function values(
  registry: PromRegistry,
  name: string,
): Promise<Array<{ labels: Record<string, unknown>; value: number }>> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return [];
  return (await metric.get()).values as Array<{ labels: Record<string, unknown>; value: number }>;
}

/** Reads the counters of one worker; `refreshGauges` updates the tier gauges first. */
export async function readNodeCounters(
  registry: PromRegistry,
  refreshGauges: () => void,
): Promise<Pick<NodeView, 'mounts' | 'evictions' | 'usedBytes'>> {
  refreshGauges();
  const mounts: Record<string, MountCounters> = {};
  for (const [field, name] of BY_MOUNT) {
    for (const v of await values(registry, name)) {
      const mount = String(v.labels.mount ?? '');
      mounts[mount] ??= { hitBytes: 0, missBytes: 0, storeReadBytes: 0, storeWriteBytes: 0 };
      mounts[mount][field] += v.value;
    }
  }
  const evictions = (await values(registry, 'strata_page_store_evictions_total')).reduce(
    (a, v) => a + v.value,
    0,
  );
  // Tiers are inclusive (a page in memory is also on disk): the largest tier is what is cached.
  const used = (await values(registry, 'strata_page_store_used_bytes')).map((v) => v.value);
  return { mounts, evictions, usedBytes: Math.max(0, ...used) };
}

/** The history sample of a node's counters. */
export function sampleOf(c: Pick<NodeView, 'mounts' | 'evictions' | 'usedBytes'>): Omit<HistorySample, 't'> {
  const sum = { hitBytes: 0, missBytes: 0, storeReadBytes: 0, storeWriteBytes: 0 };
  for (const m of Object.values(c.mounts)) {
    sum.hitBytes += m.hitBytes;
    sum.missBytes += m.missBytes;
    sum.storeReadBytes += m.storeReadBytes;
    sum.storeWriteBytes += m.storeWriteBytes;
  }
  return { ...sum, evictions: c.evictions, usedBytes: c.usedBytes };
}
