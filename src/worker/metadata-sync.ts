import type { PageStore } from '../cache/page-store.js';
import { isStrataError, StrataError } from '../core/errors.js';
import { baseName, parentOf } from '../core/paths.js';
import { compareUtf8 } from '../core/utf8-order.js';
import type { FileRecord, MetaStore } from '../meta/meta-store.js';
import { fingerprintOf, type UfsStatus } from '../ufs/under-store.js';
import type { WorkerMetrics } from './metrics.js';
import type { MountTable, Resolved } from './mount-table.js';
import type { Persister } from './persister.js';
import { cacheIdOf, isFresh, namespaceDirectory, recordOf } from './records.js';

/** A path's record and where it lives. */
export interface Located {
  readonly path: string;
  readonly record: FileRecord;
  readonly resolved: Resolved;
}

export interface MetadataSyncParts {
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  /** Pages of a file whose fingerprint changed or that vanished are dropped here. */
  readonly pages: Pick<PageStore, 'deleteFile'>;
  /** Files whose only copy is local: they shadow the store. */
  readonly staged: Pick<Persister, 'staged' | 'stagedBelow'>;
  readonly metrics: Pick<WorkerMetrics, 'metadataHits' | 'metadataMisses'>;
  /** A data miss re-checks the store's fingerprint if the last check is older than this. */
  readonly missRevalidateMs: number;
}

/** Records written to the metadata store per chunk while a large listing is stored. */
const FILL_CHUNK = 1000;

/** A page of a directory's records and whether more follow. */
export interface RecordPage {
  readonly records: readonly FileRecord[];
  readonly more: boolean;
}

/** Listings known to be sorted in UTF-8 byte order, as the metadata store and S3 keep them (checked once per listing object the metadata store hands out). */
const sortedListings = new WeakSet<readonly FileRecord[]>();

function isSortedByPath(records: readonly FileRecord[]): boolean {
  if (sortedListings.has(records)) return true;
  for (let i = 1; i < records.length; i++)
    if (compareUtf8(records[i - 1]!.path, records[i]!.path) > 0) return false;
  sortedListings.add(records);
  return true;
}

/**
 * Statuses and listings, from the metadata store while they are fresh by the mount's sync policy
 * and from the under-store otherwise. A refresh that finds a new fingerprint drops the old pages
 * and the parent's listing, so a changed source is never served with old bytes.
 *
 * Records handed out (including listing arrays) are shared with the metadata store's memory:
 * callers must not mutate them.
 */
export class MetadataSync {
  private readonly verifiedAt = new Map<string, number>();
  /** Listings being fetched from a store for listPage, one per directory at a time. */
  private readonly refreshing = new Map<string, Promise<void>>();

  constructor(private readonly o: MetadataSyncParts) {}

  /** The cache identity of a located file (its record's, or derived from its fingerprint). */
  cacheIdOf(l: Located): string {
    return l.record.cacheId ?? cacheIdOf(l.resolved.mount, l.path, l.record.fingerprint);
  }

  /** Finds a path's record, consulting the store when the cached one is not fresh enough. */
  async locate(p: string, syncOverride: number | undefined, signal?: AbortSignal): Promise<Located> {
    const { mounts, meta, metrics } = this.o;
    const staged = this.o.staged.staged(p);
    const resolved = mounts.tryResolve(p);
    if (staged && resolved) return { path: p, record: staged, resolved };
    if (!resolved || (resolved.ufsPath === '/' && mounts.get(p))) {
      if (p === '/' || mounts.mountsBelow(p).length > 0 || mounts.get(p)) {
        return { path: p, record: namespaceDirectory(p), resolved: resolved ?? this.anyResolved(p) };
      }
      throw new StrataError('NOT_MOUNTED', `no mount covers ${p}`, { details: { path: p } });
    }
    const interval = syncOverride ?? resolved.mount.record.syncIntervalMs;
    const mountLabel = { mount: resolved.mount.record.path };
    // A record already in memory is taken without a promise (the stat hot path), and a miss is
    // read without looking the key up a second time.
    const got = meta.readStatus !== undefined ? meta.readStatus(p) : meta.getStatus(p);
    const cached = got instanceof Promise ? await got : got;
    if (cached && isFresh(cached.syncedAtMs, interval)) {
      metrics.metadataHits.inc(mountLabel);
      return { path: p, record: cached, resolved };
    }
    metrics.metadataMisses.inc(mountLabel);
    let st: UfsStatus;
    try {
      st = await resolved.mount.store.status(resolved.ufsPath, signal ? { signal } : {});
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) {
        if (cached) {
          await meta.invalidate(p);
          if (cached.cacheId) await this.o.pages.deleteFile(cached.cacheId);
        }
        if (mounts.mountsBelow(p).length > 0 || this.o.staged.stagedBelow(p).length > 0) {
          return { path: p, record: namespaceDirectory(p), resolved };
        }
      }
      throw err;
    }
    const record = recordOf(
      p,
      st,
      resolved.mount,
      cached?.fingerprint === fingerprintOf(st) ? cached.cacheId : undefined,
    );
    const replaced = cached && cached.fingerprint !== record.fingerprint;
    if (replaced) await meta.invalidate(p); // the parent's listing shows the old size/mtime
    await meta.putStatus(record);
    // After the new record (see WritePath.commit): a lookup in between finds the new version.
    if (replaced && cached.cacheId) await this.o.pages.deleteFile(cached.cacheId);
    return { path: p, record, resolved };
  }

  /** locate(), with NOT_FOUND as undefined. */
  async tryLocate(p: string, sync: number | undefined, signal?: AbortSignal): Promise<Located | undefined> {
    try {
      return await this.locate(p, sync, signal);
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** Whether the path exists now (checked against the store). */
  async exists(p: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.tryLocate(p, 0, signal)) !== undefined;
  }

  /**
   * Before reading missing pages from the store: make sure the cached fingerprint still holds
   * (at most once per `missRevalidateMs` per file), even with sync interval -1 — trusting cached
   * metadata must never mean mixing two versions' bytes.
   */
  async revalidate(located: Located, signal?: AbortSignal): Promise<Located> {
    const id = this.cacheIdOf(located);
    // A record taken from the store (a status or a listing) within the window is as good as a
    // check: a job load reads each file right after listing its directory, and a second stat
    // per file was a third of its store calls.
    const last = Math.max(this.verifiedAt.get(id) ?? 0, located.record.syncedAtMs);
    if (Date.now() - last <= this.o.missRevalidateMs || located.record.type !== 'file') return located;
    const fresh = await this.locate(located.path, 0, signal);
    if (this.verifiedAt.size > 10_000) this.verifiedAt.clear();
    this.verifiedAt.set(this.cacheIdOf(fresh), Date.now());
    return fresh;
  }

  /** Direct children of a directory: the store's listing, plus mount points and staged files. */
  async listRecords(
    p: string,
    syncOverride: number | undefined,
    signal?: AbortSignal,
  ): Promise<FileRecord[]> {
    const dir = await this.locate(p, syncOverride, signal);
    if (dir.record.type !== 'directory') throw new StrataError('NOT_A_DIRECTORY', `${p} is a file`);
    const resolved = this.o.mounts.tryResolve(p);
    const stored = resolved ? await this.listFromStore(p, resolved, syncOverride, signal) : [];
    const extras = this.extraChildren(p);
    // The common case — nothing mounted or staged below — is the store's listing as it is (the
    // metadata store keeps it sorted by name): no copy for directories of 100,000s of entries.
    if (extras.length === 0 && isSortedByPath(stored)) return stored;
    return mergeChildren(stored, extras);
  }

  /**
   * One page of a directory's records from `startAfter` on: the metadata store's listing read as
   * a key range (fetched from the store first when not fresh), plus the mount points and staged
   * files that fall inside the page. Never the whole directory in memory (but see refresh()).
   */
  async listPage(
    p: string,
    page: { readonly startAfter: string; readonly limit: number },
    syncOverride: number | undefined,
    signal?: AbortSignal,
  ): Promise<RecordPage> {
    const dir = await this.locate(p, syncOverride, signal);
    if (dir.record.type !== 'directory') throw new StrataError('NOT_A_DIRECTORY', `${p} is a file`);
    const resolved = this.o.mounts.tryResolve(p);
    const stored = resolved
      ? await this.pageFromStore(p, resolved, page, syncOverride, signal)
      : { entries: [], more: false };
    const after = page.startAfter;
    // Extras past the page's last stored name belong to a later page.
    const bound = stored.more ? baseName(stored.entries[stored.entries.length - 1]!.path) : undefined;
    const extras = this.extraChildren(p).filter((x) => {
      const name = baseName(x.record.path);
      return (
        (after === '' || compareUtf8(name, after) > 0) &&
        (bound === undefined || compareUtf8(name, bound) <= 0)
      );
    });
    if (extras.length === 0) return { records: stored.entries, more: stored.more };
    const merged = mergeChildren(stored.entries, extras);
    if (merged.length > page.limit) return { records: merged.slice(0, page.limit), more: true };
    return { records: merged, more: stored.more };
  }

  /** Children that do not come from the store's listing: mount points, staged files (and their folders). */
  private extraChildren(p: string): Extra[] {
    const extras: Extra[] = [];
    for (const point of this.o.mounts.childMountPoints(p))
      extras.push({ record: namespaceDirectory(point), replace: true });
    for (const s of this.o.staged.stagedBelow(p)) {
      if (parentOf(s.path) === p) extras.push({ record: s, replace: true });
      else {
        const child = s.path.slice(p === '/' ? 1 : p.length + 1).split('/')[0]!;
        extras.push({
          record: namespaceDirectory(p === '/' ? `/${child}` : `${p}/${child}`),
          replace: false,
        });
      }
    }
    return extras;
  }

  /** Every file at or below `p` (depth-first), using the sync policy. */
  async *walk(p: string, onDir?: () => void, signal?: AbortSignal): AsyncGenerator<FileRecord> {
    const root = await this.locate(p, undefined, signal);
    if (root.record.type === 'file') {
      yield { ...root.record, cacheId: this.cacheIdOf(root) };
      return;
    }
    const stack = [p];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const rec of await this.listRecords(dir, undefined, signal)) {
        if (rec.type === 'directory') {
          onDir?.();
          stack.push(rec.path);
        } else {
          yield rec;
        }
      }
    }
  }

  private anyResolved(p: string): Resolved {
    const first = this.o.mounts.list()[0];
    if (!first) throw new StrataError('NOT_MOUNTED', `nothing is mounted (looking up ${p})`);
    return { mount: first, ufsPath: '/' };
  }

  /** A page from the metadata store's listing, fetched from the store first when it is not fresh. */
  private async pageFromStore(
    p: string,
    resolved: Resolved,
    page: { readonly startAfter: string; readonly limit: number },
    syncOverride: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ entries: readonly FileRecord[]; more: boolean }> {
    const { meta, metrics } = this.o;
    const interval = syncOverride ?? resolved.mount.record.syncIntervalMs;
    const label = { mount: resolved.mount.record.path };
    const range = { startAfter: page.startAfter, limit: page.limit };
    const cached = await meta.listingPage(p, range);
    if (cached.complete && isFresh(cached.syncedAtMs, interval)) {
      metrics.metadataHits.inc(label);
      return cached;
    }
    metrics.metadataMisses.inc(label);
    await this.refresh(p, resolved, signal);
    // Complete, or (changed while it was stored) the children as stored: either is this fresh.
    return meta.listingPage(p, range);
  }

  /** One fetch of a directory's listing into the metadata store at a time; callers share it. */
  private refresh(p: string, resolved: Resolved, signal: AbortSignal | undefined): Promise<void> {
    const running = this.refreshing.get(p);
    if (running) return running;
    const done = this.storeListing(p, resolved, signal).finally(() => {
      if (this.refreshing.get(p) === done) this.refreshing.delete(p);
    });
    this.refreshing.set(p, done);
    return done;
  }

  /**
   * The store's listing streamed into the metadata store: batches of FILL_CHUNK children as the
   * store gives them (in no order; never the whole directory in memory), each merged, then a
   * sweep of the children the listing did not have, then the complete marker. Records whose
   * content changed or vanished take their cached pages with them. A change of the directory
   * meanwhile (the token) leaves the listing incomplete, and the next listing asks again.
   */
  private async storeListing(p: string, resolved: Resolved, signal: AbortSignal | undefined): Promise<void> {
    const { meta } = this.o;
    const token = meta.listingToken?.();
    const now = Date.now();
    const dropPages = async (olds: readonly FileRecord[]): Promise<void> => {
      for (const old of olds) if (old.cacheId) await this.o.pages.deleteFile(old.cacheId);
    };
    try {
      const batches = resolved.mount.store.listBatches(resolved.ufsPath, {
        batch: FILL_CHUNK,
        ...(signal ? { signal } : {}),
      });
      for await (const batch of batches) {
        const changed = await meta.mergeListingEntries(
          p,
          batch.map((st) => this.recordFromStore(p, resolved, st, now)),
          token,
        );
        if (changed === undefined) return;
        await dropPages(changed);
      }
    } catch (err) {
      // A directory that exists only for what is mounted or staged below it: no stored children.
      const namespaceOnly =
        isStrataError(err, 'NOT_FOUND') &&
        (this.o.mounts.mountsBelow(p).length > 0 || this.o.staged.stagedBelow(p).length > 0);
      if (!namespaceOnly) throw err;
    }
    const dropped = await meta.sweepListing(p, now, token);
    if (dropped === undefined) return;
    await dropPages(dropped);
    await meta.completeListing(p, now, token);
  }

  private recordFromStore(p: string, resolved: Resolved, st: UfsStatus, now: number): FileRecord {
    const path =
      p === '/'
        ? st.path.replace(/^\/?/, '/')
        : `${p}${st.path.slice(resolved.ufsPath === '/' ? 0 : resolved.ufsPath.length)}`;
    return recordOf(path, st, resolved.mount, undefined, now);
  }

  private async listFromStore(
    p: string,
    resolved: Resolved,
    syncOverride: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<FileRecord[]> {
    const { meta, metrics } = this.o;
    const interval = syncOverride ?? resolved.mount.record.syncIntervalMs;
    const label = { mount: resolved.mount.record.path };
    const cached = await meta.getListing(p);
    if (cached && isFresh(cached.syncedAtMs, interval)) {
      metrics.metadataHits.inc(label);
      return cached.entries;
    }
    metrics.metadataMisses.inc(label);
    // A change of the directory while the store is listed (a write, a delete) must not be
    // overwritten by this older listing: putListing keeps it only if nothing changed since.
    const token = meta.listingToken?.();
    // Taken before the listing: its entries are at least this fresh (revalidate() trusts it).
    const now = Date.now();
    let entries: UfsStatus[];
    try {
      entries = await resolved.mount.store.listAll(resolved.ufsPath, signal ? { signal } : {});
    } catch (err) {
      if (
        isStrataError(err, 'NOT_FOUND') &&
        (this.o.mounts.mountsBelow(p).length > 0 || this.o.staged.stagedBelow(p).length > 0)
      )
        return [];
      throw err;
    }
    const records = entries.map((st) => this.recordFromStore(p, resolved, st, now));
    if (cached) {
      // Pages of files that changed or vanished can never be served again: free them now.
      const current = new Map(records.map((r) => [r.path, r.fingerprint]));
      for (const old of cached.entries) {
        if (old.cacheId && current.get(old.path) !== old.fingerprint)
          await this.o.pages.deleteFile(old.cacheId);
      }
    }
    await meta.putListing(p, records, now, token);
    // The array the metadata store now hands out (from memory): returning our own copy would make
    // the next list() see a new array and rebuild every FileInfo (a 100,000-entry relist ~100 ms).
    return (await meta.getListing(p))?.entries ?? records;
  }
}

/** A child that is not in the store's listing; `replace`: it shadows a stored child of that name. */
interface Extra {
  readonly record: FileRecord;
  readonly replace: boolean;
}

/** Stored children with the extras merged in, sorted by path. */
function mergeChildren(stored: readonly FileRecord[], extras: readonly Extra[]): FileRecord[] {
  const byName = new Map<string, FileRecord>();
  for (const r of stored) byName.set(baseName(r.path), r);
  for (const x of extras) {
    const name = baseName(x.record.path);
    if (x.replace || !byName.has(name)) byName.set(name, x.record);
  }
  return [...byName.values()].sort((a, b) => compareUtf8(a.path, b.path));
}
