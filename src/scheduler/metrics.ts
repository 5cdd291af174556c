import { Counter, Gauge, type Registry } from 'prom-client';
import { JOB_STATES } from '../core/jobs.js';
import { JOB_KINDS } from './job-kinds.js';

/**
 * The scheduler's Prometheus series (names are a contract: interfaces.md), registered on the
 * process's metrics registry (`strata local`: the worker's; `strata scheduler`: its own).
 * A series already registered there (a second Scheduler in the same process) is shared.
 */

export type FileOutcomeLabel = 'done' | 'skipped' | 'failed';

export class JobMetrics {
  readonly jobs: Gauge<'kind' | 'state'>;
  readonly filesProcessed: Counter<'kind' | 'outcome'>;
  readonly bytesProcessed: Counter<'kind'>;
  readonly failures: Counter<'kind' | 'code'>;
  readonly throttledSeconds: Counter<'kind'>;
  readonly leader: Gauge;

  constructor(registry: Registry, isLeader: () => boolean = () => false) {
    const reuse = <T>(name: string, make: () => T): T =>
      (registry.getSingleMetric(name) as T | undefined) ?? make();
    this.jobs = reuse(
      'strata_jobs',
      () =>
        new Gauge({
          name: 'strata_jobs',
          help: 'Jobs in the registry by kind and state (refreshed by the leading scheduler)',
          labelNames: ['kind', 'state'] as const,
          registers: [registry],
        }),
    );
    this.filesProcessed = reuse(
      'strata_job_files_processed_total',
      () =>
        new Counter({
          name: 'strata_job_files_processed_total',
          help: 'Files handled by jobs, by outcome (done, skipped, failed)',
          labelNames: ['kind', 'outcome'] as const,
          registers: [registry],
        }),
    );
    this.bytesProcessed = reuse(
      'strata_job_bytes_processed_total',
      () =>
        new Counter({
          name: 'strata_job_bytes_processed_total',
          help: 'Bytes of the files jobs finished (done)',
          labelNames: ['kind'] as const,
          registers: [registry],
        }),
    );
    this.failures = reuse(
      'strata_job_failures_total',
      () =>
        new Counter({
          name: 'strata_job_failures_total',
          help: 'Files (or listings) a job gave up on, by error code',
          labelNames: ['kind', 'code'] as const,
          registers: [registry],
        }),
    );
    this.throttledSeconds = reuse(
      'strata_job_throttled_seconds_total',
      () =>
        new Counter({
          name: 'strata_job_throttled_seconds_total',
          help: 'Time jobs held transfers back to stay within their bandwidth',
          labelNames: ['kind'] as const,
          registers: [registry],
        }),
    );
    this.leader = reuse(
      'strata_scheduler_leader',
      () =>
        new Gauge({
          name: 'strata_scheduler_leader',
          help: '1 while this scheduler is the elected leader, else 0',
          registers: [registry],
          collect() {
            this.set(isLeader() ? 1 : 0);
          },
        }),
    );
  }

  /** Sets strata_jobs from a listing of the registry: every known kind × state, 0 where none. */
  refreshJobs(jobs: ReadonlyArray<{ readonly kind: string; readonly state: string }>): void {
    const counts = new Map<string, number>();
    for (const kind of Object.keys(JOB_KINDS))
      for (const state of JOB_STATES) counts.set(`${kind}\0${state}`, 0);
    for (const j of jobs) {
      const key = `${j.kind}\0${j.state}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    this.jobs.reset();
    for (const [key, n] of counts) {
      const [kind, state] = key.split('\0') as [string, string];
      this.jobs.set({ kind, state }, n);
    }
  }
}
