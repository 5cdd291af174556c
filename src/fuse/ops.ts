import { constants as fsc } from 'node:fs';
import { Readable } from 'node:stream';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { MountInfo, StrataFileSystem } from '../client/types.js';
import { isStrataError, StrataError } from '../core/errors.js';
import { isWithin, normalizePath } from '../core/paths.js';
import { newRequestId, withRequestId } from '../core/request-context.js';
import { errnoNumber, errnoOf } from './errno.js';
import { FuseRequestMetrics } from './metrics.js';
import { encodeAttrs, NamespaceView } from './namespace-view.js';
import { type FuseAddon, NATIVE_FH, Op, type RequestHandler, type Token } from './native.js';
import { ReadHandle } from './read-handle.js';
import { StagedFile } from './staged-file.js';

/**
 * The FUSE operations, served from a StrataFileSystem. Every request gets exactly one reply
 * (success or a negative errno taken from the error table); the native side enforces deadlines.
 */

export interface FuseOpsOptions {
  /** Namespace path shown as the mount's root. */
  readonly root: string;
  readonly stagingDir: string;
  /** `-o ro`: the whole mount is read-only. */
  readonly readOnly: boolean;
  /** Deadline of one data or metadata call (ms), below the native deadline. */
  readonly timeoutMs: number;
  /** Deadline of a commit (flush/fsync/close of a written file, staging copy). */
  readonly commitTimeoutMs: number;
  /** How long getattr answers may be reused (the kernel attr timeout), ms. */
  readonly statCacheMs: number;
  readonly readWindow: { readonly min: number; readonly max: number };
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** The process's registry: strata_fuse_request_duration_seconds{operation,outcome} goes there. */
  readonly metrics?: MetricsRegistry;
}

interface Handle {
  path: string;
  readonly flags: number;
  readonly reader?: ReadHandle;
  readonly staged?: StagedFile;
}

const XATTRS = [
  'user.strata.cached_bytes',
  'user.strata.cached_percent',
  'user.strata.pinned',
  'user.strata.fingerprint',
] as const;
const XATTR_LIST = Buffer.from(`${XATTRS.join('\0')}\0`);
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

/** Children per page the addon's open-directory handle asks for. */
export { READDIR_PAGE } from './namespace-view.js';

const O_ACCMODE = 3;
/** Open flags for the addon (native/fuse/src/strata_fuse.c, OP_OPEN reply). */
const OPEN_KEEP_CACHE = 1;
const OPEN_NO_FLUSH = 4;

export class FuseOps {
  readonly #fs: StrataFileSystem;
  readonly #addon: FuseAddon;
  readonly #o: FuseOpsOptions;
  readonly #handles = new Map<number, Handle>();
  readonly #staged = new Map<string, StagedFile>();
  readonly #view: NamespaceView;
  #nextFh = 1;
  #report: { at: number; value: Promise<Float64Array> } | undefined;
  readonly #requests: FuseRequestMetrics;

  constructor(fs: StrataFileSystem, addon: FuseAddon, mounts: MountInfo[], options: FuseOpsOptions) {
    this.#fs = fs;
    this.#requests = new FuseRequestMetrics(options.metrics);
    this.#addon = this.#requests.instrument(addon);
    this.#o = options;
    this.#view = new NamespaceView(fs, mounts, {
      readOnly: options.readOnly,
      cacheMs: options.statCacheMs,
      onForget: (path) => this.#forgetNative(path),
    });
  }

  set mounts(m: MountInfo[]) {
    this.#view.mounts = m;
  }

  get openFiles(): number {
    return this.#handles.size;
  }

  /** The native request handler (runs on the JS thread). */
  readonly handle: RequestHandler = (op, token, path, path2, fh, offset, size, flags, mode, data) => {
    // One request id per kernel request: the RPC calls it makes and the workers' logs carry it.
    const requestId = newRequestId();
    if (this.#requests.active) this.#requests.begin(token, op, requestId);
    withRequestId(requestId, () =>
      this.#serve(op, token, path, path2, fh, offset, size, flags, mode, data).catch((err: unknown) => {
        if (!isStrataError(err) || err.code === 'INTERNAL')
          this.#o.log('fuse.error', { op, path, error: String(err) });
        this.#addon.reply(token, errnoOf(err));
      }),
    );
  };

  async #serve(
    op: number,
    token: Token,
    path: string | null,
    path2: string | null,
    fh: number,
    offset: number,
    size: number,
    flags: number,
    _mode: number,
    data: Buffer | null,
  ): Promise<void> {
    const reply = this.#addon.reply;
    switch (op) {
      case Op.GETATTR:
        reply(token, 0, await this.#getattr(this.#ns(path), flags === 1 ? fh : undefined));
        return;
      case Op.READDIR: {
        const [names, attrs, more] = await this.#view.readdir(this.#ns(path), path2, offset);
        reply(token, more ? 1 : 0, names, attrs);
        return;
      }
      case Op.OPEN:
      case Op.CREATE: {
        const [handle, openFlags] = await this.#open(this.#ns(path), flags, op === Op.CREATE);
        reply(token, handle, Float64Array.of(openFlags));
        return;
      }
      case Op.READ:
        reply(token, 0, await this.#read(fh, offset, size, path));
        return;
      case Op.WRITE:
        reply(token, await this.#write(fh, data ?? Buffer.alloc(0), offset));
        return;
      case Op.FLUSH:
      case Op.FSYNC:
        await this.#flush(fh);
        reply(token, 0);
        return;
      case Op.RELEASE:
        await this.#release(fh);
        reply(token, 0);
        return;
      case Op.TRUNCATE:
        await this.#truncate(this.#ns(path), offset, flags === 1 ? fh : undefined);
        reply(token, 0);
        return;
      case Op.MKDIR: {
        const p = this.#ns(path);
        this.#view.writable(p);
        await this.#fs.mkdir(p);
        this.#view.forget(p);
        reply(token, 0);
        return;
      }
      case Op.RMDIR:
        await this.#rmdir(this.#ns(path));
        reply(token, 0);
        return;
      case Op.UNLINK:
        await this.#unlink(this.#ns(path));
        reply(token, 0);
        return;
      case Op.RENAME:
        await this.#rename(this.#ns(path), this.#ns(path2), flags);
        reply(token, 0);
        return;
      case Op.STATFS:
        reply(token, 0, await this.#statfs());
        return;
      case Op.GETXATTR: {
        const value = await this.#getxattr(this.#ns(path), path2 ?? '');
        if (typeof value === 'number') reply(token, value);
        else reply(token, 0, value);
        return;
      }
      case Op.LISTXATTR:
        this.#ns(path);
        reply(token, 0, XATTR_LIST);
        return;
      case Op.UTIMENS:
        // Strata keeps the store's mtime; accepting the call lets `touch` work on existing files.
        reply(token, 0);
        return;
      default:
        reply(token, -errnoNumber('ENOSYS'));
    }
  }

  // ---- paths and attributes ----

  /** The mount-relative path of a namespace path (what the addon sees), or undefined outside the root. */
  #fusePath(path: string): string | undefined {
    const root = this.#o.root;
    if (root === '/') return path;
    if (path === root) return '/';
    return isWithin(path, root) ? path.slice(root.length) : undefined;
  }

  #forgetNative(path: string): void {
    const p = this.#fusePath(path);
    if (p !== undefined) this.#addon.forget(p);
  }

  #ns(fusePath: string | null): string {
    if (fusePath === null) throw new StrataError('NOT_FOUND', 'file was removed');
    const root = this.#o.root;
    return normalizePath(fusePath === '/' ? root : root === '/' ? fusePath : `${root}${fusePath}`);
  }

  async #getattr(path: string, fh: number | undefined): Promise<Float64Array> {
    const staged = (fh !== undefined ? this.#handles.get(fh)?.staged : undefined) ?? this.#staged.get(path);
    if (!staged) return this.#view.attrs(path);
    const out = new Float64Array(4);
    encodeAttrs(out, 0, 'file', staged.size, Date.now(), false);
    return out;
  }

  // ---- files ----

  /** Opens a handle; answers it with the addon's open flags (OPEN_KEEP_CACHE, OPEN_NO_FLUSH). */
  async #open(path: string, flags: number, create: boolean): Promise<[number, number]> {
    const acc = flags & O_ACCMODE;
    const truncate = (flags & fsc.O_TRUNC) !== 0;
    const wantsWrite = create || acc !== fsc.O_RDONLY || truncate;
    const fh = this.#nextFh++;
    let staged = this.#staged.get(path);
    if (wantsWrite) {
      this.#view.writable(path);
      // Reads of a file being written see the staged bytes: no more native opens of it.
      this.#forgetNative(path);
      if (!staged) {
        if (create || truncate) {
          staged = await StagedFile.empty(this.#o.stagingDir, fh, path);
        } else {
          const info = await this.#view.status(path);
          if (info.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`);
          staged = await StagedFile.copyOf(
            this.#o.stagingDir,
            fh,
            this.#fs,
            path,
            AbortSignal.timeout(this.#o.commitTimeoutMs),
          );
        }
        this.#staged.set(path, staged);
      } else if (truncate) {
        await staged.truncate(0);
      }
    }
    if (staged) {
      staged.refs++;
      this.#handles.set(fh, { path, flags, staged });
      // A written file commits on flush (every close): the kernel must send it.
      return [fh, 0];
    }
    const info = await this.#view.status(path);
    if (info.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`);
    const reader = new ReadHandle(this.#fs, path, info.size, {
      minWindow: this.#o.readWindow.min,
      maxWindow: this.#o.readWindow.max,
      timeoutMs: this.#o.timeoutMs,
    });
    this.#handles.set(fh, { path, flags, reader });
    const keep = this.#view.keepCache(info);
    // Until this status goes stale, the addon answers plain read-only opens of the file itself.
    const fresh = this.#view.freshFor(path);
    const fusePath = this.#fusePath(path);
    // Not if a writer staged the file meanwhile (its reads must see the staged bytes).
    if (fresh > 0 && fusePath !== undefined && !this.#staged.has(path)) this.#addon.grant(fusePath, fresh);
    // A read-only handle has nothing to flush: close() then needs no round trip to JS.
    return [fh, OPEN_NO_FLUSH | (keep ? OPEN_KEEP_CACHE : 0)];
  }

  /** The read handle of an open the addon answered itself: made on the first read that reaches JS. */
  async #nativeReader(fh: number, path: string | null): Promise<Handle> {
    const ns = this.#ns(path);
    const info = await this.#view.status(ns);
    const existing = this.#handles.get(fh);
    if (existing) return existing;
    if (info.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${ns} is a directory`);
    const reader = new ReadHandle(this.#fs, ns, info.size, {
      minWindow: this.#o.readWindow.min,
      maxWindow: this.#o.readWindow.max,
      timeoutMs: this.#o.timeoutMs,
    });
    const h: Handle = { path: ns, flags: fsc.O_RDONLY, reader };
    this.#handles.set(fh, h);
    return h;
  }

  #handle(fh: number): Handle {
    const h = this.#handles.get(fh);
    if (!h) throw new StrataError('INVALID_ARGUMENT', `unknown file handle ${fh}`);
    return h;
  }

  async #read(fh: number, offset: number, size: number, path: string | null): Promise<Buffer> {
    const h =
      fh >= NATIVE_FH ? (this.#handles.get(fh) ?? (await this.#nativeReader(fh, path))) : this.#handle(fh);
    if (h.staged) return h.staged.read(offset, size);
    if (!h.reader) throw new StrataError('INTERNAL', 'handle without reader');
    return h.reader.read(offset, size);
  }

  async #write(fh: number, data: Buffer, offset: number): Promise<number> {
    const h = this.#handle(fh);
    if (!h.staged) throw new StrataError('PERMISSION_DENIED', `${h.path} is not open for writing`);
    return h.staged.write(data, offset, (h.flags & fsc.O_APPEND) !== 0);
  }

  async #commit(staged: StagedFile): Promise<void> {
    const writeType = this.#view.writable(staged.path);
    const info = await staged.commit(this.#fs, writeType, AbortSignal.timeout(this.#o.commitTimeoutMs));
    this.#view.forget(staged.path);
    this.#view.remember(info);
  }

  async #flush(fh: number): Promise<void> {
    const h = this.#handles.get(fh);
    if (h?.staged?.dirty) await this.#commit(h.staged);
  }

  async #release(fh: number): Promise<void> {
    const h = this.#handles.get(fh);
    if (!h) return;
    this.#handles.delete(fh);
    const staged = h.staged;
    if (!staged) return;
    staged.refs--;
    try {
      if (staged.dirty) await this.#commit(staged);
    } finally {
      if (staged.refs <= 0) {
        if (this.#staged.get(staged.path) === staged) this.#staged.delete(staged.path);
        await staged.close();
      }
    }
  }

  async #truncate(path: string, size: number, fh: number | undefined): Promise<void> {
    const staged = (fh !== undefined ? this.#handles.get(fh)?.staged : undefined) ?? this.#staged.get(path);
    if (staged) {
      this.#view.writable(staged.path);
      await staged.truncate(size);
      return;
    }
    const writeType = this.#view.writable(path);
    const info = await this.#view.status(path);
    if (info.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`);
    if (info.size === size) return;
    if (size === 0) {
      const written = await this.#fs.write(path, Readable.from([]), {
        size: 0,
        signal: AbortSignal.timeout(this.#o.commitTimeoutMs),
        ...(writeType === undefined ? {} : { writeType }),
      });
      this.#view.forget(path);
      this.#view.remember(written);
      return;
    }
    // Path truncate of a closed file: stage, cut, commit, discard.
    const signal = AbortSignal.timeout(this.#o.commitTimeoutMs);
    const copy = await StagedFile.copyOf(this.#o.stagingDir, this.#nextFh++, this.#fs, path, signal);
    try {
      await copy.truncate(size);
      await this.#commit(copy);
    } finally {
      await copy.close();
    }
  }

  // ---- namespace ----

  async #rmdir(path: string): Promise<void> {
    this.#view.writable(path);
    const info = await this.#fs.status(path);
    if (info.type !== 'directory') throw new StrataError('NOT_A_DIRECTORY', `${path} is not a directory`);
    if ((await this.#fs.list(path)).length > 0)
      throw new StrataError('DIRECTORY_NOT_EMPTY', `${path} is not empty`);
    await this.#fs.delete(path);
    this.#view.forget(path);
  }

  async #unlink(path: string): Promise<void> {
    this.#view.writable(path);
    const staged = this.#staged.get(path);
    const info = await this.#fs.status(path).catch((err: unknown) => {
      // A file created through the mount and still open is not in the store yet.
      if (staged && isStrataError(err, 'NOT_FOUND')) return undefined;
      throw err;
    });
    if (info?.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`);
    if (staged) {
      // Open handles keep their data (POSIX), but it is no longer committed under this name.
      this.#staged.delete(path);
      staged.dirty = false;
      staged.path = `${path}\0unlinked`;
    }
    if (info) await this.#fs.delete(path);
    this.#view.forget(path);
  }

  async #rename(from: string, to: string, flags: number): Promise<void> {
    this.#view.writable(from);
    this.#view.writable(to);
    if (flags & RENAME_EXCHANGE)
      throw new StrataError('INVALID_ARGUMENT', 'RENAME_EXCHANGE is not supported');
    const staged = this.#staged.get(from);
    if (staged?.dirty) await this.#commit(staged);
    const src = await this.#fs.status(from);
    const dst = await this.#fs.status(to).catch((err: unknown) => {
      if (isStrataError(err, 'NOT_FOUND')) return undefined;
      throw err;
    });
    if (dst) {
      if (flags & RENAME_NOREPLACE) throw new StrataError('ALREADY_EXISTS', `${to} exists`);
      // POSIX rename replaces the target; the store's rename does not, so remove it first (not atomic).
      if (dst.type === 'directory') {
        if (src.type !== 'directory') throw new StrataError('IS_A_DIRECTORY', `${to} is a directory`);
        if ((await this.#fs.list(to)).length > 0)
          throw new StrataError('DIRECTORY_NOT_EMPTY', `${to} is not empty`);
      } else if (src.type === 'directory') {
        throw new StrataError('NOT_A_DIRECTORY', `${to} is not a directory`);
      }
      await this.#fs.delete(to, { recursive: false });
    }
    await this.#fs.rename(from, to);
    this.#view.forget(from);
    this.#view.forget(to);
    // Open handles follow the file.
    for (const h of this.#handles.values()) {
      if (h.path === from) {
        h.path = to;
        if (h.reader) h.reader.path = to;
      }
    }
    if (staged) {
      this.#staged.delete(from);
      staged.path = to;
      this.#staged.set(to, staged);
    }
  }

  async #statfs(): Promise<Float64Array> {
    const now = Date.now();
    if (!this.#report || now - this.#report.at > 1000) {
      const value = this.#fs.report().then((r) => {
        let capacity = 0;
        let used = 0;
        for (const w of r.workers) {
          capacity += w.capacityBytes;
          used += w.usedBytes;
        }
        const bs = 4096;
        const blocks = Math.floor(capacity / bs);
        const free = Math.max(0, blocks - Math.ceil(used / bs));
        return Float64Array.of(bs, bs, blocks, free, free, 0, 0, 255);
      });
      this.#report = { at: now, value };
      value.catch(() => {
        this.#report = undefined;
      });
    }
    return this.#report.value;
  }

  async #getxattr(path: string, name: string): Promise<Buffer | number> {
    // Only our names reach the store: the kernel asks for security.* on every write.
    if (!(XATTRS as readonly string[]).includes(name)) return -errnoNumber('ENODATA');
    const info = await this.#fs.status(path);
    let value: string;
    if (name === 'user.strata.pinned') value = info.pinned ? 'true' : 'false';
    else if (name === 'user.strata.fingerprint') value = info.fingerprint;
    else {
      let cached = info.cachedBytes;
      let percent = info.cachedPercent;
      if (info.type === 'directory') {
        const du = await this.#fs.du(path);
        cached = du.cachedBytes;
        percent = du.bytes === 0 ? 100 : (100 * du.cachedBytes) / du.bytes;
      }
      value = name === 'user.strata.cached_bytes' ? String(cached) : String(Math.round(percent * 100) / 100);
    }
    return Buffer.from(value);
  }
}
