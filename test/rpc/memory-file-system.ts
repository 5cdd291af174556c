import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type {
  ClusterReport,
  FileInfo,
  JobSummary,
  MountInfo,
  MountOptions,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WriteOptions,
} from '../../src/client/types.js';
import { StrataError } from '../../src/core/errors.js';
import { baseName, isWithin, normalizePath, parentOf } from '../../src/core/paths.js';

/**
 * A tiny in-memory StrataFileSystem for transport tests (RPC, CLI). It is not the worker; it only
 * has to behave plausibly so the wire format can be checked end to end. Special paths:
 * "/broken.bin" streams 1 MiB and then fails; "/lazy-missing" fails on its first read.
 */
export class MemoryFileSystem implements StrataFileSystem {
  readonly files = new Map<
    string,
    {
      data: Buffer;
      mtimeMs: number;
      pinned: boolean;
      ttlMs?: number;
      ttlAction?: 'free' | 'delete';
      cached: number;
    }
  >();
  readonly dirs = new Set<string>(['/']);
  readonly mountTable: MountInfo[] = [];
  /** Last options seen per method, so tests can check that options crossed the wire. */
  readonly seen: Record<string, unknown> = {};

  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    const p = normalizePath(path);
    this.seen.status = options;
    return this.#info(p);
  }

  async list(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    const p = normalizePath(path);
    this.seen.list = options;
    if (this.files.has(p))
      throw new StrataError('NOT_A_DIRECTORY', `not a directory: ${p}`, { details: { path: p } });
    if (!this.dirs.has(p))
      throw new StrataError('NOT_FOUND', `no such directory: ${p}`, { details: { path: p } });
    const children = [...this.dirs, ...this.files.keys()].filter(
      (c) => c !== '/' && c !== p && parentOf(c) === p,
    );
    return children.sort().map((c) => this.#info(c));
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const p = normalizePath(path);
    this.seen.read = { ...options, signal: undefined };
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
    const slice = f.data.subarray(offset, end);
    const chunks: Buffer[] = [];
    for (let i = 0; i < slice.length; i += 256 * 1024) chunks.push(slice.subarray(i, i + 256 * 1024));
    return Object.assign(Readable.from(chunks, { objectMode: false }), { contentLength: slice.length });
  }

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    const p = normalizePath(path);
    this.seen.write = { ...options, signal: undefined };
    if (this.#mountOf(p)?.readOnly) {
      source.resume();
      throw new StrataError('READ_ONLY', `mount of ${p} is read-only`);
    }
    if (!this.dirs.has(parentOf(p))) throw new StrataError('NOT_FOUND', `no parent directory for ${p}`);
    const data = await buffer(source);
    if (options.size !== undefined && options.size !== data.length) {
      throw new StrataError('INVALID_ARGUMENT', `size ${options.size} announced, ${data.length} received`);
    }
    this.files.set(p, { data, mtimeMs: Date.now(), pinned: false, cached: data.length });
    return this.#info(p);
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const p = normalizePath(path);
    if (this.files.delete(p)) return;
    if (!this.dirs.has(p)) throw new StrataError('NOT_FOUND', `no such path: ${p}`);
    const below = [...this.files.keys(), ...this.dirs].filter((c) => c !== p && isWithin(c, p));
    if (below.length > 0 && !options.recursive)
      throw new StrataError('DIRECTORY_NOT_EMPTY', `${p} is not empty`);
    for (const c of below) {
      this.files.delete(c);
      this.dirs.delete(c);
    }
    this.dirs.delete(p);
  }

  async mkdir(path: string): Promise<void> {
    let p = normalizePath(path);
    while (p !== '/') {
      if (this.files.has(p)) throw new StrataError('NOT_A_DIRECTORY', `${p} is a file`);
      this.dirs.add(p);
      p = parentOf(p);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const a = normalizePath(from);
    const b = normalizePath(to);
    const f = this.files.get(a);
    if (!f) throw new StrataError('NOT_FOUND', `no such file: ${a}`);
    if (!this.dirs.has(parentOf(b))) throw new StrataError('NOT_FOUND', `no parent directory for ${b}`);
    this.files.delete(a);
    this.files.set(b, f);
  }

  async mount(path: string, uri: string, options: MountOptions = {}): Promise<MountInfo> {
    const p = normalizePath(path);
    if (this.mountTable.some((m) => m.path === p))
      throw new StrataError('MOUNT_CONFLICT', `${p} is already a mount point`);
    if (!/^[a-z0-9]+:\/\//.test(uri)) throw new StrataError('INVALID_URI', `not a store URI: ${uri}`);
    const masked: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.options ?? {}))
      masked[k] = /secret|password|token|key/i.test(k) ? '****' : v;
    const info: MountInfo = {
      path: p,
      uri,
      readOnly: options.readOnly ?? false,
      fallbackToUfs: options.fallbackToUfs ?? false,
      syncIntervalMs: options.syncIntervalMs ?? -1,
      writeType: options.writeType ?? 'CACHE_THROUGH',
      options: masked,
    };
    this.mountTable.push(info);
    await this.mkdir(p);
    return info;
  }

  async unmount(path: string): Promise<void> {
    const p = normalizePath(path);
    const i = this.mountTable.findIndex((m) => m.path === p);
    if (i < 0) throw new StrataError('NOT_MOUNTED', `${p} is not a mount point`);
    this.mountTable.splice(i, 1);
  }

  async mounts(): Promise<MountInfo[]> {
    return [...this.mountTable];
  }

  async load(path: string): Promise<JobSummary> {
    return this.#job(path, (f) => {
      f.cached = f.data.length;
    });
  }

  async free(path: string): Promise<JobSummary> {
    return this.#job(path, (f) => {
      if (!f.pinned) f.cached = 0;
    });
  }

  async pin(path: string, pinned: boolean): Promise<void> {
    this.#file(path).pinned = pinned;
  }

  async setTtl(path: string, ttlMs: number | null, action?: 'free' | 'delete'): Promise<void> {
    const f = this.#file(path);
    if (ttlMs === null) {
      delete f.ttlMs;
      delete f.ttlAction;
    } else {
      f.ttlMs = ttlMs;
      f.ttlAction = action ?? 'free';
    }
  }

  async du(path: string): Promise<UsageSummary> {
    const p = normalizePath(path);
    const files = [...this.files.entries()].filter(([k]) => isWithin(k, p));
    const dirs = [...this.dirs].filter((d) => d !== p && isWithin(d, p));
    if (files.length === 0 && !this.dirs.has(p)) throw new StrataError('NOT_FOUND', `no such path: ${p}`);
    return {
      files: files.length,
      directories: dirs.length,
      bytes: files.reduce((n, [, f]) => n + f.data.length, 0),
      cachedBytes: files.reduce((n, [, f]) => n + f.cached, 0),
    };
  }

  async report(): Promise<ClusterReport> {
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

  #file(path: string) {
    const p = normalizePath(path);
    const f = this.files.get(p);
    if (!f) throw new StrataError('NOT_FOUND', `no such file: ${p}`, { details: { path: p } });
    return f;
  }

  #job(path: string, fn: (f: { data: Buffer; pinned: boolean; cached: number }) => void): JobSummary {
    const p = normalizePath(path);
    let files = 0;
    let bytes = 0;
    for (const [k, f] of this.files) {
      if (!isWithin(k, p)) continue;
      fn(f);
      files++;
      bytes += f.data.length;
    }
    if (files === 0 && !this.dirs.has(p)) throw new StrataError('NOT_FOUND', `no such path: ${p}`);
    return { files, bytes };
  }

  #mountOf(p: string): MountInfo | undefined {
    return this.mountTable
      .filter((m) => isWithin(p, m.path))
      .sort((a, b) => b.path.length - a.path.length)[0];
  }

  #info(p: string): FileInfo {
    const f = this.files.get(p);
    const mount = this.#mountOf(p)?.path ?? '/';
    if (!f && !this.dirs.has(p))
      throw new StrataError('NOT_FOUND', `no such path: ${p}`, { details: { path: p } });
    const base = { path: p, name: baseName(p), mount, persistence: 'PERSISTED' as const };
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
      };
    }
    const info: FileInfo = {
      ...base,
      type: 'file',
      size: f.data.length,
      mtimeMs: f.mtimeMs,
      fingerprint: `${f.data.length}:${f.mtimeMs}`,
      cachedBytes: f.cached,
      cachedPercent: f.data.length === 0 ? 100 : Math.round((f.cached / f.data.length) * 100),
      pinned: f.pinned,
    };
    return f.ttlMs === undefined ? info : { ...info, ttlMs: f.ttlMs, ttlAction: f.ttlAction ?? 'free' };
  }
}
