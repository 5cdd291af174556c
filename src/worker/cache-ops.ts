import type { PageStore } from '../cache/page-store.js';
import { throwIfAborted } from '../core/abort.js';
import { isStrataError, StrataError } from '../core/errors.js';
import type { CacheProbeItem, CallOptions, JobSummary, UsageSummary } from '../core/file-system.js';
import { normalizePath } from '../core/paths.js';
import type { FileAttrs, MetaStore } from '../meta/meta-store.js';
import type { MetadataSync } from './metadata-sync.js';
import type { MountTable } from './mount-table.js';
import type { NamespaceOps } from './namespace-ops.js';
import type { Persister } from './persister.js';
import type { ReadPath } from './read-path.js';
import { cacheIdOf } from './records.js';

export interface CacheOpsParts {
  readonly sync: MetadataSync;
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  readonly pages: PageStore;
  readonly persister: Pick<Persister, 'staged'>;
  readonly reads: Pick<ReadPath, 'read'>;
  readonly tree: Pick<NamespaceOps, 'delete'>;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * What users do to the cache of a file or a tree: load, free, pin, TTL, du, and the cached-bytes
 * probe other workers ask. Trees are walked with the sync policy, one file at a time.
 */
export class CacheOps {
  constructor(private readonly o: CacheOpsParts) {}

  async load(path: string, options: CallOptions = {}): Promise<JobSummary> {
    throwIfAborted(options.signal);
    let files = 0;
    let bytes = 0;
    const signal = options.signal;
    for await (const rec of this.o.sync.walk(normalizePath(path), undefined, signal)) {
      const stream = await this.o.reads.read(
        rec.path,
        signal ? { readType: 'CACHE', signal } : { readType: 'CACHE' },
      );
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      // Pages reach the reader before their puts end: wait, so puts do not pile up file after file.
      await stream.whenStored();
      files++;
    }
    return { files, bytes };
  }

  async free(path: string, options: CallOptions = {}): Promise<JobSummary> {
    throwIfAborted(options.signal);
    let files = 0;
    let bytes = 0;
    for await (const rec of this.o.sync.walk(normalizePath(path), undefined, options.signal)) {
      if (!rec.cacheId || this.o.pages.isPinned(rec.cacheId)) continue;
      const freed = await this.o.pages.deleteFile(rec.cacheId);
      if (freed > 0) files++;
      bytes += freed;
    }
    return { files, bytes };
  }

  async pin(path: string, pinned: boolean, options: CallOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const { sync, meta, pages } = this.o;
    const p = normalizePath(path);
    const root = await sync.locate(p, undefined, options.signal);
    await meta.setAttrs(p, { pinned: pinned || undefined });
    if (root.record.type === 'file') {
      await pages.setPinned(sync.cacheIdOf(root), pinned);
      return;
    }
    for await (const rec of sync.walk(p, undefined, options.signal)) {
      await meta.setAttrs(rec.path, { pinned: pinned || undefined });
      if (rec.cacheId) await pages.setPinned(rec.cacheId, pinned);
    }
  }

  async setTtl(
    path: string,
    ttlMs: number | null,
    action: 'free' | 'delete' = 'free',
    options: CallOptions = {},
  ): Promise<void> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    await this.o.sync.locate(p, undefined, options.signal);
    if (ttlMs === null) {
      await this.o.meta.setAttrs(p, { ttlMs: undefined, ttlAction: undefined, ttlStartMs: undefined });
      return;
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 0)
      throw new StrataError('INVALID_ARGUMENT', `TTL must be a non-negative number of ms`);
    if (action !== 'free' && action !== 'delete')
      throw new StrataError('INVALID_ARGUMENT', 'TTL action must be free or delete');
    await this.o.meta.setAttrs(p, { ttlMs, ttlAction: action, ttlStartMs: Date.now() });
  }

  /** Applies expired TTLs: `free` drops cached pages, `delete` removes the path from its store. */
  async checkTtls(now = Date.now()): Promise<number> {
    const { meta } = this.o;
    const expired: Array<[string, FileAttrs]> = [];
    for await (const [path, attrs] of meta.allAttrs()) {
      if (attrs.ttlMs !== undefined && (attrs.ttlStartMs ?? 0) + attrs.ttlMs <= now)
        expired.push([path, attrs]);
    }
    for (const [path, attrs] of expired) {
      try {
        if (attrs.ttlAction === 'delete') {
          await this.o.tree.delete(path, { recursive: true });
          await meta.deleteAttrs(path);
        } else {
          await meta.setAttrs(path, {
            ttlMs: undefined,
            ttlAction: undefined,
            ttlStartMs: undefined,
            pinned: undefined,
          });
          await this.pin(path, false).catch(() => undefined);
          await this.free(path);
        }
        this.o.log('ttl_expired', { path, action: attrs.ttlAction ?? 'free' });
      } catch (err) {
        if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_MOUNTED'))
          await meta.deleteAttrs(path);
        else this.o.log('ttl_error', { path, error: String(err) });
      }
    }
    return expired.length;
  }

  async du(path: string, options: CallOptions = {}): Promise<UsageSummary> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    let files = 0;
    let directories = 0;
    let bytes = 0;
    let cachedBytes = 0;
    const root = await this.o.sync.locate(p, undefined, options.signal);
    if (root.record.type === 'directory') directories++;
    for await (const rec of this.o.sync.walk(p, () => directories++, options.signal)) {
      files++;
      bytes += rec.size;
      if (rec.cacheId) cachedBytes += this.o.pages.cachedBytes(rec.cacheId);
    }
    return { files, directories, bytes, cachedBytes };
  }

  /** Cached bytes of files identified by path and fingerprint; 0 for unknown ones. */
  async cachedBytesOf(items: readonly CacheProbeItem[], options: CallOptions = {}): Promise<number[]> {
    throwIfAborted(options.signal);
    return Promise.all(
      items.map(async ({ path, fingerprint }) => {
        const r = this.o.mounts.tryResolve(path);
        if (!r) return 0;
        const staged = this.o.persister.staged(path);
        if (staged?.fingerprint === fingerprint && staged.cacheId)
          return this.o.pages.cachedBytes(staged.cacheId);
        // A written file's pages have the cache id of their write (write-path.ts), kept in its
        // record; a file only read has the one its fingerprint gives.
        const record = await this.o.meta.getStatus(normalizePath(path)).catch(() => undefined);
        const id =
          record?.fingerprint === fingerprint && record.cacheId
            ? record.cacheId
            : cacheIdOf(r.mount, path, fingerprint);
        return this.o.pages.cachedBytes(id);
      }),
    );
  }
}
