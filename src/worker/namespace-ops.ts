import type { PageStore } from '../cache/page-store.js';
import { throwIfAborted } from '../core/abort.js';
import { isStrataError, StrataError, toStrataError } from '../core/errors.js';
import type {
  CallOptions,
  DeleteOptions,
  InvalidateOptions,
  MountInfo,
  MountOptions,
} from '../core/file-system.js';
import { canonicalMountRecord, MASKED, type MountRecord, mountInfo } from '../core/mounts.js';
import { normalizePath } from '../core/paths.js';
import type { MetaStore } from '../meta/meta-store.js';
import { secretOptionsOf } from '../ufs/factory.js';
import type { MetadataSync } from './metadata-sync.js';
import { MountTable } from './mount-table.js';
import type { Persister } from './persister.js';
import type { WritePath } from './write-path.js';

export interface NamespaceOpsParts {
  readonly sync: MetadataSync;
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  readonly pages: PageStore;
  readonly persister: Persister;
  readonly writes: Pick<WritePath, 'dropStaged'>;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * Operations on the tree and the mount table: mkdir, delete, rename, mount, unmount. Each drops
 * the metadata (and pages) it makes stale; mount points cannot be deleted or renamed, and a path
 * with writes not yet persisted cannot be renamed.
 */
export class NamespaceOps {
  constructor(private readonly o: NamespaceOpsParts) {}

  async mkdir(path: string, options: CallOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const r = this.o.mounts.writable(p);
    await r.mount.store.mkdir(r.ufsPath, options.signal ? { signal: options.signal } : {});
    await this.o.meta.invalidate(p);
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const { mounts, meta, pages, persister } = this.o;
    const p = normalizePath(path);
    if (mounts.get(p) || mounts.mountsBelow(p).length > 0) {
      throw new StrataError('MOUNT_CONFLICT', `${p} is or contains a mount point; unmount first`);
    }
    const staged = persister.staged(p);
    if (staged) {
      await this.o.writes.dropStaged(staged);
      return;
    }
    const r = mounts.writable(p);
    const located = await this.o.sync.locate(p, 0, options.signal);
    const stagedBelow = persister.stagedBelow(p);
    if (located.record.type === 'directory' && stagedBelow.length > 0 && !options.recursive) {
      throw new StrataError('DIRECTORY_NOT_EMPTY', `${p} is not empty`);
    }
    try {
      await r.mount.store.delete(r.ufsPath, {
        ...(options.recursive ? { recursive: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      // A directory that holds only not-yet-persisted files may not exist in the store yet.
      if (!(isStrataError(err, 'NOT_FOUND') && stagedBelow.length > 0)) throw err;
    }
    for (const s of stagedBelow) await this.o.writes.dropStaged(s);
    if (located.record.cacheId) await pages.deleteFile(located.record.cacheId);
    await meta.deleteTree(p);
    await meta.invalidate(p);
  }

  async rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const { mounts, meta, pages, persister, sync } = this.o;
    const a = normalizePath(from);
    const b = normalizePath(to);
    const ra = mounts.writable(a);
    const rb = mounts.writable(b);
    if (ra.mount !== rb.mount)
      throw new StrataError(
        'UNSUPPORTED',
        `rename across mounts (${ra.mount.record.path} → ${rb.mount.record.path}); use cp and rm`,
      );
    if (mounts.get(a) || mounts.mountsBelow(a).length > 0)
      throw new StrataError('MOUNT_CONFLICT', `${a} is or contains a mount point`);
    if (persister.staged(a) || persister.stagedBelow(a).length > 0) {
      throw new StrataError('UNSUPPORTED', `${a} has writes not yet persisted; retry after they are`);
    }
    const src = await sync.locate(a, 0, options.signal);
    if (await sync.exists(b, options.signal)) throw new StrataError('ALREADY_EXISTS', `${b} already exists`);
    await ra.mount.store.rename(ra.ufsPath, rb.ufsPath, options.signal ? { signal: options.signal } : {});
    if (src.record.cacheId) await pages.deleteFile(src.record.cacheId);
    await meta.deleteTree(a);
    await meta.invalidate(a);
    await meta.invalidate(b);
  }

  async mount(path: string, uri: string, options: MountOptions & CallOptions = {}): Promise<MountInfo> {
    throwIfAborted(options.signal);
    const { signal, ...mountOptions } = options;
    const validated = MountTable.validate(path, uri, mountOptions);
    // The connector's declaration of its credential options travels with the record: the
    // registry seals those values and every view masks them.
    const secretOptions = secretOptionsOf(validated.uri, validated.options);
    for (const name of secretOptions) {
      if (validated.options[name] === MASKED) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `option ${name} is "${MASKED}", the masked form of a secret: pass the secret itself`,
          { details: { option: name } },
        );
      }
    }
    const record = canonicalMountRecord({ ...validated, secretOptions });
    try {
      await this.o.mounts.add(record, async (p) => {
        const parent = this.o.mounts.tryResolve(p);
        if (!parent) return;
        const existing = await this.o.sync.tryLocate(p, 0, signal).catch(() => undefined);
        if (existing && existing.record.type === 'file')
          throw new StrataError('MOUNT_CONFLICT', `${p} is a file in ${parent.mount.record.path}`);
      });
    } catch (err) {
      throw withoutSecrets(err, record);
    }
    await this.o.meta.deleteTree(record.path);
    await this.o.meta.invalidate(record.path);
    this.o.log('mounted', { path: record.path, uri: mountInfo(record).uri });
    return mountInfo(record);
  }

  async unmount(path: string, options: CallOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const { mounts, meta, persister } = this.o;
    const p = normalizePath(path);
    if (persister.stagedBelow(p).length > 0 && persister.pendingBelow(p) > 0) {
      throw new StrataError('MOUNT_CONFLICT', `${p} has ASYNC_THROUGH writes not yet persisted`);
    }
    const mount = await mounts.remove(p);
    for (const s of persister.stagedBelow(p)) await this.o.writes.dropStaged(s);
    await meta.deleteTree(p);
    await meta.invalidate(p);
    const freed = await this.freeMount(mount.id);
    this.o.log('unmounted', { path: p, freedFiles: freed });
  }

  /** Applies a mount-table snapshot from the registry; frees what removed mounts had cached. */
  async applyMounts(records: readonly MountRecord[]): Promise<void> {
    for (const gone of await this.o.mounts.apply(records)) {
      if (this.o.mounts.get(gone.record.path)?.id === gone.id) continue;
      await this.o.meta.deleteTree(gone.record.path);
      await this.freeMount(gone.id);
      this.o.log('mount_removed', { path: gone.record.path });
    }
  }

  async invalidate(path: string, options: InvalidateOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const cached = await this.o.meta.getStatus(p);
    if (cached?.cacheId && !cached.staging) await this.o.pages.deleteFile(cached.cacheId);
    // Files below keep their pages until evicted: their cache ids change with their store
    // fingerprint, so they can never be served for a new file at the same path.
    if (options.tree) await this.o.meta.deleteTree(p);
    await this.o.meta.invalidate(p);
  }

  async mounts(options: CallOptions = {}): Promise<MountInfo[]> {
    throwIfAborted(options.signal);
    return this.o.mounts.list().map((m) => mountInfo(withDeclaredSecrets(m.record)));
  }

  /** Drops every cached page of a mount (cache ids end with the mount id); returns the files freed. */
  private async freeMount(mountId: string): Promise<number> {
    const victims = [...this.o.pages.files()].filter((id) => id.endsWith(mountId));
    for (const id of victims) await this.o.pages.deleteFile(id);
    return victims.length;
  }
}

/** The record with the connector's current declaration of secrets added to the names it carries. */
function withDeclaredSecrets(record: MountRecord): MountRecord {
  const declared = secretOptionsOf(record.uri, record.options);
  const carried = record.secretOptions ?? Object.keys(record.options);
  return { ...record, secretOptions: [...new Set([...carried, ...declared])].sort() };
}

/**
 * A failed mount's error with the secret values (and the URI's user info) replaced by `****`:
 * a store's own message (an SDK's, an origin's) may echo what it was given.
 */
function withoutSecrets(err: unknown, record: MountRecord): unknown {
  if (!(err instanceof Error)) return err;
  const secrets = (record.secretOptions ?? [])
    .map((k) => record.options[k])
    .filter((v): v is string => v !== undefined && v.length >= 4);
  try {
    const url = new URL(record.uri);
    for (const part of [url.username, url.password, decodeURIComponent(url.password)])
      if (part.length >= 4) secrets.push(part);
  } catch {
    // not a URL: nothing more to hide
  }
  if (secrets.length === 0) return err;
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join(MASKED), text);
  const e = err instanceof StrataError ? err : toStrataError(err);
  const details = JSON.parse(scrub(JSON.stringify(e.details))) as Record<string, unknown>;
  const message = scrub(e.message);
  if (message === e.message && JSON.stringify(details) === JSON.stringify(e.details)) return err;
  return new StrataError(e.code, message, { details });
}
