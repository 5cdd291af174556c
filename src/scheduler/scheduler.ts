import { randomUUID } from 'node:crypto';
import type { Registry as MetricsRegistry } from 'prom-client';
import { toStrataError } from '../core/errors.js';
import type { StrataFileSystem } from '../core/file-system.js';
import { logger } from '../core/log.js';
import type { LeaderHandle, Registry } from '../registry/registry.js';
import { type EngineOptions, runJob } from './engine.js';
import { isFinal, type SchedulerJob } from './job-record.js';
import { JobMetrics } from './metrics.js';

/**
 * The scheduler loop: campaigns for the `scheduler` role and, while leader, runs the registry's
 * unfinished jobs with the engine — RUNNING ones first (resumed from their cursor), then PENDING
 * ones in the order they were created — at most `maxRunning` at once; the rest stay PENDING.
 * It looks at the registry every `pollMs` and whenever `wake()` is called (a submit).
 * `stop()` stops the engines (the records stay RUNNING, resumable) and resigns.
 */

export interface SchedulerOptions {
  /** Candidate id in the election (default a random UUID). */
  readonly id?: string;
  /** Jobs run at once (default 4). */
  readonly maxRunning?: number;
  /** How often the registry is looked at for new jobs (default 500 ms). */
  readonly pollMs?: number;
  /** Passed to each engine (signal, stop and metrics are the scheduler's). */
  readonly engine?: Omit<EngineOptions, 'signal' | 'stop' | 'metrics'>;
  /** Finished jobs are kept this long after they ended, then purged by the leader (default 24 h). */
  readonly retentionMs?: number;
  /** The process's Prometheus registry: strata_jobs, strata_job_*, strata_scheduler_leader go there. */
  readonly metrics?: MetricsRegistry;
}

export const DEFAULT_MAX_RUNNING = 4;
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

export class Scheduler {
  readonly id: string;
  private readonly maxRunning: number;
  private readonly pollMs: number;
  private readonly halt = new AbortController();
  private readonly running = new Map<string, Promise<void>>();
  /** Per running job: aborted when this process serves a cancel of it (the engine stops at once). */
  private readonly cancels = new Map<string, AbortController>();
  private readonly retentionMs: number;
  private readonly metrics: JobMetrics | undefined;
  /** Set once this scheduler runs the leader's loop (pickUp runs only on the leader). */
  private leading = false;
  private leader: LeaderHandle | undefined;
  private loop: Promise<void> | undefined;
  private kick: (() => void) | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly fs: StrataFileSystem,
    private readonly options: SchedulerOptions = {},
  ) {
    this.id = options.id ?? randomUUID();
    this.maxRunning = Math.max(1, options.maxRunning ?? DEFAULT_MAX_RUNNING);
    this.pollMs = Math.max(10, options.pollMs ?? 500);
    this.retentionMs = Math.max(0, options.retentionMs ?? DEFAULT_RETENTION_MS);
    this.metrics =
      options.metrics === undefined ? undefined : new JobMetrics(options.metrics, () => this.isLeader());
  }

  /** Whether this scheduler is acting as the leader now. */
  isLeader(): boolean {
    return this.leading && !this.halt.signal.aborted;
  }

  /**
   * A cancel of `id` was written to the registry by this process: if this scheduler runs the job,
   * its engine is aborted now rather than at its next look at the record.
   */
  cancelled(id: string): void {
    this.cancels.get(id)?.abort();
  }

  /** Campaigns and, once elected, runs jobs until `stop()`. Returns at once. */
  async start(): Promise<void> {
    this.leader = await this.registry.campaign('scheduler', this.id);
    this.loop = (async () => {
      await Promise.race([this.leader!.elected, this.stopped()]);
      if (this.halt.signal.aborted) return;
      logger('scheduler_leader', { id: this.id });
      while (!this.halt.signal.aborted) {
        try {
          await this.pickUp();
        } catch (err) {
          logger('scheduler_error', { error: toStrataError(err).message });
        }
        await this.nap();
      }
    })();
  }

  /** Looks at the registry now (after a submit). */
  wake(): void {
    this.kick?.();
  }

  /** Stops every engine (jobs stay RUNNING, resumed by the next leader) and resigns. */
  async stop(): Promise<void> {
    this.halt.abort();
    this.kick?.();
    await this.loop;
    await Promise.all(this.running.values());
    await this.leader?.resign();
  }

  /** Jobs this scheduler is running now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  private async pickUp(): Promise<void> {
    this.leading = true;
    const jobs = (await this.registry.listJobs()) as SchedulerJob[];
    // The listing the leader does anyway feeds strata_jobs and the purge of old finished jobs.
    this.metrics?.refreshJobs(jobs);
    await this.purge(jobs);
    if (this.running.size >= this.maxRunning) return;
    const order = (j: SchedulerJob) => (j.state === 'RUNNING' ? 0 : 1);
    const candidates = jobs
      .filter((j) => (j.state === 'RUNNING' || j.state === 'PENDING') && !this.running.has(j.id))
      .sort((a, b) => order(a) - order(b) || a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
    for (const job of candidates) {
      if (this.running.size >= this.maxRunning || this.halt.signal.aborted) return;
      const cancel = new AbortController();
      this.cancels.set(job.id, cancel);
      const run = runJob(this.registry, this.fs, job.id, {
        ...this.options.engine,
        stop: this.halt.signal,
        signal: cancel.signal,
        ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
      })
        .then((end) =>
          // Stopped (shutdown) or taken by another writer: not an end, the record says where it got to.
          logger(isFinal(end.state) ? 'job_end' : 'job_stopped', {
            id: end.id,
            kind: end.kind,
            state: end.state,
          }),
        )
        .catch((err) => logger('job_error', { id: job.id, error: toStrataError(err).message }))
        .finally(() => {
          this.running.delete(job.id);
          this.cancels.delete(job.id);
          this.kick?.();
        });
      this.running.set(job.id, run);
    }
  }

  /** Deletes finished jobs that ended more than retentionMs ago (the leader only: it runs pickUp). */
  private async purge(jobs: readonly SchedulerJob[]): Promise<void> {
    const cutoff = Date.now() - this.retentionMs;
    for (const j of jobs) {
      if (this.halt.signal.aborted) return;
      if (!isFinal(j.state)) continue;
      const ended = typeof j.endedAtMs === 'number' ? j.endedAtMs : j.updatedAtMs;
      if (typeof ended === 'number' && ended <= cutoff) {
        await this.registry.deleteJob(j.id);
        logger('job_purged', { id: j.id, kind: j.kind, state: j.state });
      }
    }
  }

  private stopped(): Promise<void> {
    return new Promise((ok) => {
      if (this.halt.signal.aborted) ok();
      else this.halt.signal.addEventListener('abort', () => ok(), { once: true });
    });
  }

  private nap(): Promise<void> {
    return new Promise((ok) => {
      const timer = setTimeout(done, this.pollMs);
      function done() {
        clearTimeout(timer);
        ok();
      }
      this.kick = () => {
        this.kick = undefined;
        done();
      };
    });
  }
}
