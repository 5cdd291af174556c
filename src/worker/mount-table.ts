import { createHash } from 'node:crypto';
import type { ErrorCode } from '../core/errors.js';
import { StrataError } from '../core/errors.js';
import type { MountOptions } from '../core/file-system.js';
import { WRITE_TYPES } from '../core/file-system.js';
import {
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_WRITE_TYPE,
  type MountPersistence,
  type MountRecord,
  redactUri,
} from '../core/mounts.js';
import { isWithin, normalizePath, relativeTo } from '../core/paths.js';
import { createUnderStore, parseUfsUri } from '../ufs/factory.js';
import {
  DEFAULT_STORE_DEADLINE_MS,
  deadlineOf,
  InstrumentedStore,
  type UfsOperation,
} from '../ufs/instrumented-store.js';
import type { UnderStore } from '../ufs/under-store.js';
import { PendingStore } from './pending-store.js';

/** Checks of a mount whose store did not answer: after 1 s, doubling up to every 10 s. */
export const PENDING_CHECK_FIRST_MS = 1_000;
export const PENDING_CHECK_MAX_MS = 10_000;

/** How the stores of mounts are watched: every call reported per mount point, and its deadline. */
export interface MountInstrumentation {
  readonly observe?: (
    mount: string,
    op: UfsOperation,
    seconds: number,
    errorCode: ErrorCode | undefined,
  ) => void;
  /**
   * See InstrumentOptions.deadlineMs (default 10 s). A mount whose `timeoutMs` option is longer
   * gets that instead, so raising the connector's timeout is not undone by the deadline.
   */
  readonly deadlineMs?: number;
  /** A mount became active on this worker (mounted here, from the registry, or at start). */
  readonly activated?: (mount: string) => void;
}

export interface ActiveMount {
  readonly record: MountRecord;
  readonly store: UnderStore;
  /** Short stable id of (mount point, URI): part of every cache id, so a remount never reuses pages. */
  readonly id: string;
}

export interface Resolved {
  readonly mount: ActiveMount;
  /** Path inside the store ("/" for the mount point itself). */
  readonly ufsPath: string;
}

/**
 * The namespace: mount points → under-stores, resolved by longest prefix. A mount may sit below
 * another mount (as in Alluxio) but not on an existing mount point, and a mount that has mounts
 * below it cannot be unmounted first.
 */
export class MountTable {
  private readonly mounts = new Map<string, ActiveMount>();
  /** Mount points sorted longest first, for longest-prefix resolution. */
  private order: string[] = [];
  /** Background checks of pending mounts (their stores did not answer when mounted). */
  private readonly checks = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly persistence: MountPersistence,
    private readonly instrument: MountInstrumentation = {},
  ) {}

  async open(): Promise<void> {
    for (const record of await this.persistence.loadMounts()) {
      this.activate(record, await this.openStore(record));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.checks) clearTimeout(timer);
    this.checks.clear();
    await Promise.allSettled([...this.mounts.values()].map((m) => m.store.close()));
    this.mounts.clear();
    this.order = [];
  }

  static validate(path: string, uri: string, options: MountOptions = {}): MountRecord {
    const p = normalizePath(path);
    parseUfsUri(uri);
    const sync = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    if (!Number.isSafeInteger(sync) || sync < -1) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `sync interval must be -1, 0 or a positive number of ms, got ${sync}`,
      );
    }
    const writeType = options.writeType ?? DEFAULT_WRITE_TYPE;
    if (!WRITE_TYPES.includes(writeType)) {
      throw new StrataError('INVALID_ARGUMENT', `write type must be one of ${WRITE_TYPES.join(', ')}`);
    }
    return {
      path: p,
      uri,
      readOnly: options.readOnly ?? false,
      syncIntervalMs: sync,
      writeType,
      options: { ...(options.options ?? {}) },
      fallbackToUfs: options.fallbackToUfs ?? false,
    };
  }

  /** Adds a mount after checking it: connects to the store and checks its root is a directory. */
  async add(record: MountRecord, checkParent: (path: string) => Promise<void>): Promise<ActiveMount> {
    if (this.mounts.has(record.path))
      throw new StrataError('MOUNT_CONFLICT', `${record.path} is already a mount point`);
    await checkParent(record.path);
    const store = await this.openStore(record);
    try {
      const root = await store.status('/');
      if (root.type !== 'directory')
        throw new StrataError('INVALID_URI', `${redactUri(record.uri)} is not a directory`);
    } catch (err) {
      await store.close();
      throw err;
    }
    await this.persistence.saveMount(record);
    return this.activate(record, store);
  }

  /**
   * Adds a mount whose store did not answer (`cause`), as a worker does at start rather than
   * exit: the mount is persisted and resolves, but its calls fail UFS_UNAVAILABLE saying why
   * (PendingStore) while its root is checked in the background — after PENDING_CHECK_FIRST_MS,
   * doubling up to every PENDING_CHECK_MAX_MS — until it answers as a directory; then the mount
   * works and `onAvailable` is told. Unmounting it, replacing it or closing the table stops the
   * checks.
   */
  async addPending(
    record: MountRecord,
    cause: unknown,
    onAvailable: (mount: ActiveMount) => void = () => undefined,
  ): Promise<ActiveMount> {
    if (this.mounts.has(record.path))
      throw new StrataError('MOUNT_CONFLICT', `${record.path} is already a mount point`);
    const pending = new PendingStore(await this.openStore(record), record.path, cause);
    await this.persistence.saveMount(record);
    const mount = this.activate(record, pending);
    this.scheduleCheck(mount, pending, PENDING_CHECK_FIRST_MS, onAvailable);
    return mount;
  }

  private scheduleCheck(
    mount: ActiveMount,
    pending: PendingStore,
    delayMs: number,
    onAvailable: (mount: ActiveMount) => void,
  ): void {
    if (this.closed) return;
    pending.checkDueAt(Date.now() + delayMs);
    const timer = setTimeout(async () => {
      this.checks.delete(timer);
      if (this.mounts.get(mount.record.path) !== mount) return; // unmounted or replaced meanwhile
      try {
        const root = await pending.inner.status('/');
        if (root.type !== 'directory')
          throw new StrataError('INVALID_URI', `${redactUri(mount.record.uri)} is not a directory`);
      } catch (err) {
        pending.failed(err);
        this.scheduleCheck(mount, pending, Math.min(delayMs * 2, PENDING_CHECK_MAX_MS), onAvailable);
        return;
      }
      if (this.mounts.get(mount.record.path) !== mount) return;
      pending.open();
      onAvailable(mount);
    }, delayMs);
    timer.unref();
    this.checks.add(timer);
  }

  async remove(path: string): Promise<ActiveMount> {
    const p = normalizePath(path);
    const mount = this.mounts.get(p);
    if (!mount) throw new StrataError('NOT_MOUNTED', `${p} is not a mount point`);
    const nested = this.order.filter((m) => m !== p && isWithin(m, p));
    if (nested.length > 0)
      throw new StrataError('MOUNT_CONFLICT', `unmount ${nested.join(', ')} first: mounted below ${p}`);
    await this.persistence.deleteMount(p);
    this.mounts.delete(p);
    this.order = this.order.filter((m) => m !== p);
    await mount.store.close();
    return mount;
  }

  /**
   * Makes the active mounts match a registry snapshot (another worker mounted or unmounted),
   * without writing back. Returns the mounts that went away or were replaced, for cleanup.
   */
  async apply(records: readonly MountRecord[]): Promise<ActiveMount[]> {
    const wanted = new Map(records.map((r) => [r.path, r]));
    const gone: ActiveMount[] = [];
    for (const [path, active] of this.mounts) {
      const next = wanted.get(path);
      if (!next || JSON.stringify(next) !== JSON.stringify(active.record)) {
        this.mounts.delete(path);
        gone.push(active);
        await active.store.close().catch(() => undefined);
      }
    }
    for (const record of records) {
      if (!this.mounts.has(record.path)) this.activate(record, await this.openStore(record));
    }
    this.order = [...this.mounts.keys()].sort((a, b) => b.length - a.length);
    return gone;
  }

  list(): ActiveMount[] {
    return [...this.mounts.values()].sort((a, b) => (a.record.path < b.record.path ? -1 : 1));
  }

  get(path: string): ActiveMount | undefined {
    return this.mounts.get(path);
  }

  /** The mount holding a normalised path, or undefined when none covers it. */
  tryResolve(path: string): Resolved | undefined {
    for (const point of this.order) {
      if (isWithin(path, point)) {
        const mount = this.mounts.get(point)!;
        return { mount, ufsPath: relativeTo(path, point) };
      }
    }
    return undefined;
  }

  resolve(path: string): Resolved {
    const r = this.tryResolve(path);
    if (!r) throw new StrataError('NOT_MOUNTED', `no mount covers ${path}`, { details: { path } });
    return r;
  }

  /** resolve(), refusing paths of read-only mounts (READ_ONLY): what every mutation starts with. */
  writable(path: string): Resolved {
    const r = this.resolve(path);
    if (r.mount.record.readOnly)
      throw new StrataError('READ_ONLY', `${r.mount.record.path} is mounted read-only`);
    return r;
  }

  /** Mount points directly below `dir` (they appear as directories in its listing). */
  childMountPoints(dir: string): string[] {
    return this.order.filter(
      (m) => m !== dir && isWithin(m, dir) && !m.slice(dir === '/' ? 1 : dir.length + 1).includes('/'),
    );
  }

  /** Mount points strictly below `dir`, at any depth. */
  mountsBelow(dir: string): string[] {
    return this.order.filter((m) => m !== dir && isWithin(m, dir));
  }

  /** The mount's store, wrapped so every call is timed, bounded by the deadline and abortable. */
  private async openStore(record: MountRecord): Promise<UnderStore> {
    const store = await createUnderStore(record.uri, record.options);
    const observe = this.instrument.observe;
    return new InstrumentedStore(store, {
      ...(observe ? { observe: (op, seconds, code) => observe(record.path, op, seconds, code) } : {}),
      deadlineMs: deadlineOf(record.options, this.instrument.deadlineMs ?? DEFAULT_STORE_DEADLINE_MS),
    });
  }

  private activate(record: MountRecord, store: UnderStore): ActiveMount {
    const id = createHash('sha256').update(`${record.path}\0${record.uri}`).digest('base64url').slice(0, 12);
    const mount: ActiveMount = { record, store, id };
    this.mounts.set(record.path, mount);
    this.order = [...this.mounts.keys()].sort((a, b) => b.length - a.length);
    this.instrument.activated?.(record.path);
    return mount;
  }
}
