import { randomUUID } from 'node:crypto';
import { toStrataError } from '../core/errors.js';
import type { StrataFileSystem } from '../core/file-system.js';
import { logger } from '../core/log.js';
import type { LeaderHandle, Registry } from '../registry/registry.js';
import { type EngineOptions, runJob } from './engine.js';
import { isFinal, type SchedulerJob } from './job-record.js';

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
  /** Passed to each engine (signal and stop are the scheduler's). */
  readonly engine?: Omit<EngineOptions, 'signal' | 'stop'>;
}

export const DEFAULT_MAX_RUNNING = 4;

export class Scheduler {
  readonly id: string;
  private readonly maxRunning: number;
  private readonly pollMs: number;
  private readonly halt = new AbortController();
  private readonly running = new Map<string, Promise<void>>();
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
    if (this.running.size >= this.maxRunning) return;
    const jobs = (await this.registry.listJobs()) as SchedulerJob[];
    const order = (j: SchedulerJob) => (j.state === 'RUNNING' ? 0 : 1);
    const candidates = jobs
      .filter((j) => (j.state === 'RUNNING' || j.state === 'PENDING') && !this.running.has(j.id))
      .sort((a, b) => order(a) - order(b) || a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
    for (const job of candidates) {
      if (this.running.size >= this.maxRunning || this.halt.signal.aborted) return;
      const run = runJob(this.registry, this.fs, job.id, { ...this.options.engine, stop: this.halt.signal })
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
          this.kick?.();
        });
      this.running.set(job.id, run);
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
