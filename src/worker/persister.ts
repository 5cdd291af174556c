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
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: PersisterOptions) {}

  async recover(): Promise<void> {
    const keep = new Set<string>();
    for await (const [, value] of this.o.meta.journalEntries()) {
      const entry = value as JournalEntry;
      if (!entry?.record?.staging) continue;
      keep.add(entry.record.staging);
      this.stagedFiles.set(entry.record.path, entry.record);
      if (entry.persist) this.schedule(entry.record.path, 0, 0);
    }
    const swept = await this.o.staging.sweep(keep);
    this.o.log('persist_recovered', {
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
    else this.pendingPaths.delete(record.path);
  }

  /** Forgets a staged file (deleted by the user). */
  async remove(path: string): Promise<void> {
    const record = this.stagedFiles.get(path);
    this.stagedFiles.delete(path);
    this.pendingPaths.delete(path);
    await this.o.meta.journalDelete(path);
    if (record?.staging) await this.o.staging.remove(record.staging);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private schedule(path: string, delayMs: number, attempt: number): void {
    if (this.stopped) return;
    this.pendingPaths.add(path);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const run = this.persistOne(path, attempt).finally(() => this.running.delete(run));
      this.running.add(run);
    }, delayMs);
    this.timers.add(timer);
  }

  private async persistOne(path: string, attempt: number): Promise<void> {
    const record = this.stagedFiles.get(path);
    if (!record?.staging || this.stopped) return;
    const resolved = this.o.mounts.tryResolve(path);
    try {
      if (!resolved) throw new Error(`no mount covers ${path}`);
      const st = await resolved.mount.store.write(
        resolved.ufsPath,
        this.o.staging.read(record.staging, 0, record.size),
        { size: record.size },
      );
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
    } catch (err) {
      const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
      this.o.log('persist_failed', {
        path,
        attempt,
        retryInMs: backoff,
        error: err instanceof Error ? err.message : String(err),
      });
      this.schedule(path, backoff, attempt + 1);
    }
  }
}
