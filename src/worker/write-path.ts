import { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import { throwIfAborted } from '../core/abort.js';
import { isStrataError, StrataError } from '../core/errors.js';
import { type FileInfo, WRITE_TYPES, type WriteOptions, type WriteType } from '../core/file-system.js';
import { KeyLock } from '../core/key-lock.js';
import { normalizePath } from '../core/paths.js';
import type { FileRecord, MetaStore } from '../meta/meta-store.js';
import { fingerprintOf } from '../ufs/under-store.js';
import type { FileInfoBuilder } from './file-info.js';
import type { MetadataSync } from './metadata-sync.js';
import type { WorkerMetrics } from './metrics.js';
import type { MountTable, Resolved } from './mount-table.js';
import type { Persister } from './persister.js';
import { cacheIdOf, recordOf } from './records.js';
import type { HeldBody, StagedFile, StagingArea } from './staging.js';

/**
 * A CACHE_THROUGH write that declares at most this many bytes is held in memory on its way to
 * the store, not in a staging file (1,024 requests in flight hold at most 64 MiB so).
 */
export const SMALL_WRITE_BYTES = 64 * 1024;

export interface WritePathParts {
  readonly sync: MetadataSync;
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  readonly pages: PageStore;
  readonly staging: StagingArea;
  readonly persister: Persister;
  readonly metrics: Pick<WorkerMetrics, 'ufsWriteBytes'>;
  readonly infos: FileInfoBuilder;
}

/**
 * The four write types. Files are written whole.
 * - THROUGH streams straight to the store.
 * - CACHE_THROUGH streams to a local staging file, uploads it with a known size, then imports its
 *   pages under the store's new fingerprint (only known after the store write; staging keeps
 *   memory bounded).
 * - ASYNC_THROUGH and MUST_CACHE stage with fsync and write a journal record before the write is
 *   acknowledged; the Persister uploads ASYNC_THROUGH files in the background.
 */
export class WritePath {
  /** One commit (pages replaced, status written) at a time per path. */
  private readonly commits = new KeyLock();
  /** Writes of each path under way, to tell when two overlapped (see `storeWinner`). */
  private readonly inFlight = new Map<string, { active: number; started: number }>();

  constructor(private readonly o: WritePathParts) {}

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const r = this.o.mounts.writable(p);
    if (this.o.mounts.get(p) || p === '/') throw new StrataError('IS_A_DIRECTORY', `${p} is a mount point`);
    const writeType: WriteType = options.writeType ?? r.mount.record.writeType;
    if (!WRITE_TYPES.includes(writeType))
      throw new StrataError('INVALID_ARGUMENT', `write type must be one of ${WRITE_TYPES.join(', ')}`);
    if (options.encryption !== undefined && writeType !== 'THROUGH' && writeType !== 'CACHE_THROUGH')
      // A staged write keeps the plaintext on this worker's disk until (or instead of) reaching
      // the store, which is not what "encrypted by the store" promises.
      throw new StrataError(
        'INVALID_ARGUMENT',
        `encryption by the store needs a THROUGH or CACHE_THROUGH write, not ${writeType}`,
      );
    const existing = await this.o.sync.tryLocate(p, -1, options.signal);
    if (existing?.record.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    const flight = this.inFlight.get(p) ?? { active: 0, started: 0 };
    this.inFlight.set(p, flight);
    flight.active++;
    const overlappedAtStart = flight.active > 1;
    const startedAs = ++flight.started;
    try {
      let record: FileRecord;
      if (writeType === 'THROUGH') record = await this.writeThrough(p, r, source, options);
      else if (writeType === 'CACHE_THROUGH') record = await this.writeCacheThrough(p, r, source, options);
      else record = await this.writeLocal(p, r, source, writeType, existing?.record, options.signal);
      const overlapped = overlappedAtStart || flight.active > 1 || flight.started !== startedAs;
      return await this.commit(p, r, record, existing?.record, overlapped);
    } finally {
      if (--flight.active === 0) this.inFlight.delete(p);
    }
  }

  /** Replaces the path's pages and status with the written record's, one commit at a time per path. */
  private async commit(
    p: string,
    r: Resolved,
    written: FileRecord,
    existing: FileRecord | undefined,
    overlapped: boolean,
  ): Promise<FileInfo> {
    let record = written;
    await this.commits.run(p, async () => {
      if (overlapped && !record.staging) record = await this.storeWinner(p, r, record);
      // Another write of the path may have committed since `existing` was read: its pages are
      // replaced too (without this, the version that loses the race kept its pages until eviction).
      const current = record.staging ? undefined : await this.o.meta.getStatus(p);
      if (!record.staging) {
        await this.o.meta.invalidate(p);
        await this.o.meta.putStatus(record);
        await this.o.meta.setAttrs(p, { persistence: undefined });
      }
      // The old pages go after the new status is in place: a read that looks the path up in
      // between finds the new record, and one that found the old record before this deletion
      // cannot store the store's new bytes under the old id (the page store's deletion mark).
      for (const old of new Set([existing?.cacheId, current?.cacheId, written.cacheId]))
        if (old && old !== record.cacheId) await this.o.pages.deleteFile(old);
    });
    // The writer is told what it wrote (its etag, its size), even when another version won.
    return this.o.infos.info(written, r.mount.record.path, await this.o.meta.getAttrs(p));
  }

  /**
   * Writes of one path that overlapped reach the store in an order their commits need not share:
   * the store keeps whichever landed last. So an overlapped write asks the store (under the commit
   * lock, after its own write landed) and commits what it holds — its own record if the
   * fingerprints agree, else the other version's status, with no pages (they are read on demand).
   */
  private async storeWinner(p: string, r: Resolved, record: FileRecord): Promise<FileRecord> {
    const st = await r.mount.store.status(r.ufsPath);
    if (st.type === 'file' && fingerprintOf(st) === record.fingerprint) return record;
    return recordOf(p, st, r.mount);
  }

  /** Forgets a file that exists only locally: its journal record, staging file, pages and attributes. */
  async dropStaged(record: FileRecord): Promise<void> {
    await this.o.persister.remove(record.path);
    if (record.cacheId) await this.o.pages.deleteFile(record.cacheId);
    await this.o.meta.deleteAttrs(record.path);
    await this.o.meta.invalidate(record.path);
  }

  private async writeThrough(
    p: string,
    r: Resolved,
    source: Readable,
    options: WriteOptions,
  ): Promise<FileRecord> {
    const st = await r.mount.store.write(r.ufsPath, source, {
      ...(options.size === undefined ? {} : { size: options.size }),
      ...(options.encryption ? { encryption: options.encryption } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.o.metrics.ufsWriteBytes.inc({ mount: r.mount.record.path }, st.size);
    return recordOf(p, st, r.mount);
  }

  private async writeCacheThrough(
    p: string,
    r: Resolved,
    source: Readable,
    options: WriteOptions,
  ): Promise<FileRecord> {
    const { staging } = this.o;
    const staged: HeldBody | StagedFile =
      options.size !== undefined && options.size <= SMALL_WRITE_BYTES
        ? await staging.receiveSmall(source, SMALL_WRITE_BYTES, options.signal)
        : await staging.receive(source, false, options.signal);
    const held = 'data' in staged ? staged.data : undefined;
    const size = held?.length ?? (staged as StagedFile).size;
    const body = held ? Readable.from([held]) : staging.read((staged as StagedFile).file, 0, size);
    try {
      // The store write is what makes the write durable (the file store fsyncs the file and its
      // directory before it resolves); the staging copy never was (it is not fsynced).
      const st = await r.mount.store
        .write(r.ufsPath, body, {
          size,
          ...(options.encryption ? { encryption: options.encryption } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
        .catch((err: unknown) => {
          // A store that refused the write before reading its body (UNSUPPORTED encryption, a
          // read-only store) left the stream unread: closed here, not leaked as an open fd.
          body.destroy();
          throw err;
        });
      this.o.metrics.ufsWriteBytes.inc({ mount: r.mount.record.path }, st.size);
      // The pages get an identity of this write's own: two writes of one path that the store
      // reports with one fingerprint (same size in the same millisecond, no etag) would otherwise
      // import their pages under one cache id, and a read could mix their bytes.
      const record = recordOf(
        p,
        st,
        r.mount,
        cacheIdOf(r.mount, p, `${fingerprintOf(st)}\0write-${staged.id}`),
      );
      if (held) await this.importHeld(held, record.cacheId!);
      else await this.importPages((staged as StagedFile).file, size, record.cacheId!);
      return record;
    } finally {
      if (!held) await staging.remove((staged as StagedFile).file);
    }
  }

  /** MUST_CACHE and ASYNC_THROUGH: acknowledged once the data and its journal record are durable. */
  private async writeLocal(
    p: string,
    r: Resolved,
    source: Readable,
    writeType: WriteType,
    existing: FileRecord | undefined,
    signal: AbortSignal | undefined,
  ): Promise<FileRecord> {
    const staged = await this.o.staging.receive(source, true, signal);
    const now = Date.now();
    const fingerprint = `${staged.size}:${now}:local-${staged.id}`;
    const record: FileRecord = {
      path: p,
      type: 'file',
      size: staged.size,
      mtimeMs: now,
      fingerprint,
      syncedAtMs: now,
      cacheId: cacheIdOf(r.mount, p, fingerprint),
      staging: staged.file,
    };
    if (existing?.staging) await this.dropStaged(existing);
    // Cache the pages and set the state before the journal record: once recorded, the persister
    // may upload and remove the staging file at any moment. A crash before the record leaves an
    // unacknowledged staging file, which the next start sweeps.
    await this.importPages(staged.file, staged.size, record.cacheId!);
    await this.o.meta.setAttrs(p, {
      persistence: writeType === 'ASYNC_THROUGH' ? 'TO_BE_PERSISTED' : 'NOT_PERSISTED',
    });
    await this.o.persister.add(record, writeType === 'ASYNC_THROUGH');
    return record;
  }

  /** Splits a body held in memory into pages in the page store (after a write). */
  private async importHeld(data: Buffer, cacheId: string): Promise<void> {
    const ps = this.o.pages.pageSize;
    for (let off = 0, i = 0; off < data.length; off += ps, i++) {
      try {
        await this.o.pages.put(cacheId, i, data.subarray(off, Math.min(off + ps, data.length)));
      } catch (err) {
        if (isStrataError(err, 'CACHE_FULL')) return; // the store still has the data
        throw err;
      }
    }
  }

  /** Splits a local file into pages in the page store (after a write). */
  private async importPages(file: string, size: number, cacheId: string): Promise<void> {
    const ps = this.o.pages.pageSize;
    for (let off = 0, i = 0; off < size; off += ps, i++) {
      const buf = await this.o.staging.readRange(file, off, Math.min(ps, size - off));
      try {
        await this.o.pages.put(cacheId, i, buf);
      } catch (err) {
        if (isStrataError(err, 'CACHE_FULL')) return; // the store (or staging) still has the data
        throw err;
      }
    }
  }
}
