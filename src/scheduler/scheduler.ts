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
 * `stop()` stops the engines (the records stay RUNNING, resumable) and resigns. Leadership that
 * is lost stops the engines the same way and campaigns again (see `start`).
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
  /** Told when this scheduler becomes the leader (true) and when it no longer is (false). */
  readonly onLeadership?: (leader: boolean) => void;
}

export const DEFAULT_MAX_RUNNING = 4;
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Backoff between campaigns that fail (registry unreachable), doubling up to the max. */
const LEAD_RETRY_MIN_MS = 200;
const LEAD_RETRY_MAX_MS = 5000;

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
  /** True during a term as leader (elected, leadership not lost, not stopped): pickUp runs only then. */
  private leading = false;
  private leader: LeaderHandle | undefined;
  private loop: Promise<void> | undefined;
  /** Aborted when this term of leadership ends (lost, or stop()): the engines' `stop`. */
  private termSignal: AbortSignal = AbortSignal.abort();
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

  /** Whether this scheduler leads now (elected, leadership not lost, not stopped). */
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

  /**
   * Campaigns and, once elected, runs jobs until `stop()`. Returns once the first campaign is
   * registered (a registry that cannot be reached fails here). A lost leadership (the election's
   * lease expired: the registry was unreachable past it, or the lease was revoked) stops the
   * engines — their records stay RUNNING for the next leader, whose compare-and-set writes a stale
   * engine could not overwrite anyway — and campaigns again.
   */
  async start(): Promise<void> {
    const first = await this.registry.campaign('scheduler', this.id);
    this.leader = first;
    this.loop = this.lead(first);
  }

  private async lead(first: LeaderHandle): Promise<void> {
    let handle: LeaderHandle | undefined = first;
    let retryMs = LEAD_RETRY_MIN_MS;
    while (!this.halt.signal.aborted) {
      if (handle === undefined) {
        try {
          handle = await this.registry.campaign('scheduler', this.id);
          this.leader = handle;
          retryMs = LEAD_RETRY_MIN_MS;
        } catch (err) {
          logger('scheduler_campaign_error', { id: this.id, error: toStrataError(err).message, retryMs });
          await this.pause(retryMs);
          retryMs = Math.min(LEAD_RETRY_MAX_MS, retryMs * 2);
          continue;
        }
      }
      const lost = handle.lost.then((err) => ({ lost: err }));
      const outcome = await Promise.race([
        handle.elected.then(
          () => 'elected' as const,
          (err: unknown) => ({ lost: err }),
        ),
        lost,
        this.stopped().then(() => 'halt' as const),
      ]);
      if (outcome === 'halt') return;
      if (outcome === 'elected') {
        const ended = await this.term(lost);
        if (ended === 'halt') return;
        logger('scheduler_leadership_lost', { id: this.id, error: toStrataError(ended.lost).message });
      } else {
        logger('scheduler_campaign_lost', { id: this.id, error: toStrataError(outcome.lost).message });
      }
      // The old campaign is dead; drop what is left of it (its lease may already be gone).
      await handle.resign().catch(() => undefined);
      handle = undefined;
    }
  }

  /**
   * One term as leader: runs jobs until stopped or the leadership is lost, then stops this term's
   * engines (records stay RUNNING) and waits for them before anyone campaigns again.
   */
  private async term(lost: Promise<{ lost: unknown }>): Promise<'halt' | { lost: unknown }> {
    const term = new AbortController();
    const onHalt = () => term.abort();
    this.halt.signal.addEventListener('abort', onHalt, { once: true });
    this.termSignal = term.signal;
    let ended: 'halt' | { lost: unknown } | undefined;
    lost.then((l) => {
      ended ??= l;
      term.abort();
      this.kick?.();
    });
    this.leading = true;
    this.options.onLeadership?.(true);
    logger('scheduler_leader', { id: this.id });
    while (!term.signal.aborted) {
      try {
        await this.pickUp();
      } catch (err) {
        logger('scheduler_error', { error: toStrataError(err).message });
      }
      if (term.signal.aborted) break;
      await this.nap();
    }
    ended ??= 'halt';
    this.leading = false;
    this.options.onLeadership?.(false);
    await Promise.all(this.running.values());
    this.halt.signal.removeEventListener('abort', onHalt);
    return ended;
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
    await this.leader?.resign().catch((err) => {
      logger('scheduler_resign_error', { id: this.id, error: toStrataError(err).message });
    });
  }

  /** Jobs this scheduler is running now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  private async pickUp(): Promise<void> {
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
      if (this.running.size >= this.maxRunning || this.termSignal.aborted) return;
      const cancel = new AbortController();
      this.cancels.set(job.id, cancel);
      const run = runJob(this.registry, this.fs, job.id, {
        ...this.options.engine,
        stop: this.termSignal,
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
      if (this.termSignal.aborted) return;
      if (!isFinal(j.state)) continue;
      const ended = typeof j.endedAtMs === 'number' ? j.endedAtMs : j.updatedAtMs;
      if (typeof ended === 'number' && ended <= cutoff) {
        await this.registry.deleteJob(j.id);
        logger('job_purged', { id: j.id, kind: j.kind, state: j.state });
      }
    }
  }

  /** Waits `ms`, or less if stopped. */
  private pause(ms: number): Promise<void> {
    return new Promise((ok) => {
      const timer = setTimeout(done, ms);
      const signal = this.halt.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        ok();
      }
      signal.addEventListener('abort', done, { once: true });
    });
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
