import type { Readable } from 'node:stream';
import { StrataError } from '../core/errors.js';
import type { EntryType, StoreEncryption } from '../core/file-system.js';
import { normalizePath } from '../core/paths.js';

/**
 * The under-store ("UFS") contract. Every connector (file, s3, http…) implements the protected
 * `_x` methods; the public methods here validate paths and capabilities first, so every backend
 * gets the same checks (abstract-level's get()/_get() habit).
 *
 * Paths are relative to the store's root URI and normalised: "/" is the root, "/a/b" a child.
 * Connectors must make sure no path resolves outside their root. All methods should be idempotent
 * where the store allows it, and must translate vendor errors into StrataError (keeping `cause`).
 */

export type { EntryType, StoreEncryption };

export interface UfsStatus {
  /** Path relative to the store root, normalised ("/a/b"). */
  readonly path: string;
  readonly type: EntryType;
  /** Bytes; 0 for directories. */
  readonly size: number;
  /** Last modification, ms since epoch; 0 when the store does not know. */
  readonly mtimeMs: number;
  /** Store-provided content identity (S3 ETag, HTTP ETag); absent when none. */
  readonly etag?: string;
}

export interface ListOptions {
  /** Opaque token from a previous page. */
  readonly token?: string;
  /** Maximum entries in this page (a connector may return fewer). Default 1,000. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

export interface ListPage {
  /** Direct children of the listed directory (not recursive), sorted by path. */
  readonly entries: UfsStatus[];
  /** Present when more entries follow. */
  readonly nextToken?: string;
}

export interface ReadOptions {
  /** First byte, default 0. */
  readonly offset?: number;
  /** Bytes to read; default to the end of the file. */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export interface WriteOptions {
  /** Size in bytes when known in advance (lets S3 use a single PUT). */
  readonly size?: number;
  /**
   * Server-side encryption by the store itself (capabilities.encryption). A connector that
   * cannot encrypt never receives it: write() refuses it with UNSUPPORTED before any byte moves.
   */
  readonly encryption?: StoreEncryption;
  readonly signal?: AbortSignal;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface UfsCapabilities {
  /** Whether writes (write, delete, mkdir, rename) are possible at all. */
  readonly writable: boolean;
  /** 'atomic': a real rename; 'copy': copy then delete (not atomic); 'none': unsupported. */
  readonly rename: 'atomic' | 'copy' | 'none';
  /** Whether directories exist as objects of their own (false for S3 prefixes, HTTP). */
  readonly directories: boolean;
  /** Whether list() is possible. */
  readonly list: boolean;
  /** Whether read() honours offset/length without reading from 0. */
  readonly rangeRead: boolean;
  /** Whether write() takes `encryption` (the store encrypts at rest: S3 SSE). Absent: false. */
  readonly encryption?: boolean;
}

/** The largest range readBuffer() returns (a page of the largest page size; 16 MiB). */
export const MAX_BUFFER_READ = 16 * 1024 * 1024;

export abstract class UnderStore {
  /** The store's root URI without credentials. */
  abstract readonly uri: string;
  abstract readonly capabilities: UfsCapabilities;

  /** Status of one path. Throws NOT_FOUND when absent. The root "/" is a directory. */
  async status(path: string, options: CallOptions = {}): Promise<UfsStatus> {
    return this._status(normalizePath(path), options);
  }

  /** One page of the direct children of a directory. NOT_FOUND / NOT_A_DIRECTORY as usual. */
  async list(path: string, options: ListOptions = {}): Promise<ListPage> {
    this.require('list', 'list');
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
      throw new StrataError('INVALID_ARGUMENT', 'list limit must be a positive integer');
    }
    return this._list(normalizePath(path), options);
  }

  /** All direct children, following pages. */
  async listAll(path: string, options: CallOptions = {}): Promise<UfsStatus[]> {
    const out: UfsStatus[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(path, token === undefined ? options : { ...options, token });
      out.push(...page.entries);
      token = page.nextToken;
    } while (token !== undefined);
    return out;
  }

  /**
   * Every direct child in batches of about `batch` (default 1,000), in no particular order: a
   * directory read as it comes, never whole in memory (the metadata store merges the batches and
   * sweeps what was not seen). By default the pages of list(); connectors whose paged list is
   * costly per page (the file connector re-reads the directory) override it.
   */
  async *listBatches(
    path: string,
    options: CallOptions & { batch?: number } = {},
  ): AsyncGenerator<UfsStatus[]> {
    const { batch, ...call } = options;
    let token: string | undefined;
    do {
      const page = await this.list(path, {
        ...call,
        limit: batch ?? 1000,
        ...(token === undefined ? {} : { token }),
      });
      if (page.entries.length > 0) yield page.entries;
      token = page.nextToken;
    } while (token !== undefined);
  }

  /** A stream of the requested range. INVALID_RANGE when offset > size. */
  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new StrataError('INVALID_RANGE', `bad offset ${offset}`);
    if (options.length !== undefined && (!Number.isSafeInteger(options.length) || options.length < 0)) {
      throw new StrataError('INVALID_RANGE', `bad length ${options.length}`);
    }
    return this._read(normalizePath(path), options);
  }

  /**
   * The requested range as one Buffer (shorter when the file ends first), for reads small enough
   * to hold whole (at most MAX_BUFFER_READ bytes): the same bytes and errors as read(), without a
   * stream — a job loading many small files paid more for each stream than for its bytes.
   */
  async readBuffer(path: string, options: ReadOptions & { readonly length: number }): Promise<Buffer> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new StrataError('INVALID_RANGE', `bad offset ${offset}`);
    const length = options.length;
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_BUFFER_READ)
      throw new StrataError('INVALID_RANGE', `readBuffer reads 0..${MAX_BUFFER_READ} bytes, not ${length}`);
    return this._readBuffer(normalizePath(path), options);
  }

  /** Writes a whole file from a stream, replacing any previous one; returns its new status. */
  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<UfsStatus> {
    this.require('writable', 'write');
    const p = normalizePath(path);
    if (p === '/') throw new StrataError('IS_A_DIRECTORY', 'cannot write to the store root');
    if (options.encryption !== undefined && this.capabilities.encryption !== true)
      // Refused, not ignored: a caller asking for encryption at rest must not get plaintext.
      throw new StrataError(
        'UNSUPPORTED',
        `${this.uri} cannot encrypt what it stores (server-side encryption ${options.encryption.mode})`,
      );
    return this._write(p, source, options);
  }

  /** Deletes a file, or a directory (only when empty unless `recursive`). NOT_FOUND when absent. */
  async delete(path: string, options: CallOptions & { recursive?: boolean } = {}): Promise<void> {
    this.require('writable', 'delete');
    const p = normalizePath(path);
    if (p === '/') throw new StrataError('INVALID_PATH', 'cannot delete the store root');
    return this._delete(p, options);
  }

  /** Creates a directory and its parents; succeeds when it already exists. */
  async mkdir(path: string, options: CallOptions = {}): Promise<void> {
    this.require('writable', 'mkdir');
    return this._mkdir(normalizePath(path), options);
  }

  /** Renames a file or directory; the destination must not exist. */
  async rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    this.require('writable', 'rename');
    if (this.capabilities.rename === 'none')
      throw new StrataError('UNSUPPORTED', `${this.uri} cannot rename`);
    const a = normalizePath(from);
    const b = normalizePath(to);
    if (a === '/' || b === '/') throw new StrataError('INVALID_PATH', 'cannot rename the store root');
    if (b.startsWith(`${a}/`))
      throw new StrataError('INVALID_ARGUMENT', 'cannot move a directory inside itself');
    return this._rename(a, b, options);
  }

  /** Releases sockets and handles. */
  async close(): Promise<void> {}

  /** By default the stream of _read() gathered; connectors with a cheaper whole read override it. */
  protected async _readBuffer(
    path: string,
    options: ReadOptions & { readonly length: number },
  ): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this._read(path, options)) chunks.push(chunk as Buffer);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  protected abstract _status(path: string, options: CallOptions): Promise<UfsStatus>;
  protected abstract _list(path: string, options: ListOptions): Promise<ListPage>;
  protected abstract _read(path: string, options: ReadOptions): Promise<Readable>;
  protected abstract _write(path: string, source: Readable, options: WriteOptions): Promise<UfsStatus>;
  protected abstract _delete(path: string, options: CallOptions & { recursive?: boolean }): Promise<void>;
  protected abstract _mkdir(path: string, options: CallOptions): Promise<void>;
  protected abstract _rename(from: string, to: string, options: CallOptions): Promise<void>;

  private require(capability: 'writable' | 'list', op: string): void {
    if (!this.capabilities[capability]) {
      throw new StrataError(
        capability === 'writable' ? 'READ_ONLY' : 'UNSUPPORTED',
        `${this.uri} does not support ${op}`,
      );
    }
  }
}

/** The identity of a file's content in its store; part of every page key. */
export function fingerprintOf(status: Pick<UfsStatus, 'size' | 'mtimeMs' | 'etag'>): string {
  return `${status.size}:${Math.trunc(status.mtimeMs)}:${status.etag ?? ''}`;
}
