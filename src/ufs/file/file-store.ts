import { randomBytes } from 'node:crypto';
import { constants, type Dir, type Dirent, type Stats } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  opendir,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, join, resolve as resolveLocal } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StrataError, toStrataError } from '../../core/errors.js';
import { ioThread, MAX_IO_THREAD_BYTES, type ThreadStat } from '../../core/io-thread.js';
import { joinPath, normalizePath } from '../../core/paths.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import type { UfsOptions } from '../factory.js';
import { encodeToken, mapBounded, pageOf } from '../paging.js';
import {
  type CallOptions,
  type ListOptions,
  type ListPage,
  type ReadOptions,
  type UfsCapabilities,
  type UfsStatus,
  UnderStore,
  type WriteOptions,
} from '../under-store.js';
import { Confinement } from './confine.js';
import { mapFsError, throwIfAborted } from './fs-errors.js';
import { FileRangeStream } from './range-stream.js';

/** Writes land in a hidden sibling first; list() never shows these. */
export const TEMP_PREFIX = '.strata-tmp-';
/** Read chunk: large enough to keep syscalls per MiB low, small enough per open stream. */
const READ_CHUNK = 512 * 1024;
/**
 * A read of at most this many bytes with a known length is one read call into one buffer: no
 * fstat, no range stream (a job loading small files spent a third of its store calls on those).
 */
const SMALL_READ = 256 * 1024;
/** Stats in flight while filling one list page (NFS round trips overlap). */
const STAT_CONCURRENCY = 16;

/**
 * `file:///abs/root` — a local or NFS directory. Writes are atomic replaces (temp file, fsync,
 * rename, fsync of the directory), so readers see the old or the new file, never a torn one.
 * There is no etag: a file's fingerprint is size:mtime, which misses a same-size rewrite within
 * the same millisecond.
 */
export class FileUnderStore extends UnderStore {
  readonly uri: string;
  readonly capabilities: UfsCapabilities = {
    writable: true,
    rename: 'atomic',
    directories: true,
    list: true,
    rangeRead: true,
  };
  private readonly confinement: Confinement;

  constructor(uri: URL, _options: UfsOptions = {}) {
    super();
    let root: string;
    try {
      root = resolveLocal(fileURLToPath(uri));
    } catch (err) {
      throw new StrataError('INVALID_URI', `file URIs look like file:///absolute/path`, { cause: err });
    }
    this.uri = pathToFileURL(root).href;
    this.confinement = new Confinement(root);
  }

  protected async _status(path: string, options: CallOptions): Promise<UfsStatus> {
    const local = await this.confinement.resolve(path, 'follow');
    throwIfAborted(options.signal);
    try {
      return toStatus(path, await stat(local));
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  protected async _list(path: string, options: ListOptions): Promise<ListPage> {
    const local = await this.confinement.resolve(path, 'follow');
    let dirents: Dirent[];
    try {
      dirents = await readdir(local, { withFileTypes: true });
    } catch (err) {
      throw mapFsError(err, path);
    }
    throwIfAborted(options.signal);
    // The whole directory is read and sorted per page: readdir order is arbitrary, and paging
    // must be stable across calls. Only the entries of this page are stat'ed.
    const visible = dirents.filter((d) => !d.name.startsWith(TEMP_PREFIX));
    visible.sort((a, b) => compareUtf8(a.name, b.name));
    const { page, more } = pageOf(visible, options.token, options.limit);
    const statuses = await mapBounded(page, STAT_CONCURRENCY, (d) => this.entryStatus(local, path, d));
    const entries = statuses.filter((s): s is UfsStatus => s !== undefined);
    const last = page[page.length - 1];
    return more && last ? { entries, nextToken: encodeToken(last.name) } : { entries };
  }

  /**
   * One readdir for the whole directory: the paged form re-reads and re-sorts the directory for
   * every page, which made a cold listing of 100,000 files take ~20 s.
   */
  override async listAll(path: string, options: CallOptions = {}): Promise<UfsStatus[]> {
    return (await this.list(path, { ...options, limit: Number.MAX_SAFE_INTEGER })).entries;
  }

  /** The directory read with opendir, in its own order, `batch` entries stat'ed at a time. */
  override async *listBatches(
    path: string,
    options: CallOptions & { batch?: number } = {},
  ): AsyncGenerator<UfsStatus[]> {
    const size = options.batch ?? 1000;
    const local = await this.confinement.resolve(normalizePath(path), 'follow');
    let dir: Dir;
    try {
      dir = await opendir(local, { bufferSize: 256 });
    } catch (err) {
      throw mapFsError(err, path);
    }
    let batch: Dirent[] = [];
    const statAll = async (dirents: Dirent[]): Promise<UfsStatus[]> => {
      throwIfAborted(options.signal);
      const st = await mapBounded(dirents, STAT_CONCURRENCY, (d) => this.entryStatus(local, path, d));
      return st.filter((s): s is UfsStatus => s !== undefined);
    };
    try {
      // for await closes the Dir at the end, and when the consumer stops early.
      for await (const d of dir) {
        if (d.name.startsWith(TEMP_PREFIX)) continue;
        batch.push(d);
        if (batch.length >= size) {
          const statuses = await statAll(batch);
          batch = [];
          if (statuses.length > 0) yield statuses;
        }
      }
    } catch (err) {
      throw mapFsError(err, path);
    }
    const rest = await statAll(batch);
    if (rest.length > 0) yield rest;
  }

  /** Status of one directory entry; undefined for entries to leave out (vanished, special, escaping). */
  private async entryStatus(dirLocal: string, dirPath: string, d: Dirent): Promise<UfsStatus | undefined> {
    let child: string;
    try {
      child = joinPath(dirPath, d.name);
    } catch {
      return undefined;
    }
    const local = join(dirLocal, d.name);
    if (d.isSymbolicLink() && !(await this.confinement.contains(local))) return undefined;
    if (!d.isSymbolicLink() && !d.isFile() && !d.isDirectory()) return undefined;
    let st: ThreadStat;
    try {
      // Through the I/O thread: a listing's stats, one per entry, go in a few coalesced trips.
      st = await ioThread.stat(local);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // deleted since readdir
      throw mapFsError(err, child);
    }
    if (st.type === 'other') return undefined;
    const mtimeMs = Math.trunc(st.mtimeMs);
    return st.type === 'file'
      ? { path: child, type: 'file', size: st.size, mtimeMs }
      : { path: child, type: 'directory', size: 0, mtimeMs };
  }

  /** A small range in one trip to the I/O thread (confinement, open, read, close), as _read's fast path. */
  protected override async _readBuffer(
    path: string,
    options: ReadOptions & { readonly length: number },
  ): Promise<Buffer> {
    const length = options.length;
    if (length > 0 && length <= MAX_IO_THREAD_BYTES) {
      const small = await this.confinement.readSmall(path, options.offset ?? 0, length);
      if (small !== undefined) {
        throwIfAborted(options.signal);
        return small;
      }
    }
    return super._readBuffer(path, options);
  }

  protected async _read(path: string, options: ReadOptions): Promise<Readable> {
    const length = options.length;
    if (length !== undefined && length > 0 && length <= MAX_IO_THREAD_BYTES) {
      // Confinement, open, read and close in one coalesced trip to the I/O thread; anything
      // unusual (missing, a directory, short, a symlink out) takes the path below, which says why.
      const small = await this.confinement.readSmall(path, options.offset ?? 0, length);
      if (small !== undefined) {
        throwIfAborted(options.signal);
        return Readable.from([small], { objectMode: false });
      }
    }
    const local = await this.confinement.resolve(path, 'follow');
    let handle: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO must not hang; it is a no-op for regular files.
      handle = await open(local, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw mapFsError(err, path);
    }
    try {
      const length = options.length;
      if (length !== undefined && length > 0 && length <= SMALL_READ) {
        const small = await readSmall(handle, options.offset ?? 0, length);
        if (small !== undefined) {
          await handle.close();
          throwIfAborted(options.signal);
          return Readable.from([small], { objectMode: false });
        }
      }
      const st = await handle.stat();
      if (st.isDirectory())
        throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`, { details: { path } });
      if (!st.isFile())
        throw new StrataError('UNSUPPORTED', `${path} is not a regular file`, { details: { path } });
      const offset = options.offset ?? 0;
      if (offset > st.size) {
        throw new StrataError('INVALID_RANGE', `offset ${offset} is past the end (${st.size}) of ${path}`, {
          details: { path, offset, size: st.size },
        });
      }
      const end = options.length === undefined ? st.size : Math.min(st.size, offset + options.length);
      if (end <= offset) {
        await handle.close();
        return Readable.from([]);
      }
      const stream = new FileRangeStream(handle, offset, end, path, READ_CHUNK);
      if (options.signal) addAbortSignal(options.signal, stream);
      return stream;
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw mapFsError(err, path);
    }
  }

  protected async _write(path: string, source: Readable, options: WriteOptions): Promise<UfsStatus> {
    const target = await this.confinement.resolve(path, 'parent');
    const dir = dirname(target);
    let previous: Stats | undefined;
    try {
      await mkdir(dir, { recursive: true });
      previous = await lstat(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
    } catch (err) {
      throw mapFsError(err, path);
    }
    if (previous?.isDirectory())
      throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`, { details: { path } });

    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let handle: FileHandle | undefined;
    let mine!: Stats;
    let sourceError: unknown;
    source.once('error', (err) => {
      sourceError = err;
    });
    try {
      handle = await open(temp, 'wx', 0o666);
      // Keep the permissions of the file we replace.
      if (previous?.isFile()) await handle.chmod(previous.mode & 0o7777);
      const written = await copyInto(source, handle, options.signal);
      if (options.size !== undefined && written !== options.size) {
        throw new StrataError('INVALID_ARGUMENT', `wrote ${written} bytes, announced ${options.size}`, {
          details: { path },
        });
      }
      await handle.sync();
      // The status of the file written here: a stat of the target after the rename could see
      // another writer's file that replaced it in between (and report that version as ours).
      mine = await handle.stat();
      await handle.close();
      handle = undefined;
      await rename(temp, target);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      // The caller's stream failing is not the store's fault: keep its message, not UFS_UNAVAILABLE.
      if (err === sourceError) throw toStrataError(err);
      throw mapFsError(err, path);
    }
    await syncDirectory(dir);
    return toStatus(path, mine);
  }

  protected async _delete(path: string, options: CallOptions & { recursive?: boolean }): Promise<void> {
    const local = await this.confinement.resolve(path, 'parent');
    throwIfAborted(options.signal);
    try {
      const st = await lstat(local);
      if (!st.isDirectory()) {
        await unlink(local);
      } else if (options.recursive) {
        await rm(local, { recursive: true });
      } else {
        await rmdir(local);
      }
    } catch (err) {
      // Some systems report a non-empty directory as EEXIST.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StrataError('DIRECTORY_NOT_EMPTY', `${path} is not empty`, {
          cause: err,
          details: { path },
        });
      }
      throw mapFsError(err, path);
    }
  }

  protected async _mkdir(path: string, options: CallOptions): Promise<void> {
    const local = await this.confinement.resolve(path, 'follow');
    throwIfAborted(options.signal);
    try {
      await mkdir(local, { recursive: true });
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  protected async _rename(from: string, to: string, options: CallOptions): Promise<void> {
    const a = await this.confinement.resolve(from, 'parent');
    const b = await this.confinement.resolve(to, 'parent');
    throwIfAborted(options.signal);
    try {
      await lstat(a);
    } catch (err) {
      throw mapFsError(err, from);
    }
    // rename(2) would silently replace a file or an empty directory; the contract says it must
    // not. Node has no RENAME_NOREPLACE, so a racing creator between check and rename can lose.
    const exists = await lstat(b).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw mapFsError(err, to);
      },
    );
    if (exists) throw new StrataError('ALREADY_EXISTS', `${to} already exists`, { details: { path: to } });
    try {
      await mkdir(dirname(b), { recursive: true });
      await rename(a, b);
    } catch (err) {
      throw mapFsError(err, from);
    }
  }
}

function toStatus(path: string, st: Stats): UfsStatus {
  const mtimeMs = Math.trunc(st.mtimeMs);
  if (st.isDirectory()) return { path, type: 'directory', size: 0, mtimeMs };
  if (st.isFile()) return { path, type: 'file', size: st.size, mtimeMs };
  throw new StrataError('UNSUPPORTED', `${path} is not a regular file or directory`, { details: { path } });
}

/** Copies a stream into a file; awaiting each write is the backpressure. Returns the byte count. */
/**
 * `length` bytes at `offset` when the file has them all, else undefined (the caller then takes the
 * stat path, which tells a directory, a special file, a short file or a range past the end apart).
 */
async function readSmall(handle: FileHandle, offset: number, length: number): Promise<Buffer | undefined> {
  const buf = Buffer.allocUnsafeSlow(length);
  try {
    const { bytesRead } = await handle.read(buf, 0, length, offset);
    return bytesRead === length ? buf : undefined;
  } catch {
    return undefined; // EISDIR and the like: explained by the stat path
  }
}

async function copyInto(
  source: Readable,
  handle: FileHandle,
  signal: AbortSignal | undefined,
): Promise<number> {
  let written = 0;
  for await (const chunk of source) {
    throwIfAborted(signal);
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await handle.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    written += buf.length;
  }
  return written;
}

/** Makes a rename durable; some file systems refuse fsync on a directory, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
