import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { StrataError, toStrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';
import { Semaphore } from '../core/semaphore.js';
import type { Registry, VersionedJob } from '../registry/registry.js';
import { removeEmptyDirectories } from './copy.js';
import { type DispatchOptions, dispatchBatch, type FileResult, jobBatchOf } from './dispatch.js';
import { type JobKind, resolveKind } from './job-kinds.js';
import {
  boundRecord,
  type DoneBatch,
  isFinal,
  type JobCounters,
  type JobFailure,
  type JobState,
  type SchedulerJob,
  withFailure,
  withNote,
} from './job-record.js';
import { lineKey, lineOfKey, readList } from './list-source.js';
import type { JobMetrics } from './metrics.js';
import { TokenBucket } from './token-bucket.js';
import { compareTraversal, walk } from './traversal.js';

export { cancelJob, type JobSpec, submitJob, submitOrFind, updateJobOptions } from './job-submit.js';

/**
 * The job engine: runs one job over a routing StrataFileSystem (ClusterFileSystem, or one
 * worker). It walks the tree a directory at a time (traversal.ts), cuts the files into batches of
 * `batchSize` in traversal order and hands each batch to dispatch.ts (grouped by owner, one batch
 * call per owner, bandwidth, retries); up to `concurrency` batches are in flight while the
 * listing goes on. After each batch the counters and the cursor are written to the registry
 * (compare-and-set on the record's version, see `write`). Memory: one directory listing, the
 * subdirectory paths of the directories being walked, and the batches in flight.
 */

export interface EngineOptions {
  /** Files per batch (default 128). */
  readonly batchSize?: number;
  /**
   * Batches in flight (default 4): the next batches wait at the workers (whose job-batch lanes are
   * bounded per worker) while the last files of one finish, so the lanes never run dry between
   * batches; the resume cursor re-sends at most this many batches.
   */
  readonly concurrency?: number;
  /** Batch calls in flight across the job's batches (default 8). */
  readonly callConcurrency?: number;
  /** Files handled at once per owner on the per-file fallback (default 4). */
  readonly fileConcurrency?: number;
  /** Tries per file for retryable errors (default 3), with backoff from `backoffMs` (default 50), doubling. */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /**
   * How long a path whose worker fails (UNAVAILABLE, TIMEOUT) keeps being retried — re-grouped
   * each time, so once the worker's lease expires its paths go to the new owners (default 30 s).
   */
  readonly retryWindowMs?: number;
  /** Past this share of failed files (of those handled) a job ends FAILED, else COMPLETED_WITH_FAILURES. */
  readonly failureRatio?: number;
  /** How often the record is looked at while batches are in flight (cancel, bandwidth; default 250 ms). */
  readonly watchMs?: number;
  /** Cancels the job: new work stops, work in flight is aborted, the job ends CANCELLED. */
  readonly signal?: AbortSignal;
  /** Stops this engine only (shutdown, lost leadership): the record stays RUNNING for another to resume. */
  readonly stop?: AbortSignal;
  /** Called after each progress write, with the record as stored and the batch just recorded. */
  readonly onProgress?: (job: SchedulerJob, batch: number) => void;
  readonly metrics?: JobMetrics;
}

/** Default failure ratio: more than 10 % of the files failed → FAILED. */
export const DEFAULT_FAILURE_RATIO = 0.1;
/** See EngineOptions.concurrency. */
export const DEFAULT_BATCHES_IN_FLIGHT = 4;

interface Batch {
  readonly id: number;
  readonly files: readonly FileInfo[];
  /** Each entry's place in the job's order (its path in a tree walk, lineKey(line) in a list), files and failed entries alike. */
  readonly keys: readonly string[];
  /** List entries that name no file: recorded with the batch, so a resume does not count them twice. */
  readonly failed: readonly JobFailure[];
  done: boolean;
}

type SourceEntry =
  | { readonly key: string; readonly file: FileInfo }
  | { readonly key: string; readonly failure: JobFailure };

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

/** The ids of the live workers, where the file system routes over a membership (ClusterFileSystem). */
function liveWorkerIds(fs: StrataFileSystem): Set<string> | undefined {
  const members = (fs as { liveWorkers?: () => ReadonlyArray<{ id: string }> }).liveWorkers;
  return typeof members === 'function' ? new Set(members.call(fs).map((w) => w.id)) : undefined;
}

const bandwidthOf = (options: Readonly<Record<string, unknown>>): number =>
  typeof options.bandwidth === 'number' && options.bandwidth > 0 ? options.bandwidth : 0;

class JobRun {
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly failureRatio: number;
  /** This engine instance, stored in the record as its `runner`. */
  private readonly runner = randomUUID();
  /** Aborted on cancel, stop, or a lost record: aborts the calls in flight. */
  private readonly work = new AbortController();
  private readonly bucket = new TokenBucket(0);
  private readonly calls: Semaphore;
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
  private throttledReportedMs = 0;

  constructor(
    private readonly registry: Registry,
    private readonly fs: StrataFileSystem,
    private readonly options: EngineOptions,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 128);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_BATCHES_IN_FLIGHT);
    this.calls = new Semaphore(options.callConcurrency ?? 8);
    this.failureRatio = options.failureRatio ?? DEFAULT_FAILURE_RATIO;
    // Every call in flight listens on it: calls × files per call, token and semaphore waits.
    setMaxListeners(
      Math.max(100, 16 * this.concurrency * (options.fileConcurrency ?? 4) * 8),
      this.work.signal,
    );
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
    const onAbort = () => this.work.abort(new StrataError('CANCELLED', 'job stopped'));
    for (const s of [this.options.signal, this.options.stop]) {
      if (s?.aborted) onAbort();
      s?.addEventListener('abort', onAbort, { once: true });
    }
    let watch: NodeJS.Timeout | undefined;
    try {
      // A stored job the engine refuses (unknown kind or option after a downgrade…) ends FAILED here,
      // written once, instead of being picked up again every poll.
      const kind = this.accept();
      const c = this.job.counters;
      const now = Date.now();
      // Resumed: what was listed but not handled is listed again, so the totals restart from the handled.
      const handled = c.doneFiles + c.skippedFiles + c.failedFiles;
      this.inherited = [...this.job.cursor.done];
      this.nextId = Math.max(this.job.cursor.nextBatch, ...this.inherited.map((d) => d.id + 1));
      this.job = {
        ...this.job,
        state: 'RUNNING',
        runner: this.runner,
        listingDone: false,
        startedAtMs: this.job.startedAtMs ?? now,
        counters: { ...c, listedFiles: handled, listedBytes: c.handledBytes },
      };
      await this.write();
      if (this.lost) return this.job;
      this.bucket.setRate(bandwidthOf(this.job.options));
      watch = setInterval(() => this.watch(), Math.max(10, this.options.watchMs ?? 250));
      const membersAtStart = liveWorkerIds(this.fs);
      await this.walkAndRun(kind);
      await this.sweepLostOwners(kind, membersAtStart);
      await this.writing;
      if (this.lost) return this.job;
      if (this.options.signal?.aborted) return await this.finish('CANCELLED');
      if (this.options.stop?.aborted) return this.job;
      const k = this.job.counters;
      if (k.failedFiles === 0) {
        // A moved tree leaves its directories behind in stores that have real ones: remove those
        // left empty (never a directory that still holds something, e.g. a file added meanwhile).
        if (this.job.kind === 'move' && this.job.fromList === undefined)
          await removeEmptyDirectories(this.fs, this.job.path, this.call);
        return await this.finish('SUCCEEDED');
      }
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
      clearInterval(watch);
      this.bucket.close();
      this.reportThrottle();
      for (const s of [this.options.signal, this.options.stop]) s?.removeEventListener('abort', onAbort);
    }
  }

  /** The job's kind, or why this engine refuses the stored job. */
  private accept(): JobKind {
    const { kind } = resolveKind(this.job.kind, this.job.options);
    if (jobBatchOf(this.fs) === undefined) {
      // The per-file fallback: only what it can do honestly.
      if (kind.file === undefined)
        throw new StrataError('UNSUPPORTED', `job kind ${this.job.kind} needs the owners’ batch call`);
      const why = kind.batchOnly?.(this.job.options);
      if (why !== undefined) throw new StrataError('UNSUPPORTED', why);
    }
    return kind;
  }

  /** The root's status, retried while the error is retryable (a worker restarting) within the retry window. */
  private async root(): Promise<FileInfo> {
    const start = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fs.status(this.job.path, this.call);
      } catch (err) {
        const e = toStrataError(err);
        if (this.halted() || !e.retryable || Date.now() - start > (this.options.retryWindowMs ?? 30_000))
          throw err;
        await sleep(Math.min(1000, (this.options.backoffMs ?? 50) * 2 ** attempt), undefined, {
          signal: this.work.signal,
        });
      }
    }
  }

  private async walkAndRun(kind: JobKind): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let pending: FileInfo[] = [];
    let keys: string[] = [];
    let failed: JobFailure[] = [];
    const cut = async () => {
      const batch: Batch = { id: this.nextId++, files: pending, keys, failed, done: false };
      pending = [];
      keys = [];
      failed = [];
      this.open.push(batch);
      const p = this.runBatch(batch, kind).finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= this.concurrency) await Promise.race(inFlight);
    };
    for await (const entry of await this.source()) {
      if (this.halted()) break;
      const key = entry.key;
      if (
        this.inherited.some((d) => compareTraversal(d.first, key) <= 0 && compareTraversal(key, d.last) <= 0)
      ) {
        continue;
      }
      if ('file' in entry) {
        this.count({ listedFiles: 1, listedBytes: entry.file.size });
        pending.push(entry.file);
      } else {
        this.count({ listedFiles: 1 });
        failed.push(entry.failure);
      }
      keys.push(key);
      if (keys.length >= this.batchSize) await cut();
    }
    if (!this.halted() && keys.length > 0) await cut();
    if (!this.halted()) this.job = { ...this.job, listingDone: true };
    await Promise.all(inFlight);
    if (this.halted()) throw this.work.signal.reason;
  }

  /**
   * The job's files in its order, each with its key, only those after the cursor: a tree walk
   * below the root (a file root is itself), or the lines of the list (`fromList`), where a line
   * naming no file is a listed failure of that entry.
   */
  /** `from`: 'cursor' resumes after the job's cursor, 'start' goes over everything again. */
  private async source(from: 'cursor' | 'start' = 'cursor'): Promise<AsyncIterable<SourceEntry>> {
    const after = from === 'cursor' ? this.job.cursor.after : undefined;
    const list = this.job.fromList;
    if (list !== undefined) {
      const entries = readList(this.fs, list, after === undefined ? 0 : lineOfKey(after), this.call);
      return (async function* () {
        for await (const e of entries) {
          if ('file' in e) yield { key: lineKey(e.line), file: e.file };
          else
            yield {
              key: lineKey(e.line),
              failure: { path: e.path, code: e.error.code, message: `line ${e.line}: ${e.error.message}` },
            };
        }
      })();
    }
    const root = await this.root();
    if (root.type === 'file') {
      return (async function* () {
        if (after === undefined) yield { key: root.path, file: root };
      })();
    }
    const files = walk(this.fs, root.path, after, this.call, (path, err) => this.listingFailed(path, err));
    return (async function* () {
      for await (const f of files) yield { key: f.path, file: f };
    })();
  }

  /**
   * A load is SUCCEEDED only if every file is cached when it ends; a worker that left during the
   * job took the files it had loaded with it. So when a worker present at the start is gone at
   * the end, the job goes over its files once more, sending each owner its share with
   * skipIfCached (the owner answers "skipped" for what it holds, reads the rest from the store):
   * a re-load counts nothing twice; one that fails is that file's failure. Repeated (at most 3
   * rounds) while workers keep leaving.
   */
  private async sweepLostOwners(kind: JobKind, before: ReadonlySet<string> | undefined): Promise<void> {
    if (this.job.kind !== 'load' || this.job.options.metadataOnly === true || before === undefined) return;
    let known = before;
    for (let round = 0; round < 3 && !this.halted(); round++) {
      const now = liveWorkerIds(this.fs)!;
      const gone = [...known].filter((id) => !now.has(id));
      if (gone.length === 0) return;
      known = now;
      let reloaded = 0;
      let batch: FileInfo[] = [];
      const flush = async () => {
        const files = batch;
        batch = [];
        const results = await dispatchBatch(
          this.dispatchOptions(kind, () => ({ ...this.job.options, skipIfCached: true })),
          files,
        );
        if (results === undefined) throw this.work.signal.reason;
        let failures = this.job.failures;
        let failed = 0;
        let lostBytes = 0;
        for (const f of files) {
          const r = results.get(f.path)!;
          if ('outcome' in r) {
            if (r.outcome === 'done') reloaded++;
            continue;
          }
          failed++;
          lostBytes += f.size;
          failures = withFailure(failures, { path: f.path, code: r.code, message: `re-load: ${r.message}` });
        }
        this.job = { ...this.job, failures };
        this.count({ doneFiles: -failed, doneBytes: -lostBytes, failedFiles: failed });
      };
      for await (const entry of await this.source('start')) {
        if (this.halted()) break;
        if (!('file' in entry)) continue;
        batch.push(entry.file);
        if (batch.length >= this.batchSize) await flush();
      }
      if (!this.halted() && batch.length > 0) await flush();
      this.job = {
        ...this.job,
        notes: withNote(
          this.job.notes,
          `worker${gone.length === 1 ? '' : 's'} ${gone.join(', ')} left during the job: ${reloaded} file${reloaded === 1 ? '' : 's'} loaded again on ${gone.length === 1 ? 'its' : 'their'} new owners`,
        ),
      };
      await this.write();
    }
  }

  private listingFailed(path: string, err: unknown): void {
    const e = toStrataError(err);
    this.job = {
      ...this.job,
      failures: withFailure(this.job.failures, { path, code: e.code, message: `listing: ${e.message}` }),
      counters: { ...this.job.counters, failedFiles: this.job.counters.failedFiles + 1 },
    };
    this.options.metrics?.filesProcessed.inc({ kind: this.job.kind, outcome: 'failed' });
    this.options.metrics?.failures.inc({ kind: this.job.kind, code: e.code });
  }

  private count(delta: Partial<JobCounters>): void {
    const c: Record<string, number> = { ...this.job.counters };
    for (const [k, v] of Object.entries(delta)) c[k] = (c[k] ?? 0) + (v ?? 0);
    this.job = { ...this.job, counters: c as unknown as JobCounters };
  }

  /** Sends the batch to the owners (dispatch.ts); records it when all of its files are handled. */
  private async runBatch(batch: Batch, kind: JobKind): Promise<void> {
    let results: Map<string, FileResult> | undefined;
    try {
      results = await dispatchBatch(this.dispatchOptions(kind), batch.files);
    } catch (err) {
      if (this.halted()) return;
      throw err;
    }
    if (results === undefined || this.halted()) return; // not recorded: redone on resume
    let done = 0;
    let doneBytes = 0;
    let skipped = 0;
    let repaired = 0;
    let failures: readonly JobFailure[] = this.job.failures;
    let failed = 0;
    const m = this.options.metrics;
    const kindName = this.job.kind;
    for (const f of batch.failed) {
      failed++;
      failures = withFailure(failures, f);
      m?.filesProcessed.inc({ kind: kindName, outcome: 'failed' });
      m?.failures.inc({ kind: kindName, code: f.code });
    }
    for (const f of batch.files) {
      const o = results.get(f.path)!;
      if ('outcome' in o) {
        repaired += o.repairedPages;
        if (o.outcome === 'done') {
          done++;
          doneBytes += f.size;
        } else skipped++;
        m?.filesProcessed.inc({ kind: kindName, outcome: o.outcome });
      } else {
        failed++;
        failures = withFailure(failures, { path: f.path, code: o.code, message: o.message });
        m?.filesProcessed.inc({ kind: kindName, outcome: 'failed' });
        m?.failures.inc({ kind: kindName, code: o.code });
      }
    }
    if (doneBytes > 0) m?.bytesProcessed.inc({ kind: kindName }, doneBytes);
    this.job = { ...this.job, failures };
    this.count({
      doneFiles: done,
      doneBytes,
      skippedFiles: skipped,
      failedFiles: failed,
      repairedPages: repaired,
      handledBytes: batch.files.reduce((s, f) => s + f.size, 0),
    });
    batch.done = true;
    this.advanceCursor();
    await this.write();
    if (!this.lost) this.options.onProgress?.(this.job, batch.id);
  }

  private dispatchOptions(
    kind: JobKind,
    options: () => Readonly<Record<string, unknown>> = () => this.job.options,
  ): DispatchOptions {
    return {
      fs: this.fs,
      kind,
      kindName: this.job.kind,
      target: { root: this.job.path, ...(this.job.dst === undefined ? {} : { dst: this.job.dst }) },
      options,
      signal: this.work.signal,
      bucket: this.bucket,
      calls: this.calls,
      attempts: Math.max(1, this.options.attempts ?? 3),
      backoffMs: this.options.backoffMs ?? 50,
      retryWindowMs: this.options.retryWindowMs ?? 30_000,
      fileConcurrency: Math.max(1, this.options.fileConcurrency ?? 4),
      note: (text) => {
        this.job = { ...this.job, notes: withNote(this.job.notes, text) };
      },
    };
  }

  /** Moves `after` past every leading done batch; keeps the done ones beyond it in `cursor.done`. */
  private advanceCursor(): void {
    let after = this.job.cursor.after;
    while (this.open[0]?.done) {
      const b = this.open.shift()!;
      after = b.keys.at(-1)!;
    }
    if (after !== undefined) {
      const mark = after;
      this.inherited = this.inherited.filter((d) => compareTraversal(d.last, mark) > 0);
    }
    const done: DoneBatch[] = [
      ...this.inherited,
      ...this.open.filter((b) => b.done).map((b) => ({ id: b.id, first: b.keys[0]!, last: b.keys.at(-1)! })),
    ];
    this.job = {
      ...this.job,
      cursor: { ...(after === undefined ? {} : { after }), nextBatch: this.nextId, done },
    };
  }

  /**
   * The record as stored changed under this engine: still its runner and not final → options
   * were updated (bandwidth), which it adopts, and it goes on; otherwise it lost the record
   * (cancelled, deleted, or another engine took it) and stops.
   */
  private adopt(now: VersionedJob | undefined): boolean {
    const stored = now?.job as SchedulerJob | undefined;
    if (stored === undefined || stored.runner !== this.runner || isFinal(stored.state)) {
      this.lost = true;
      if (stored !== undefined) this.job = stored;
      this.work.abort(new StrataError('CANCELLED', 'the job record changed under this engine'));
      return false;
    }
    this.version = now!.version;
    this.job = { ...this.job, options: stored.options };
    this.bucket.setRate(bandwidthOf(stored.options));
    return true;
  }

  /** Looks at the record between writes (serialised with them): a cancel stops new work at once. */
  private watch(): void {
    this.reportThrottle();
    this.writing = this.writing.then(async () => {
      if (this.lost) return;
      try {
        const now = await this.registry.readJob(this.job.id);
        if (this.lost || now?.version === this.version) return;
        this.adopt(now);
      } catch {
        // The registry did not answer: the next write or look tells.
      }
    });
  }

  /** Writes the record as it is now (serialised, compare-and-set; see adopt). */
  private write(): Promise<void> {
    const step = this.writing.then(async () => {
      for (;;) {
        if (this.lost) return;
        const snapshot = this.job;
        const stored = boundRecord({ ...snapshot, updatedAtMs: Date.now() });
        const version = await this.registry.putJobIf(stored, this.version);
        if (version !== undefined) {
          this.version = version;
          // Batches that ended during the write changed this.job meanwhile: keep their changes.
          const trimmed = stored.failures !== snapshot.failures && this.job.failures === snapshot.failures;
          this.job = {
            ...this.job,
            updatedAtMs: stored.updatedAtMs,
            ...(trimmed ? { failures: stored.failures } : {}),
          };
          return;
        }
        if (!this.adopt(await this.registry.readJob(stored.id))) return;
      }
    });
    this.writing = step.catch(() => undefined);
    return step;
  }

  private reportThrottle(): void {
    const ms = this.bucket.throttledMs();
    if (ms > this.throttledReportedMs && this.options.metrics !== undefined) {
      this.options.metrics.throttledSeconds.inc(
        { kind: this.job.kind },
        (ms - this.throttledReportedMs) / 1000,
      );
    }
    this.throttledReportedMs = ms;
  }

  private async finish(state: JobState, error?: { code: string; message: string }): Promise<SchedulerJob> {
    this.job = { ...this.job, state, ...(error ? { error } : {}), endedAtMs: Date.now() };
    await this.write();
    return this.job;
  }
}
