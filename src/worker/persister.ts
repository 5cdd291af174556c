import type { Readable } from 'node:stream';
import { throwIfAborted, untilAborted } from '../core/abort.js';
import { StrataError, toStrataError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import type { FileRecord, MetaStore } from '../meta/meta-store.js';
import type { WorkerMetrics } from './metrics.js';
import type { MountTable } from './mount-table.js';
import { recordOf } from './records.js';
import type { StagingArea } from './staging.js';

interface JournalEntry {
  readonly record: FileRecord;
  /** true: ASYNC_THROUGH (persist in the background); false: MUST_CACHE (stays local). */
  readonly persist: boolean;
}

export interface PersisterOptions {
  readonly meta: MetaStore;
  readonly staging: StagingArea;
  readonly mounts: MountTable;
  readonly metrics: WorkerMetrics;
  readonly delayMs: number;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Files whose only copy is a local staging file, each with a journal record in the metadata store
 * (written with sync before the write is acknowledged). ASYNC_THROUGH files are persisted to
 * their store in the background, retried with backoff, and the journal record is removed only
 * after the store confirmed the write — so a kill -9 at any point loses nothing: on restart,
 * recover() re-queues every record. MUST_CACHE files stay here until deleted.
 */
export class Persister {
  private readonly stagedFiles = new Map<string, FileRecord>();
  private readonly pendingPaths = new Set<string>();
  /** path → its scheduled attempt (at most one per path). */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; attempt: number }>();
  /** path → its attempt in progress; resolves to the error it met, or undefined. */
  private readonly running = new Map<string, Promise<unknown>>();
  private stopped = false;

  constructor(private readonly o: PersisterOptions) {}

  async recover(): Promise<void> {
    const keep = new Set<string>();
    // Counted here: the persists scheduled below may finish (and leave stagedFiles) before the log.
    let journaled = 0;
    let toPersist = 0;
    for await (const [, value] of this.o.meta.journalEntries()) {
      const entry = value as JournalEntry;
      if (!entry?.record?.staging) continue;
      journaled++;
      if (entry.persist) toPersist++;
      keep.add(entry.record.staging);
      this.stagedFiles.set(entry.record.path, entry.record);
      if (entry.persist) this.schedule(entry.record.path, 0, 0);
    }
    const swept = await this.o.staging.sweep(keep);
    this.o.log('persist_recovered', {
      journaled,
      toPersist,
      staged: this.stagedFiles.size,
      pending: this.pendingPaths.size,
      sweptUnacknowledged: swept,
    });
  }

  get pending(): number {
    return this.pendingPaths.size;
  }

  isPending(path: string): boolean {
    return this.pendingPaths.has(path);
  }

  staged(path: string): FileRecord | undefined {
    return this.stagedFiles.get(path);
  }

  stagedBelow(dir: string): FileRecord[] {
    return [...this.stagedFiles.values()].filter((r) => r.path !== dir && isWithin(r.path, dir));
  }

  pendingBelow(dir: string): number {
    return [...this.pendingPaths].filter((p) => isWithin(p, dir)).length;
  }

  /** Records a staged file durably; the caller acknowledges the write after this resolves. */
  async add(record: FileRecord, persist: boolean): Promise<void> {
    const previous = this.stagedFiles.get(record.path);
    await this.o.meta.journalPut(record.path, { record, persist } satisfies JournalEntry);
    this.stagedFiles.set(record.path, record);
    if (previous?.staging && previous.staging !== record.staging)
      await this.o.staging.remove(previous.staging);
    if (persist) this.schedule(record.path, this.o.delayMs, 0);
    else {
      // MUST_CACHE over a pending ASYNC_THROUGH write: nothing may upload it now.
      this.cancelTimer(record.path);
      this.pendingPaths.delete(record.path);
    }
  }

  /** Forgets a staged file (deleted by the user). */
  async remove(path: string): Promise<void> {
    const record = this.stagedFiles.get(path);
    this.stagedFiles.delete(path);
    this.pendingPaths.delete(path);
    this.cancelTimer(path);
    await this.o.meta.journalDelete(path);
    if (record?.staging) await this.o.staging.remove(record.staging);
  }

  /**
   * Persists a staged file now instead of after the persist delay — an ASYNC_THROUGH write
   * waiting for its turn or its next retry, or a MUST_CACHE file (which becomes ASYNC_THROUGH:
   * its journal record says so first, so a restart finishes the upload) — and resolves once the
   * store holds it durably (a write that lands meanwhile is persisted too). False when nothing
   * was staged there. A failed upload rejects with its error and is retried in the background
   * as usual; `signal` stops the waiting, not the upload.
   */
  async persistNow(path: string, signal?: AbortSignal): Promise<boolean> {
    throwIfAborted(signal);
    const first = this.stagedFiles.get(path);
    if (!first?.staging) return false;
    if (!this.pendingPaths.has(path)) {
      await this.o.meta.journalPut(path, { record: first, persist: true } satisfies JournalEntry);
      if (this.stagedFiles.get(path) === first) this.pendingPaths.add(path);
    }
    while (this.pendingPaths.has(path)) {
      if (this.stopped)
        throw new StrataError('UNAVAILABLE', `the worker is stopping; ${path} is persisted on its restart`);
      const record = this.stagedFiles.get(path);
      const err = await untilAborted(this.running.get(path) ?? this.startNow(path), signal);
      if (err !== undefined) throw toStrataError(err, 'UFS_UNAVAILABLE');
      if (this.pendingPaths.has(path) && this.stagedFiles.get(path) === record && !this.running.has(path))
        throw new StrataError('INTERNAL', `persisting ${path} made no progress`);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  private schedule(path: string, delayMs: number, attempt: number): void {
    if (this.stopped) return;
    this.pendingPaths.add(path);
    this.cancelTimer(path);
    const timer = setTimeout(() => {
      this.timers.delete(path);
      this.run(path, attempt);
    }, delayMs);
    this.timers.set(path, { timer, attempt });
  }

  /** Starts the path's next attempt at once (its timer cancelled). */
  private startNow(path: string): Promise<unknown> {
    const attempt = this.cancelTimer(path) ?? 0;
    return this.run(path, attempt);
  }

  /** Cancels the path's scheduled attempt; the attempt number it had. */
  private cancelTimer(path: string): number | undefined {
    const scheduled = this.timers.get(path);
    if (scheduled === undefined) return undefined;
    clearTimeout(scheduled.timer);
    this.timers.delete(path);
    return scheduled.attempt;
  }

  private run(path: string, attempt: number): Promise<unknown> {
    const existing = this.running.get(path);
    if (existing) return existing;
    const run = this.persistOne(path, attempt).finally(() => {
      if (this.running.get(path) === run) this.running.delete(path);
    });
    this.running.set(path, run);
    return run;
  }

  /** One upload attempt; resolves to the error it met (a retry is then scheduled), else undefined. */
  private async persistOne(path: string, attempt: number): Promise<unknown> {
    const record = this.stagedFiles.get(path);
    if (!record?.staging || this.stopped) return undefined;
    const resolved = this.o.mounts.tryResolve(path);
    let body: Readable | undefined;
    try {
      if (!resolved) throw new Error(`no mount covers ${path}`);
      body = this.o.staging.read(record.staging, 0, record.size);
      const st = await resolved.mount.store.write(resolved.ufsPath, body, { size: record.size });
      this.o.metrics.ufsWriteBytes.inc({ mount: resolved.mount.record.path }, st.size);
      if (this.stagedFiles.get(path) !== record) return; // overwritten meanwhile; the newer write persists next
      const persisted = recordOf(path, st, resolved.mount, record.cacheId);
      await this.o.meta.invalidate(path);
      await this.o.meta.putStatus(persisted);
      await this.o.meta.setAttrs(path, { persistence: undefined });
      await this.o.meta.journalDelete(path);
      this.stagedFiles.delete(path);
      this.pendingPaths.delete(path);
      await this.o.staging.remove(record.staging);
      this.o.log('persisted', { path, bytes: st.size });
      return undefined;
    } catch (err) {
      // A store that refused the write before reading its body leaves the staging stream open.
      body?.destroy();
      const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
      this.o.log('persist_failed', {
        path,
        attempt,
        retryInMs: backoff,
        error: err instanceof Error ? err.message : String(err),
      });
      this.schedule(path, backoff, attempt + 1);
      return err;
    }
  }
}
