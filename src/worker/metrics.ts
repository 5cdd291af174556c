import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The worker's Prometheus series. Names are a contract (dashboards and alerts depend on them):
 * add freely, never rename; docs/metrics.md lists every series (a test compares it with the live
 * /metrics). One name breaks Prometheus' conventions and stays for the scripts that read it:
 * strata_page_store_corrupt_pages_total is a gauge; strata_page_store_checksum_failures_total is
 * the same count as a counter.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly cacheHitBytes = new Counter({
    name: 'strata_cache_hit_bytes_total',
    help: 'Bytes served from the page cache',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly cacheMissBytes = new Counter({
    name: 'strata_cache_miss_bytes_total',
    help: 'Bytes requested that were not in the page cache',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly ufsReadBytes = new Counter({
    name: 'strata_ufs_read_bytes_total',
    help: 'Bytes read from under-stores',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly ufsWriteBytes = new Counter({
    name: 'strata_ufs_write_bytes_total',
    help: 'Bytes written to under-stores',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly ufsOps = new Histogram({
    name: 'strata_ufs_operation_seconds',
    help: 'Latency of under-store operations (a read: until its stream opened)',
    labelNames: ['mount', 'op'] as const,
    buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly ufsErrors = new Counter({
    name: 'strata_ufs_errors_total',
    help: 'Under-store operations that failed, by error code (TIMEOUT: past the deadline)',
    labelNames: ['mount', 'op', 'code'] as const,
    registers: [this.registry],
  });
  readonly metadataHits = new Counter({
    name: 'strata_metadata_cache_hits_total',
    help: 'Status and listing lookups served from the metadata cache',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly metadataMisses = new Counter({
    name: 'strata_metadata_cache_misses_total',
    help: 'Status and listing lookups that went to the under-store',
    labelNames: ['mount'] as const,
    registers: [this.registry],
  });
  readonly usedBytes = new Gauge({
    name: 'strata_page_store_used_bytes',
    help: 'Bytes of pages held per tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });
  readonly capacityBytes = new Gauge({
    name: 'strata_page_store_capacity_bytes',
    help: 'Quota per tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'strata_page_store_evictions_total',
    help: 'Pages evicted per tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });
  readonly corruptPages = new Gauge({
    name: 'strata_page_store_corrupt_pages_total',
    help: 'Pages that failed their checksum and were dropped (since start). A gauge, kept for compatibility: use strata_page_store_checksum_failures_total',
    registers: [this.registry],
  });
  readonly checksumFailures = new Counter({
    name: 'strata_page_store_checksum_failures_total',
    help: 'Pages that failed their checksum and were dropped (since start)',
    registers: [this.registry],
    // Follows the gauge above, which the worker sets from the page store's count before a scrape.
    collect: async () => {
      const now = (await this.corruptPages.get()).values[0]?.value ?? 0;
      if (now > this.checksumFailuresSeen) {
        this.checksumFailures.inc(now - this.checksumFailuresSeen);
        this.checksumFailuresSeen = now;
      }
    },
  });
  private checksumFailuresSeen = 0;
  readonly unsealFailures = new Counter({
    name: 'strata_page_store_unseal_failures_total',
    help: 'Disk pages dropped (and read again from the store) because they did not open with the disk encryption key, by reason: wrong_key, tampered, not_sealed, no_key',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** reason → the count already added to unsealFailures (the page store keeps the totals). */
  readonly unsealFailuresSeen = new Map<string, number>();
  readonly pageWriteFailures = new Counter({
    name: 'strata_page_store_write_failures_total',
    help: 'Disk-tier page writes that failed, by tier and reason: no_space (the tier shrinks to what its disk holds), read_only, io_error (new pages skip the tier for 10 s, memory only)',
    labelNames: ['tier', 'reason'] as const,
    registers: [this.registry],
  });
  readonly readBufferedBytes = new Gauge({
    name: 'strata_read_buffered_bytes',
    help: 'Bytes of pages fetched ahead of their readers (readahead windows, store runs, prefetches)',
    registers: [this.registry],
  });
  readonly readBufferCapacity = new Gauge({
    name: 'strata_read_buffer_capacity_bytes',
    help: 'Budget of strata_read_buffered_bytes (a quarter of the memory tier, at least one readahead)',
    registers: [this.registry],
  });
  readonly pendingPersists = new Gauge({
    name: 'strata_async_persist_pending',
    help: 'ASYNC_THROUGH writes not yet persisted to their store',
    registers: [this.registry],
  });
}

/** Reports every under-store call of a mount into the worker's series (the mount table's hook). */
export function observeStoreCalls(metrics: WorkerMetrics) {
  return (mount: string, op: string, seconds: number, errorCode: string | undefined): void => {
    metrics.ufsOps.observe({ mount, op }, seconds);
    if (errorCode !== undefined) metrics.ufsErrors.inc({ mount, op, code: errorCode });
  };
}

/**
 * The mount table's hooks: every store call observed, and each mount's byte and lookup series
 * created at 0 when the mount becomes active on this worker. Prometheus' rate() and increase()
 * only see what a series gained after its first scrape, so a series born with its first burst
 * of reads would hide that burst from every windowed query.
 */
export function storeInstrumentation(metrics: WorkerMetrics): {
  observe: ReturnType<typeof observeStoreCalls>;
  activated: (mount: string) => void;
} {
  return {
    observe: observeStoreCalls(metrics),
    activated: (mount) => {
      for (const c of [
        metrics.cacheHitBytes,
        metrics.cacheMissBytes,
        metrics.ufsReadBytes,
        metrics.ufsWriteBytes,
        metrics.metadataHits,
        metrics.metadataMisses,
      ])
        c.inc({ mount }, 0);
    },
  };
}
