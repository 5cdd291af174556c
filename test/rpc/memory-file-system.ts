import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type {
  CacheProbeItem,
  CallOptions,
  ClusterReport,
  DeleteOptions,
  FileInfo,
  JobBatchCallOptions,
  JobBatchRequest,
  JobBatchResult,
  JobSummary,
  ListPage,
  ListPageOptions,
  MountInfo,
  MountOptions,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WriteOptions,
  WriteType,
} from '../../src/client/types.js';
import { StrataError } from '../../src/core/errors.js';
import { MAX_READ_BUFFER, WRITE_TYPES } from '../../src/core/file-system.js';
import { parseJobBatchRequest } from '../../src/core/job-batch.js';
import { checkListPage } from '../../src/core/list-pages.js';
import { MASKED, maskOptions, redactUri } from '../../src/core/mounts.js';
import { baseName, isWithin, normalizePath, parentOf } from '../../src/core/paths.js';
import { compareUtf8 } from '../../src/core/utf8-order.js';
import { parseUfsUri, secretOptionsOf } from '../../src/ufs/factory.js';

export interface MemoryFile {
  data: Buffer;
  mtimeMs: number;
  fingerprint: string;
  pinned: boolean;
  ttlMs?: number;
  ttlAction?: 'free' | 'delete';
  cached: number;
  persistence: FileInfo['persistence'];
}

export interface MemoryFileSystemOptions {
  /**
   * Like a worker with nothing mounted on "/": paths outside every mount are NOT_MOUNTED. By
   * default the fake behaves as if "/" were mounted without being listed (transport tests write
   * anywhere without mounting first).
   */
  readonly requireMounts?: boolean;
}

/** An already-aborted signal fails the call before it does anything, as the real ones must. */
function checkSignal(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError')
    throw new StrataError('TIMEOUT', 'the call passed its deadline', { cause: reason });
  throw new StrataError('CANCELLED', 'the call was cancelled', { cause: reason });
}

/** Options of mounts shown with the connector's declared secrets masked, as the worker does. */
function maskedMountOptions(uri: string, options: Readonly<Record<string, string>>): Record<string, string> {
  return maskOptions(options, secretOptionsOf(uri, options));
}

let writes = 0;

/**
 * A small in-memory StrataFileSystem: the fake behind transport tests (RPC, CLI, cluster
 * routing), and one of the implementations the client contract suite (src/client/contract.ts)
 * runs against, so it behaves like the worker where that suite says how: error codes, write
 * types (THROUGH caches nothing, MUST_CACHE is never persisted, ASYNC_THROUGH persists right
 * after the write), mounts (read-only, masking, conflicts), already-aborted signals. Its files
 * outlive an unmount (as a store's would), so remounting the same point shows them again.
 * Reads do not change cached bytes; load does. Special paths: "/broken.bin" streams 1 MiB and
 * then fails; "/lazy-missing" fails on its first read.
 */
export class MemoryFileSystem implements StrataFileSystem {
  readonly files = new Map<string, MemoryFile>();
  readonly dirs = new Set<string>(['/']);
  readonly mountTable: MountInfo[] = [];
  /** Last options seen per method, so tests can check that options crossed the wire. */
  readonly seen: Record<string, unknown> = {};
  /** Calls per method (status only so far). */
  readonly calls: Record<string, number> = {};
  readonly #requireMounts: boolean;

  constructor(options: MemoryFileSystemOptions = {}) {
    this.#requireMounts = options.requireMounts ?? false;
  }

  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    const p = normalizePath(path);
    this.seen.status = options;
    this.calls.status = (this.calls.status ?? 0) + 1;
    checkSignal(options.signal);
    return this.#info(p);
  }

  async list(path: string, options: SyncOption = {}): Promise<readonly FileInfo[]> {
    this.seen.list = options;
    return this.#children(path, options);
  }

  #children(path: string, options: SyncOption): FileInfo[] {
    const p = normalizePath(path);
    checkSignal(options.signal);
    this.#visible(p);
    if (this.files.has(p))
      throw new StrataError('NOT_A_DIRECTORY', `not a directory: ${p}`, { details: { path: p } });
    if (!this.dirs.has(p))
      throw new StrataError('NOT_FOUND', `no such directory: ${p}`, { details: { path: p } });
    const children = [...this.dirs, ...this.files.keys()].filter(
      (c) => c !== '/' && c !== p && parentOf(c) === p && this.#isVisible(c),
    );
    return children.sort(compareUtf8).map((c) => this.#info(c));
  }

  /** A page of list() (a fake: it lists the whole directory and cuts the page out). */
  async listPage(path: string, options: ListPageOptions = {}): Promise<ListPage> {
    const { startAfter, limit } = checkListPage(options);
    this.seen.listPage = options;
    const all = this.#children(path, options);
    const from = all.filter((e) => startAfter === '' || compareUtf8(e.name, startAfter) > 0);
    const entries = from.slice(0, limit);
    const last = entries[entries.length - 1];
    return from.length > limit && last ? { entries, nextStartAfter: last.name } : { entries };
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const p = normalizePath(path);
    this.seen.read = { ...options, signal: undefined };
    checkSignal(options.signal);
    if (p === '/broken.bin') {
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const r = new Readable({
        read() {
          if (sent >= 1024 * 1024) {
            this.destroy(new StrataError('UFS_UNAVAILABLE', 'store went away mid-read'));
            return;
          }
          sent += chunk.length;
          this.push(chunk);
        },
      });
      return Object.assign(r, { contentLength: 4 * 1024 * 1024 });
    }
    if (p === '/lazy-missing') {
      return new Readable({
        read() {
          this.destroy(
            new StrataError('NOT_FOUND', 'vanished before the first byte', { details: { path: p } }),
          );
        },
      });
    }
    const slice = this.#range(p, options);
    const chunks: Buffer[] = [];
    for (let i = 0; i < slice.length; i += 256 * 1024) chunks.push(slice.subarray(i, i + 256 * 1024));
    return Object.assign(Readable.from(chunks, { objectMode: false }), { contentLength: slice.length });
  }

  async readBuffer(path: string, options: ReadOptions & { length: number }): Promise<Buffer> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    if (!Number.isSafeInteger(options.length) || options.length < 0 || options.length > MAX_READ_BUFFER)
      throw new StrataError('INVALID_ARGUMENT', `readBuffer reads 0..${MAX_READ_BUFFER} bytes`);
    return Buffer.from(this.#range(p, options));
  }

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    const p = normalizePath(path);
    this.seen.write = { ...options, signal: undefined };
    let writeType: WriteType;
    try {
      checkSignal(options.signal);
      const mount = this.#writable(p);
      if (p === '/' || this.mountTable.some((m) => m.path === p) || this.dirs.has(p))
        throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`, { details: { path: p } });
      writeType = options.writeType ?? mount?.writeType ?? 'CACHE_THROUGH';
      if (!WRITE_TYPES.includes(writeType))
        throw new StrataError('INVALID_ARGUMENT', `write type must be one of ${WRITE_TYPES.join(', ')}`);
      this.#checkParents(p);
    } catch (err) {
      source.resume();
      throw err;
    }
    const data = await buffer(source);
    checkSignal(options.signal);
    if (options.size !== undefined && options.size !== data.length) {
      throw new StrataError('INVALID_ARGUMENT', `size ${options.size} announced, ${data.length} received`);
    }
    this.#makeParents(p);
    const mtimeMs = Date.now();
    const file: MemoryFile = {
      data,
      mtimeMs,
      fingerprint: `${data.length}:${mtimeMs}:${++writes}`,
      pinned: false,
      cached: writeType === 'THROUGH' ? 0 : data.length,
      persistence:
        writeType === 'MUST_CACHE'
          ? 'NOT_PERSISTED'
          : writeType === 'ASYNC_THROUGH'
            ? 'TO_BE_PERSISTED'
            : 'PERSISTED',
    };
    this.files.set(p, file);
    const info = this.#info(p);
    if (writeType === 'ASYNC_THROUGH') {
      // "Persisted in the background": right after the write has been answered.
      setImmediate(() => {
        if (this.files.get(p) === file) file.persistence = 'PERSISTED';
      });
    }
    return info;
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    this.#writable(p);
    if (this.mountTable.some((m) => isWithin(m.path, p)))
      throw new StrataError('MOUNT_CONFLICT', `${p} is or contains a mount point; unmount first`);
    if (this.files.delete(p)) return;
    if (!this.dirs.has(p)) throw new StrataError('NOT_FOUND', `no such path: ${p}`, { details: { path: p } });
    const below = [...this.files.keys(), ...this.dirs].filter((c) => c !== p && isWithin(c, p));
    if (below.length > 0 && !options.recursive)
      throw new StrataError('DIRECTORY_NOT_EMPTY', `${p} is not empty`);
    for (const c of below) {
      this.files.delete(c);
      this.dirs.delete(c);
    }
    this.dirs.delete(p);
  }

  async mkdir(path: string, options: CallOptions = {}): Promise<void> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    this.#writable(p);
    if (this.files.has(p))
      throw new StrataError('ALREADY_EXISTS', `${p} is a file`, { details: { path: p } });
    this.#checkParents(p);
    this.#makeParents(p);
    this.dirs.add(p);
  }

  async rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    const a = normalizePath(from);
    const b = normalizePath(to);
    checkSignal(options.signal);
    const ma = this.#writable(a);
    const mb = this.#writable(b);
    if (ma?.path !== mb?.path)
      throw new StrataError('UNSUPPORTED', `rename across mounts (${ma?.path} → ${mb?.path}); use cp and rm`);
    if (this.mountTable.some((m) => isWithin(m.path, a)))
      throw new StrataError('MOUNT_CONFLICT', `${a} is or contains a mount point`);
    if (!this.files.has(a) && !this.dirs.has(a))
      throw new StrataError('NOT_FOUND', `no such path: ${a}`, { details: { path: a } });
    if (this.files.has(b) || this.dirs.has(b)) throw new StrataError('ALREADY_EXISTS', `${b} already exists`);
    if (isWithin(b, a)) throw new StrataError('INVALID_ARGUMENT', 'cannot move a directory inside itself');
    this.#checkParents(b);
    this.#makeParents(b);
    const moved = (p: string) => (p === a ? b : `${b}${p.slice(a.length)}`);
    for (const [p, f] of [...this.files]) {
      if (!isWithin(p, a)) continue;
      this.files.delete(p);
      this.files.set(moved(p), f);
    }
    for (const d of [...this.dirs]) {
      if (!isWithin(d, a)) continue;
      this.dirs.delete(d);
      this.dirs.add(moved(d));
    }
  }

  async mount(path: string, uri: string, options: MountOptions & CallOptions = {}): Promise<MountInfo> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    if (this.mountTable.some((m) => m.path === p))
      throw new StrataError('MOUNT_CONFLICT', `${p} is already a mount point`);
    parseUfsUri(uri);
    for (const name of secretOptionsOf(uri, options.options ?? {}))
      if (options.options?.[name] === MASKED)
        throw new StrataError('INVALID_ARGUMENT', `option ${name} is the masked form of a secret`);
    if (this.files.has(p)) throw new StrataError('MOUNT_CONFLICT', `${p} is a file`);
    const info: MountInfo = {
      path: p,
      uri: redactUri(uri),
      readOnly: options.readOnly ?? false,
      fallbackToUfs: options.fallbackToUfs ?? false,
      syncIntervalMs: options.syncIntervalMs ?? -1,
      writeType: options.writeType ?? 'CACHE_THROUGH',
      options: maskedMountOptions(uri, options.options ?? {}),
    };
    this.mountTable.push(info);
    this.mountTable.sort((x, y) => compareUtf8(x.path, y.path));
    this.#makeParents(p);
    this.dirs.add(p);
    return info;
  }

  async unmount(path: string, options: CallOptions = {}): Promise<void> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    const i = this.mountTable.findIndex((m) => m.path === p);
    if (i < 0) throw new StrataError('NOT_MOUNTED', `${p} is not a mount point`);
    if (this.mountTable.some((m) => m.path !== p && isWithin(m.path, p)))
      throw new StrataError('MOUNT_CONFLICT', `mounts below ${p}: unmount them first`);
    this.mountTable.splice(i, 1);
  }

  async mounts(options: CallOptions = {}): Promise<MountInfo[]> {
    checkSignal(options.signal);
    return [...this.mountTable];
  }

  async load(path: string, options: CallOptions = {}): Promise<JobSummary> {
    checkSignal(options.signal);
    return this.#job(path, (f) => {
      f.cached = f.data.length;
    });
  }

  async free(path: string, options: CallOptions = {}): Promise<JobSummary> {
    checkSignal(options.signal);
    return this.#job(path, (f) => {
      if (!f.pinned) f.cached = 0;
    });
  }

  async pin(path: string, pinned: boolean, options: CallOptions = {}): Promise<void> {
    checkSignal(options.signal);
    this.#job(path, (f) => {
      f.pinned = pinned;
    });
  }

  async setTtl(
    path: string,
    ttlMs: number | null,
    action?: 'free' | 'delete',
    options: CallOptions = {},
  ): Promise<void> {
    checkSignal(options.signal);
    const f = this.#file(path);
    if (ttlMs === null) {
      delete f.ttlMs;
      delete f.ttlAction;
    } else {
      f.ttlMs = ttlMs;
      f.ttlAction = action ?? 'free';
    }
  }

  async du(path: string, options: CallOptions = {}): Promise<UsageSummary> {
    const p = normalizePath(path);
    checkSignal(options.signal);
    this.#info(p);
    const files = [...this.files.entries()].filter(([k]) => isWithin(k, p));
    // Like the worker (and HDFS's count): a directory counts itself.
    const dirs = [...this.dirs].filter((d) => isWithin(d, p) && this.#isVisible(d));
    return {
      files: files.length,
      directories: dirs.length,
      bytes: files.reduce((n, [, f]) => n + f.data.length, 0),
      cachedBytes: files.reduce((n, [, f]) => n + f.cached, 0),
    };
  }

  async report(options: CallOptions = {}): Promise<ClusterReport> {
    checkSignal(options.signal);
    return {
      version: '0.1.0-test',
      registry: 'memory',
      mounts: [...this.mountTable],
      workers: [
        {
          id: 'w1',
          address: 'http://127.0.0.1:1',
          state: 'ACTIVE',
          capacityBytes: 1024 ** 3,
          usedBytes: 1024,
          hitRatio: 0.5,
          tiers: [{ tier: 'MEM', capacityBytes: 1024 ** 3, usedBytes: 1024, pages: 1, evictions: 0 }],
          startedAtMs: 1,
          version: '0.1.0-test',
        },
      ],
      pendingPersists: 0,
    };
  }

  async cachedBytesOf(items: readonly CacheProbeItem[], options: CallOptions = {}): Promise<number[]> {
    checkSignal(options.signal);
    return items.map(({ path, fingerprint }) => {
      const f = this.files.get(path);
      return f?.fingerprint === fingerprint ? f.cached : 0;
    });
  }

  /** As a worker does it: the bytes a load "reads from the store" are those not cached yet. */
  async jobBatch(request: JobBatchRequest, options: JobBatchCallOptions = {}): Promise<JobBatchResult[]> {
    const { op, paths, options: opts = {} } = parseJobBatchRequest(request);
    this.seen.jobBatch = { request, worker: options.worker };
    checkSignal(options.signal);
    return paths.map((path): JobBatchResult => {
      try {
        const p = normalizePath(path);
        const info = this.#info(p);
        const result = (outcome: 'done' | 'skipped', storeBytesRead: number): JobBatchResult => {
          const now = this.#info(p);
          return {
            path,
            outcome,
            bytes: now.type === 'file' ? now.size : 0,
            storeBytesRead,
            cachedPercent: now.cachedPercent,
            ...(op === 'load' && opts.verify === true ? { repairedPages: 0 } : {}),
          };
        };
        if (op === 'load' && opts.metadataOnly === true) return result('done', 0);
        if (info.type === 'directory' && op === 'load')
          throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`, { details: { path: p } });
        const f = this.files.get(p);
        if (op === 'load') {
          if (opts.skipIfCached === true && info.cachedPercent === 100) return result('skipped', 0);
          const missing = f ? f.data.length - f.cached : 0;
          if (f) f.cached = f.data.length;
          return result('done', missing);
        }
        if (op === 'free') {
          this.#job(p, (file) => {
            if (!file.pinned) file.cached = 0;
          });
          return result('done', 0);
        }
        if (f === undefined || f.persistence === 'PERSISTED') return result('skipped', 0);
        f.persistence = 'PERSISTED';
        return result('done', 0);
      } catch (err) {
        const e = err instanceof StrataError ? err : new StrataError('INTERNAL', String(err));
        return { path, error: { code: e.code, message: e.message, retryable: e.retryable } };
      }
    });
  }

  #range(p: string, options: ReadOptions): Buffer {
    this.#visible(p);
    const f = this.files.get(p);
    if (!f)
      throw new StrataError(this.dirs.has(p) ? 'IS_A_DIRECTORY' : 'NOT_FOUND', `cannot read ${p}`, {
        details: { path: p },
      });
    const offset = options.offset ?? 0;
    if (offset > f.data.length)
      throw new StrataError('INVALID_RANGE', `offset ${offset} past the end of ${p}`);
    const end =
      options.length === undefined ? f.data.length : Math.min(f.data.length, offset + options.length);
    return f.data.subarray(offset, end);
  }

  #file(path: string): MemoryFile {
    const p = normalizePath(path);
    this.#visible(p);
    const f = this.files.get(p);
    if (!f) throw new StrataError('NOT_FOUND', `no such file: ${p}`, { details: { path: p } });
    return f;
  }

  #job(path: string, fn: (f: MemoryFile) => void): JobSummary {
    const p = normalizePath(path);
    this.#visible(p);
    let files = 0;
    let bytes = 0;
    for (const [k, f] of this.files) {
      if (!isWithin(k, p)) continue;
      fn(f);
      files++;
      bytes += f.data.length;
    }
    if (files === 0 && !this.dirs.has(p))
      throw new StrataError('NOT_FOUND', `no such path: ${p}`, { details: { path: p } });
    return { files, bytes };
  }

  #mountOf(p: string): MountInfo | undefined {
    return this.mountTable
      .filter((m) => isWithin(p, m.path))
      .sort((a, b) => b.path.length - a.path.length)[0];
  }

  /** Whether a path exists in the namespace at all: inside a mount, or "/" and ancestors of mount points. */
  #isVisible(p: string): boolean {
    if (!this.#requireMounts || this.#mountOf(p)) return true;
    return p === '/' || this.mountTable.some((m) => isWithin(m.path, p));
  }

  #visible(p: string): void {
    if (!this.#isVisible(p))
      throw new StrataError('NOT_MOUNTED', `no mount covers ${p}`, { details: { path: p } });
  }

  /** The mount a change at `p` goes to; READ_ONLY or NOT_MOUNTED when it cannot be changed. */
  #writable(p: string): MountInfo | undefined {
    const mount = this.#mountOf(p);
    if (!mount && this.#requireMounts)
      throw new StrataError('NOT_MOUNTED', `no mount covers ${p}`, { details: { path: p } });
    if (mount?.readOnly) throw new StrataError('READ_ONLY', `${mount.path} is mounted read-only`);
    return mount;
  }

  #checkParents(p: string): void {
    for (let d = parentOf(p); d !== '/'; d = parentOf(d)) {
      if (this.files.has(d))
        throw new StrataError('NOT_A_DIRECTORY', `${d} is a file`, { details: { path: d } });
    }
  }

  #makeParents(p: string): void {
    for (let d = parentOf(p); d !== '/'; d = parentOf(d)) this.dirs.add(d);
  }

  #info(p: string): FileInfo {
    this.#visible(p);
    const f = this.files.get(p);
    const mount = this.#mountOf(p)?.path ?? '/';
    if (!f && !this.dirs.has(p))
      throw new StrataError('NOT_FOUND', `no such path: ${p}`, { details: { path: p } });
    const base = { path: p, name: baseName(p), mount };
    if (!f) {
      return {
        ...base,
        type: 'directory',
        size: 0,
        mtimeMs: 0,
        fingerprint: 'dir',
        cachedBytes: 0,
        cachedPercent: 0,
        pinned: false,
        persistence: 'PERSISTED',
      };
    }
    const info: FileInfo = {
      ...base,
      type: 'file',
      size: f.data.length,
      mtimeMs: f.mtimeMs,
      fingerprint: f.fingerprint,
      cachedBytes: f.cached,
      cachedPercent: f.data.length === 0 ? 100 : Math.floor((f.cached / f.data.length) * 100),
      pinned: f.pinned,
      persistence: f.persistence,
    };
    return f.ttlMs === undefined ? info : { ...info, ttlMs: f.ttlMs, ttlAction: f.ttlAction ?? 'free' };
  }
}
