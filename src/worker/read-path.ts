import type { Readable } from 'node:stream';
import { throwIfAborted } from '../core/abort.js';
import { StrataError } from '../core/errors.js';
import {
  MAX_READ_BUFFER,
  type PeekedFile,
  READ_TYPES,
  type ReadOptions,
  type ReadType,
} from '../core/file-system.js';
import { normalizePath } from '../core/paths.js';
import type { MetaStore } from '../meta/meta-store.js';
import type { FileInfoBuilder } from './file-info.js';
import type { Located, MetadataSync } from './metadata-sync.js';
import type { WorkerMetrics } from './metrics.js';
import type { MountTable } from './mount-table.js';
import type { PageReader, RangeRequest } from './page-reader.js';
import type { Persister } from './persister.js';
import { cacheIdOf, isFresh } from './records.js';
import type { StagingArea } from './staging.js';

export interface ReadPathParts {
  readonly sync: MetadataSync;
  readonly reader: PageReader;
  readonly staging: Pick<StagingArea, 'openRange'>;
  readonly mounts: MountTable;
  readonly meta: Pick<MetaStore, 'peekStatus' | 'peekAttrs'>;
  readonly persister: Pick<Persister, 'staged'>;
  readonly metrics: Pick<WorkerMetrics, 'metadataHits'>;
  readonly infos: FileInfoBuilder;
}

/** Worker-internal read options: `onStoreBytes` hears every chunk this read takes from the store. */
export type CountedReadOptions = ReadOptions & { readonly onStoreBytes?: (bytes: number) => void };

/**
 * A read's stream; `whenStored()` settles once the pages it fetched from the store are in the
 * page store (call it after draining the stream: a load that does not wait lets puts pile up).
 */
export type StoredReadable = Readable & {
  readonly contentLength: number;
  readonly fingerprint: string;
  readonly whenStored: () => Promise<void>;
};

/** What loadWhole loaded: the file's size and cache identity (so the caller need not look it up again). */
export interface LoadedWhole {
  readonly size: number;
  readonly cacheId: string;
}

interface PreparedRead {
  readonly located: Located;
  readonly offset: number;
  readonly length: number;
  readonly readType: ReadType;
  /** The page store's deletion mark from before the lookup (RangeRequest.deletionMark). */
  readonly deletionMark: number | undefined;
}

/**
 * A store read of at most this many bytes (a small file, the tail of a large one) is taken as one
 * Buffer rather than a stream: for 4 KiB files the stream, its iterator and the abort plumbing
 * cost more than the bytes. 256 KiB: what the file connector reads in one I/O-thread trip.
 */
const BUFFERED_STORE_READ = 256 * 1024;

/**
 * The read path: a range of a file from the page cache, its staging file (a write not yet
 * persisted) or the store. Before any store read the file's fingerprint is revalidated, so the
 * bytes served always belong to one version.
 */
export class ReadPath {
  constructor(private readonly o: ReadPathParts) {}

  async read(path: string, options: CountedReadOptions = {}): Promise<StoredReadable> {
    const r = await this.prepare(path, options);
    const req = this.rangeRequest(r, options.signal, options.onStoreBytes);
    const stream = await this.o.reader.open(req);
    const reader = this.o.reader;
    // contentLength lets the RPC server send a content-length, so a client can tell a complete
    // body from a cut one; whenStored lets a load wait for the puts of the pages it read.
    return Object.assign(stream, {
      contentLength: r.length,
      fingerprint: r.located.record.fingerprint,
      whenStored: (): Promise<void> => reader.whenStored(req.cacheId, req.offset, req.length),
    } satisfies Omit<StoredReadable, keyof Readable>);
  }

  async readBuffer(path: string, options: ReadOptions & { length: number }): Promise<Buffer> {
    if (!Number.isSafeInteger(options.length) || options.length < 0 || options.length > MAX_READ_BUFFER)
      throw new StrataError('INVALID_ARGUMENT', `readBuffer reads 0..${MAX_READ_BUFFER} bytes`);
    const r = await this.prepare(path, options);
    return this.o.reader.readBuffer(this.rangeRequest(r, options.signal));
  }

  /**
   * A whole file of at most `maxBytes` read through the cache and settled once its pages are
   * stored — a job's load of a small file without a stream (a stream, its async iterator and its
   * signal listeners were most of the JavaScript a 4 KiB load cost). Undefined when the file is
   * larger or not a file: the caller reads it as a stream.
   */
  async loadWhole(
    path: string,
    options: CountedReadOptions & { maxBytes: number },
  ): Promise<LoadedWhole | undefined> {
    const r = await this.prepare(path, { ...options, offset: 0 });
    if (r.length > options.maxBytes || r.length !== r.located.record.size) return undefined;
    const req = this.rangeRequest(r, options.signal, options.onStoreBytes);
    if (r.length > 0) await this.o.reader.readBuffer(req);
    await this.o.reader.whenStored(req.cacheId, 0, r.length);
    return { size: r.length, cacheId: req.cacheId };
  }

  /**
   * A small file's status and bytes when both are at hand — status cached and fresh by the
   * mount's sync policy, attributes known, every page in memory, nothing staged — answered
   * synchronously; undefined whenever any of that does not hold (then status()/readBuffer()).
   */
  peekFile(path: string, maxBytes: number): PeekedFile | undefined {
    const { meta, mounts } = this.o;
    if (meta.peekStatus === undefined || meta.peekAttrs === undefined) return undefined;
    let p: string;
    try {
      p = normalizePath(path);
    } catch {
      return undefined; // the slow path reports the error
    }
    const resolved = mounts.tryResolve(p);
    if (resolved === undefined || resolved.ufsPath === '/' || this.o.persister.staged(p)) return undefined;
    const record = meta.peekStatus(p);
    if (record?.type !== 'file' || record.staging || record.size > maxBytes) return undefined;
    const mount = resolved.mount.record.path;
    if (!isFresh(record.syncedAtMs, resolved.mount.record.syncIntervalMs)) return undefined;
    const attrs = meta.peekAttrs(p);
    if (attrs === undefined) return undefined;
    const cacheId = record.cacheId ?? cacheIdOf(resolved.mount, p, record.fingerprint);
    const data =
      record.size === 0
        ? Buffer.alloc(0)
        : this.o.reader.peekBuffer(cacheId, record.size, 0, record.size, mount);
    if (data === undefined) return undefined;
    this.o.metrics.metadataHits.inc({ mount });
    return { info: this.o.infos.info(record, mount, attrs ?? undefined), data };
  }

  /** Validates a read and looks its file up (revalidated before any store read). */
  private async prepare(path: string, options: ReadOptions): Promise<PreparedRead> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const readType = options.readType ?? 'CACHE';
    if (!READ_TYPES.includes(readType))
      throw new StrataError('INVALID_ARGUMENT', `read type must be one of ${READ_TYPES.join(', ')}`);
    // Taken before the lookup: pages of this version deleted after it (an overwrite) stay deleted.
    const deletionMark = this.o.reader.deletionMark();
    let located = await this.o.sync.locate(p, undefined, options.signal);
    if (located.record.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > located.record.size) {
      throw new StrataError(
        'INVALID_RANGE',
        `offset ${offset} is outside ${p} (${located.record.size} bytes)`,
      );
    }
    const length = Math.min(options.length ?? Number.MAX_SAFE_INTEGER, located.record.size - offset);
    if (!Number.isSafeInteger(length) || length < 0)
      throw new StrataError('INVALID_RANGE', `bad length ${options.length}`);
    const cacheId = this.o.sync.cacheIdOf(located);
    if (!located.record.staging && !this.o.reader.isCached(cacheId, offset, length)) {
      located = await this.o.sync.revalidate(located, options.signal);
      if (located.record.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    }
    return { located, offset, length, readType, deletionMark };
  }

  /** Where a range of the file comes from: the page cache, else its staging file or the store. */
  private rangeRequest(
    r: PreparedRead,
    signal: AbortSignal | undefined,
    onStoreBytes?: (bytes: number) => void,
  ): RangeRequest {
    const { record, resolved } = r.located;
    const staging = record.staging;
    const store = resolved.mount.store;
    const ufsPath = resolved.ufsPath;
    const fromStore = async (
      offset: number,
      length: number,
      runSignal: AbortSignal | undefined,
    ): Promise<AsyncIterable<Buffer> | Iterable<Buffer>> => {
      if (length <= BUFFERED_STORE_READ) {
        const whole = await store.readBuffer(
          ufsPath,
          runSignal ? { offset, length, signal: runSignal } : { offset, length },
        );
        onStoreBytes?.(whole.length);
        return [whole];
      }
      const body = (await store.read(
        ufsPath,
        runSignal ? { offset, length, signal: runSignal } : { offset, length },
      )) as AsyncIterable<Buffer>;
      return onStoreBytes === undefined ? body : counted(body, onStoreBytes);
    };
    const source = staging
      ? async (off: number, len: number, runSignal: AbortSignal | undefined) => {
          try {
            return (await this.o.staging.openRange(staging, off, len)) as AsyncIterable<Buffer>;
          } catch (err) {
            // Persisted (and its staging file removed) since this reader looked it up: the store
            // now holds the same bytes.
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            return fromStore(off, len, runSignal);
          }
        }
      : fromStore;
    return {
      cacheId: this.o.sync.cacheIdOf(r.located),
      size: record.size,
      offset: r.offset,
      length: r.length,
      readType: r.readType,
      mount: resolved.mount.record.path,
      source,
      ...(signal ? { signal } : {}),
      ...(r.deletionMark === undefined ? {} : { deletionMark: r.deletionMark }),
    };
  }
}

/** The chunks of a store body, each reported to `onBytes` as it passes (a job's storeBytesRead). */
async function* counted(
  body: AsyncIterable<Buffer>,
  onBytes: (bytes: number) => void,
): AsyncIterable<Buffer> {
  for await (const chunk of body) {
    onBytes(chunk.length);
    yield chunk;
  }
}
