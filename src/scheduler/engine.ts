import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { StrataError, toStrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';
import { normalizePath } from '../core/paths.js';
import type { Registry } from '../registry/registry.js';
import { type FileOutcome, kindsConflict, pathsOverlap, resolveKind } from './job-kinds.js';
import {
  boundRecord,
  type DoneBatch,
  isFinal,
  type JobCounters,
  type JobFailure,
  type JobState,
  newJobRecord,
  type SchedulerJob,
  withFailure,
} from './job-record.js';
import { compareTraversal, walk } from './traversal.js';

/**
 * The job engine: runs one job over a routing StrataFileSystem (ClusterFileSystem, or one
 * worker). It walks the tree a directory at a time (traversal.ts), cuts the files into batches of
 * `batchSize` in traversal order, splits each batch by owner (`fs.location`) and sends each part
 * to its owner, `fileConcurrency` files at a time; up to `concurrency` batches are in flight while
 * the listing goes on. After each batch the counters and the cursor are written to the registry
 * (compare-and-set on the record's version: an engine that lost the record — it was cancelled,
 * or another engine took it — stops). Memory: one directory listing, the subdirectory paths of
 * the directories being walked, and the batches in flight.
 */

export interface EngineOptions {
  /** Files per batch (default 128). */
  readonly batchSize?: number;
  /** Batches in flight (default 2). */
  readonly concurrency?: number;
  /** Files handled at once per owner within a batch (default 4). */
  readonly fileConcurrency?: number;
  /** Tries per file for retryable errors (default 3), with backoff from `backoffMs` (default 50), doubling. */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** Past this share of failed files (of those handled) a job ends FAILED, else COMPLETED_WITH_FAILURES. */
  readonly failureRatio?: number;
  /** Cancels the job: new work stops, work in flight is aborted, the job ends CANCELLED. */
  readonly signal?: AbortSignal;
  /** Stops this engine only (shutdown, lost leadership): the record stays RUNNING for another to resume. */
  readonly stop?: AbortSignal;
  /** Called after each progress write, with the record as stored and the batch just recorded. */
  readonly onProgress?: (job: SchedulerJob, batch: number) => void;
}

/** Default failure ratio: more than 10 % of the files failed → FAILED. */
export const DEFAULT_FAILURE_RATIO = 0.1;

export interface JobSpec {
  readonly kind: string;
  readonly path: string;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly id?: string;
}

/**
 * Checks and stores a new job (PENDING): an unknown kind or option is INVALID_ARGUMENT, a kind not
 * implemented UNSUPPORTED, a path that does not exist or lies outside every mount fails as the
 * file system answers it (NOT_FOUND / NOT_MOUNTED); a job that conflicts with an unfinished one on
 * an overlapping path is ALREADY_EXISTS.
 */
export async function submitJob(
  registry: Registry,
  fs: StrataFileSystem,
  spec: JobSpec,
  call: CallOptions = {},
): Promise<SchedulerJob> {
  const { options } = resolveKind(spec.kind, spec.options);
  const path = normalizePath(spec.path);
  await fs.status(path, call);
  for (const other of await registry.listJobs()) {
    const o = other as Partial<SchedulerJob>;
    if (isFinal(other.state) || typeof o.path !== 'string') continue;
    if (kindsConflict(spec.kind, other.kind) && pathsOverlap(path, o.path)) {
      throw new StrataError(
        'ALREADY_EXISTS',
        `job ${other.id} (${other.kind} ${o.path}) conflicts with ${spec.kind} ${path}`,
      );
    }
  }
  const job = newJobRecord(spec.id ?? randomUUID(), spec.kind, path, options);
  if ((await registry.putJobIf(job, 0)) === undefined) {
    throw new StrataError('ALREADY_EXISTS', `a job with id ${job.id} exists`);
  }
  return job;
}

/** Asks a job to end CANCELLED: its engine sees the record change at its next write and stops. */
export async function cancelJob(registry: Registry, id: string): Promise<SchedulerJob> {
  for (;;) {
    const current = await registry.readJob(id);
    if (current === undefined) throw new StrataError('NOT_FOUND', `no job ${id}`);
    const job = current.job as SchedulerJob;
    if (isFinal(job.state)) return job;
    const now = Date.now();
    const next: SchedulerJob = { ...job, state: 'CANCELLED', updatedAtMs: now, endedAtMs: now };
    if ((await registry.putJobIf(next, current.version)) !== undefined) return next;
  }
}

interface Batch {
  readonly id: number;
  readonly files: readonly FileInfo[];
  done: boolean;
}

type Outcome = FileOutcome | { code: string; message: string };

/**
 * Runs (or resumes) the job `id` to its end and returns its final record; returns the record as
 * stored when the engine stopped (`stop`) or lost the record to another writer.
 */
export async function runJob(
  registry: Registry,
  fs: StrataFileSystem,
  id: string,
  options: EngineOptions = {},
): Promise<SchedulerJob> {
  return new JobRun(registry, fs, options).run(id);
}

class JobRun {
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly fileConcurrency: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly failureRatio: number;
  /** Aborted on cancel, stop, or a lost record: aborts the calls in flight. */
  private readonly work = new AbortController();
  private job!: SchedulerJob;
  private version = 0;
  private lost = false;
  private writing: Promise<void> = Promise.resolve();
  /** Batches cut and not yet behind the watermark, in traversal order. */
  private readonly open: Batch[] = [];
  /** Done batches beyond the cursor inherited from an earlier engine. */
  private inherited: DoneBatch[] = [];
  /** The id of the next batch cut: ids are never reused across resumes. */
  private nextId = 1;

  constructor(
    private readonly registry: Registry,
    private readonly fs: StrataFileSystem,
    private readonly options: EngineOptions,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 128);
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.fileConcurrency = Math.max(1, options.fileConcurrency ?? 4);
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 50;
    this.failureRatio = options.failureRatio ?? DEFAULT_FAILURE_RATIO;
    // Every call in flight listens on it: batches × owners × files per owner, and a few per call.
    setMaxListeners(Math.max(100, 16 * this.concurrency * this.fileConcurrency * 8), this.work.signal);
  }

  private get call(): CallOptions {
    return { signal: this.work.signal };
  }

  private halted(): boolean {
    return this.work.signal.aborted;
  }

  async run(id: string): Promise<SchedulerJob> {
    const current = await this.registry.readJob(id);
    if (current === undefined) throw new StrataError('NOT_FOUND', `no job ${id}`);
    this.job = current.job as SchedulerJob;
    this.version = current.version;
    if (isFinal(this.job.state)) return this.job;
    const { kind } = resolveKind(this.job.kind, this.job.options);
    const onAbort = () => this.work.abort(new StrataError('CANCELLED', 'job stopped'));
    for (const s of [this.options.signal, this.options.stop]) {
      if (s?.aborted) onAbort();
      s?.addEventListener('abort', onAbort, { once: true });
    }
    try {
      const c = this.job.counters;
      const now = Date.now();
      // Resumed: what was listed but not handled is listed again, so the totals restart from the handled.
      const handled = c.doneFiles + c.skippedFiles + c.failedFiles;
      this.inherited = [...this.job.cursor.done];
      this.nextId = Math.max(this.job.cursor.nextBatch, ...this.inherited.map((d) => d.id + 1));
      this.job = {
        ...this.job,
        state: 'RUNNING',
        startedAtMs: this.job.startedAtMs ?? now,
        counters: { ...c, listedFiles: handled, listedBytes: c.handledBytes },
      };
      await this.write(this.job);
      if (this.lost) return this.job;
      const file = kind.file!;
      await this.walkAndRun((f) => file(this.fs, f, this.job.options, this.call));
      await this.writing;
      if (this.lost) return this.job;
      if (this.options.signal?.aborted) return await this.finish('CANCELLED');
      if (this.options.stop?.aborted) return this.job;
      const k = this.job.counters;
      if (k.failedFiles === 0) return await this.finish('SUCCEEDED');
      const ratio = k.failedFiles / Math.max(1, k.doneFiles + k.skippedFiles + k.failedFiles);
      return await this.finish(ratio > this.failureRatio ? 'FAILED' : 'COMPLETED_WITH_FAILURES');
    } catch (err) {
      await this.writing.catch(() => undefined);
      if (this.lost) return this.job;
      if (this.options.signal?.aborted) return await this.finish('CANCELLED');
      if (this.options.stop?.aborted) return this.job;
      const e = toStrataError(err);
      return await this.finish('FAILED', { code: e.code, message: e.message });
    } finally {
      for (const s of [this.options.signal, this.options.stop]) s?.removeEventListener('abort', onAbort);
    }
  }

  private async walkAndRun(handle: (f: FileInfo) => Promise<FileOutcome>): Promise<void> {
    const root = await this.fs.status(this.job.path, this.call);
    const inFlight = new Set<Promise<void>>();
    let pending: FileInfo[] = [];
    const cut = async () => {
      const batch: Batch = { id: this.nextId++, files: pending, done: false };
      pending = [];
      this.open.push(batch);
      const p = this.runBatch(batch, handle).finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= this.concurrency) await Promise.race(inFlight);
    };
    const after = this.job.cursor.after;
    const files =
      root.type === 'file'
        ? (async function* () {
            if (after === undefined) yield root;
          })()
        : walk(this.fs, root.path, after, this.call, (path, err) => this.listingFailed(path, err));
    for await (const f of files) {
      if (this.halted()) break;
      if (
        this.inherited.some(
          (d) => compareTraversal(d.first, f.path) <= 0 && compareTraversal(f.path, d.last) <= 0,
        )
      ) {
        continue;
      }
      this.count({ listedFiles: 1, listedBytes: f.size });
      pending.push(f);
      if (pending.length >= this.batchSize) await cut();
    }
    if (!this.halted() && pending.length > 0) await cut();
    await Promise.all(inFlight);
    if (this.halted()) throw this.work.signal.reason;
  }

  private listingFailed(path: string, err: unknown): void {
    const e = toStrataError(err);
    this.job = {
      ...this.job,
      failures: withFailure(this.job.failures, { path, code: e.code, message: `listing: ${e.message}` }),
      counters: { ...this.job.counters, failedFiles: this.job.counters.failedFiles + 1 },
    };
  }

  private count(delta: Partial<JobCounters>): void {
    const c: Record<string, number> = { ...this.job.counters };
    for (const [k, v] of Object.entries(delta)) c[k] = (c[k] ?? 0) + (v ?? 0);
    this.job = { ...this.job, counters: c as unknown as JobCounters };
  }

  /** Sends the batch's files to their owners; records it when all of them are handled. */
  private async runBatch(batch: Batch, handle: (f: FileInfo) => Promise<FileOutcome>): Promise<void> {
    const byOwner = new Map<string, FileInfo[]>();
    for (const f of batch.files) {
      const owner = this.fs.location?.(f.path)[0]?.id ?? '';
      const group = byOwner.get(owner) ?? [];
      group.push(f);
      byOwner.set(owner, group);
    }
    const outcomes = new Map<string, Outcome>();
    await Promise.all(
      [...byOwner.values()].map(async (group) => {
        let next = 0;
        const lane = async () => {
          while (next < group.length && !this.halted()) {
            const f = group[next++]!;
            const o = await this.withRetries(f, handle);
            if (o !== undefined) outcomes.set(f.path, o);
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.fileConcurrency, group.length) }, lane));
      }),
    );
    if (this.halted() || outcomes.size < batch.files.length) return; // not recorded: redone on resume
    let done = 0;
    let doneBytes = 0;
    let skipped = 0;
    let failures: readonly JobFailure[] = this.job.failures;
    let failed = 0;
    for (const f of batch.files) {
      const o = outcomes.get(f.path)!;
      if (o === 'done') {
        done++;
        doneBytes += f.size;
      } else if (o === 'skipped') skipped++;
      else {
        failed++;
        failures = withFailure(failures, { path: f.path, ...o });
      }
    }
    this.job = { ...this.job, failures };
    this.count({
      doneFiles: done,
      doneBytes,
      skippedFiles: skipped,
      failedFiles: failed,
      handledBytes: batch.files.reduce((s, f) => s + f.size, 0),
    });
    batch.done = true;
    this.advanceCursor();
    await this.write(this.job);
    if (!this.lost) this.options.onProgress?.(this.job, batch.id);
  }

  /** The file's outcome, or undefined when the job was halted before it was handled. */
  private async withRetries(
    f: FileInfo,
    handle: (f: FileInfo) => Promise<FileOutcome>,
  ): Promise<Outcome | undefined> {
    for (let attempt = 1; ; attempt++) {
      if (this.halted()) return undefined;
      try {
        return await handle(f);
      } catch (err) {
        if (this.halted()) return undefined;
        const e = toStrataError(err);
        // A file that vanished (NOT_FOUND) or any other non-retryable error is a listed failure at once.
        if (!e.retryable || attempt >= this.attempts) return { code: e.code, message: e.message };
        try {
          await sleep(this.backoffMs * 2 ** (attempt - 1), undefined, { signal: this.work.signal });
        } catch {
          return undefined;
        }
      }
    }
  }

  /** Moves `after` past every leading done batch; keeps the done ones beyond it in `cursor.done`. */
  private advanceCursor(): void {
    let after = this.job.cursor.after;
    while (this.open[0]?.done) {
      const b = this.open.shift()!;
      after = b.files.at(-1)!.path;
    }
    if (after !== undefined) {
      const mark = after;
      this.inherited = this.inherited.filter((d) => compareTraversal(d.last, mark) > 0);
    }
    const done: DoneBatch[] = [
      ...this.inherited,
      ...this.open
        .filter((b) => b.done)
        .map((b) => ({ id: b.id, first: b.files[0]!.path, last: b.files.at(-1)!.path })),
    ];
    this.job = {
      ...this.job,
      cursor: { ...(after === undefined ? {} : { after }), nextBatch: this.nextId, done },
    };
  }

  /** Writes the record (serialised, compare-and-set); a refused write means the record is no longer ours. */
  private write(job: SchedulerJob): Promise<void> {
    const step = this.writing.then(async () => {
      if (this.lost) return;
      const stored = boundRecord({ ...job, updatedAtMs: Date.now() });
      const version = await this.registry.putJobIf(stored, this.version);
      if (version === undefined) {
        this.lost = true;
        this.work.abort(new StrataError('CANCELLED', 'the job record changed under this engine'));
        const now = await this.registry.readJob(stored.id);
        if (now !== undefined) this.job = now.job as SchedulerJob;
        return;
      }
      this.version = version;
      this.job = { ...this.job, updatedAtMs: stored.updatedAtMs, failures: stored.failures };
    });
    this.writing = step;
    return step;
  }

  private async finish(state: JobState, error?: { code: string; message: string }): Promise<SchedulerJob> {
    this.job = { ...this.job, state, ...(error ? { error } : {}), endedAtMs: Date.now() };
    await this.write(this.job);
    return this.job;
  }
}
