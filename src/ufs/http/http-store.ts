import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { Agent, type Dispatcher, request } from 'undici';
import { StrataError } from '../../core/errors.js';
import { joinPath } from '../../core/paths.js';
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
import { isStaleConnection, statusError, transportError } from './http-errors.js';
import { type ListedEntry, parseHtmlListing, parseJsonListing } from './listing.js';
import { translateErrors } from './streams.js';

/**
 * Default of the `timeoutMs` option: connecting, waiting for a response's headers and for each
 * chunk of its body. The same as the worker's store deadline (DEFAULT_STORE_DEADLINE_MS), so a
 * silent origin fails UFS_UNAVAILABLE in 10 s whichever fires first.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
/** A listing larger than this is refused rather than buffered. */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;
/** HEADs in flight while sizing the entries of an HTML listing page. */
const HEAD_CONCURRENCY = 8;
/** Entity tags remembered from status() for If-Range; least recently used dropped first. */
const MAX_REMEMBERED_ETAGS = 10_000;

type Response = Dispatcher.ResponseData;

/**
 * `http(s)://host/base` — a read-only store over plain HTTP (nginx, Apache, a CDN, object-store
 * public URLs). Files are GETs with Range; directories are URLs a server redirects to with a
 * trailing slash; listing understands nginx's JSON autoindex and, failing that, HTML indexes.
 *
 * Options: `timeoutMs` (connect, headers and idle body time, default 10 s), `header.<Name>` (sent with
 * every request, e.g. `header.Authorization`; never logged). User info in the URI becomes Basic
 * auth and is dropped from `uri`.
 *
 * Entity check: the ETag seen by status() is remembered per path and sent as If-Range with
 * ranged reads; when the server answers with another entity, read() fails FINGERPRINT_CHANGED
 * (and remembers the new tag, so a retry after a fresh status succeeds).
 */
export class HttpUnderStore extends UnderStore {
  readonly uri: string;
  readonly capabilities: UfsCapabilities = {
    writable: false,
    rename: 'none',
    directories: true,
    list: true,
    rangeRead: true,
  };
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly agent: Agent;
  private readonly etags = new LRUCache<string, string>({ max: MAX_REMEMBERED_ETAGS });
  /** For the one retry of a request whose pooled connection was dead: always a new connection. */
  private readonly freshAgent: Agent;
  /** The `timeoutMs` option: connect, response headers, idle body. */
  readonly timeoutMs: number;

  constructor(uri: URL, options: UfsOptions = {}) {
    super();
    if (uri.protocol !== 'http:' && uri.protocol !== 'https:') {
      throw new StrataError('INVALID_URI', `not an http(s) URI: ${uri.protocol}`);
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(options)) {
      if (!key.startsWith('header.') || value === undefined) continue;
      const name = key.slice('header.'.length);
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        throw new StrataError('INVALID_ARGUMENT', `bad header name in option ${key}`);
      }
      headers[name.toLowerCase()] = value;
    }
    const url = new URL(uri.href);
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      headers.authorization ??= `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.headers = headers;
    this.uri = url.href.endsWith('/') && url.pathname !== '/' ? url.href.slice(0, -1) : url.href;
    this.base = url.href.endsWith('/') ? url.href : `${url.href}/`;

    const timeoutMs = parseTimeout(options.timeoutMs);
    this.timeoutMs = timeoutMs;
    const timeouts = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } };
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: 32, ...timeouts });
    this.freshAgent = new Agent({ pipelining: 0, ...timeouts }); // pipelining 0: no keep-alive
  }

  override async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.freshAgent.close()]);
  }

  protected async _status(path: string, options: CallOptions): Promise<UfsStatus> {
    if (path === '/') {
      const res = await this.send('HEAD', path, this.urlOf(path, true), {}, options.signal);
      await res.body.dump();
      // 403: the root exists but listing is switched off, which is fine for reading files.
      if ((res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 403) {
        return { path, type: 'directory', size: 0, mtimeMs: 0 };
      }
      throw statusError(res.statusCode, 'HEAD', path);
    }
    const url = this.urlOf(path, false);
    let method: 'HEAD' | 'GET' = 'HEAD';
    let res = await this.send(method, path, url, {}, options.signal);
    // Some servers refuse HEAD, and a chunked answer has no length: ask for one byte instead.
    if (
      res.statusCode === 405 ||
      res.statusCode === 501 ||
      (ok(res) && res.headers['content-length'] === undefined)
    ) {
      await res.body.dump();
      method = 'GET';
      res = await this.send(method, path, url, { range: 'bytes=0-0' }, options.signal);
    }
    await res.body.dump();
    if (isRedirect(res)) {
      if (redirectsToDirectory(res, url)) return { path, type: 'directory', size: 0, mtimeMs: 0 };
      throw new StrataError('UNSUPPORTED', `${path} redirects elsewhere; redirects are not followed`, {
        details: { path, status: res.statusCode },
      });
    }
    if (res.statusCode === 416) return this.fileStatus(path, res); // an empty file asked for byte 0
    if (!ok(res)) throw statusError(res.statusCode, method, path);
    return this.fileStatus(path, res);
  }

  private fileStatus(path: string, res: Response): UfsStatus {
    const size = entitySize(res);
    if (size === undefined) {
      throw new StrataError(
        'UNSUPPORTED',
        `${path}: the server reports no size (no Content-Length/Content-Range)`,
        {
          details: { path },
        },
      );
    }
    const etag = parseEtag(res.headers.etag);
    const lastModified = Date.parse(header(res.headers, 'last-modified') ?? '');
    const status: UfsStatus = {
      path,
      type: 'file',
      size,
      mtimeMs: Number.isFinite(lastModified) ? lastModified : 0,
      ...(etag === undefined ? {} : { etag }),
    };
    this.remember(path, etag);
    return status;
  }

  protected async _read(path: string, options: ReadOptions): Promise<Readable> {
    const offset = options.offset ?? 0;
    const length = options.length;
    if (length === 0) {
      // Nothing to fetch, but a missing file or an offset past the end must still fail.
      const st = await this._status(path, options.signal ? { signal: options.signal } : {});
      if (st.type === 'directory')
        throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`, { details: { path } });
      if (offset > st.size) throw rangeError(path, offset, st.size);
      return Readable.from([]);
    }
    const ranged = offset > 0 || length !== undefined;
    const headers: Record<string, string> = {};
    const known = this.etags.get(path);
    if (ranged) {
      headers.range = `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
      if (known !== undefined && !known.startsWith('W/')) headers['if-range'] = `"${known}"`;
    }
    const url = this.urlOf(path, false);
    const res = await this.send('GET', path, url, headers, options.signal);
    const got = parseEtag(res.headers.etag);
    const changed = known !== undefined && got !== undefined && got !== known;

    if (res.statusCode === 206) {
      const range = parseContentRange(header(res.headers, 'content-range'));
      if (changed) return this.entityChanged(path, res, got);
      if (range?.start !== offset) {
        discard(res);
        throw new StrataError(
          'UFS_UNAVAILABLE',
          `${path}: server answered range ${range?.start} for ${offset}`,
          {
            details: { path },
          },
        );
      }
      this.remember(path, got);
      return translateErrors(res.body, (err) => transportError(err, 'GET', path, this.timeoutMs));
    }
    if (res.statusCode === 200) {
      if (changed) return this.entityChanged(path, res, got);
      this.remember(path, got);
      if (!ranged)
        return translateErrors(res.body, (err) => transportError(err, 'GET', path, this.timeoutMs));
      // The server ignored Range (nginx does for empty files; some servers always do). Correct
      // but costly: skip up to the offset and stop after the length.
      const size = entitySize(res);
      if (size !== undefined && offset > size) {
        discard(res);
        throw rangeError(path, offset, size);
      }
      return Readable.from(sliceBody(res.body, offset, length, path, this.timeoutMs), { objectMode: false });
    }
    await res.body.dump();
    if (res.statusCode === 416) {
      const size =
        parseContentRange(header(res.headers, 'content-range'))?.size ?? (await this._status(path, {})).size;
      if (offset === size) return Readable.from([]); // reading from the end: nothing, not an error
      throw rangeError(path, offset, size);
    }
    if (isRedirect(res) && redirectsToDirectory(res, url)) {
      throw new StrataError('IS_A_DIRECTORY', `${path} is a directory`, { details: { path } });
    }
    throw statusError(res.statusCode, 'GET', path);
  }

  private entityChanged(path: string, res: Response, etag: string | undefined): never {
    discard(res);
    this.remember(path, etag);
    throw new StrataError('FINGERPRINT_CHANGED', `${path} changed on the server since its status was taken`, {
      details: { path },
    });
  }

  protected async _list(path: string, options: ListOptions): Promise<ListPage> {
    const url = this.urlOf(path, true);
    const res = await this.send(
      'GET',
      path,
      url,
      { accept: 'application/json, text/html;q=0.9' },
      options.signal,
    );
    if (res.statusCode === 404 && path !== '/') {
      await res.body.dump();
      // A file asked for with a trailing slash is a 404 too; tell the two apart.
      const st = await this._status(path, options.signal ? { signal: options.signal } : {}).catch(
        () => undefined,
      );
      if (st?.type === 'file')
        throw new StrataError('NOT_A_DIRECTORY', `${path} is a file`, { details: { path } });
      throw statusError(404, 'GET', path);
    }
    if (res.statusCode === 403 || res.statusCode === 405 || res.statusCode === 501) {
      await res.body.dump();
      throw new StrataError(
        'UNSUPPORTED',
        `${path}: the server does not list directories (HTTP ${res.statusCode})`,
        {
          details: { path, status: res.statusCode },
        },
      );
    }
    if (!ok(res)) {
      await res.body.dump();
      throw statusError(res.statusCode, 'GET', path);
    }
    const type = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && type !== 'text/html') {
      await res.body.dump();
      throw new StrataError('UNSUPPORTED', `${path}: listing has content type "${type}", not JSON or HTML`, {
        details: { path },
      });
    }
    const text = await readText(res, path, this.timeoutMs);
    const listed = type === 'application/json' ? parseJsonListing(text, path) : parseHtmlListing(text, url);
    listed.sort((a, b) => compareUtf8(a.name, b.name));
    const { page, more } = pageOf(listed, options.token, options.limit);
    const statuses = await mapBounded(page, HEAD_CONCURRENCY, (e) =>
      this.entryStatus(path, e, options.signal),
    );
    const entries = statuses.filter((s): s is UfsStatus => s !== undefined);
    const last = page[page.length - 1];
    return more && last ? { entries, nextToken: encodeToken(last.name) } : { entries };
  }

  private async entryStatus(
    dir: string,
    e: ListedEntry,
    signal: AbortSignal | undefined,
  ): Promise<UfsStatus | undefined> {
    let path: string;
    try {
      path = joinPath(dir, e.name);
    } catch {
      return undefined; // a name this namespace cannot hold (too long)
    }
    if (e.type === 'directory') return { path, type: 'directory', size: 0, mtimeMs: e.mtimeMs ?? 0 };
    if (e.size !== undefined) return { path, type: 'file', size: e.size, mtimeMs: e.mtimeMs ?? 0 };
    // HTML listings carry no machine-readable sizes: ask for each file of this page.
    try {
      return await this._status(path, signal ? { signal } : {});
    } catch (err) {
      if (err instanceof StrataError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  protected async _write(path: string, _source: Readable, _options: WriteOptions): Promise<UfsStatus> {
    throw readOnly(this.uri, path);
  }

  protected async _delete(path: string): Promise<void> {
    throw readOnly(this.uri, path);
  }

  protected async _mkdir(path: string): Promise<void> {
    throw readOnly(this.uri, path);
  }

  protected async _rename(from: string): Promise<void> {
    throw readOnly(this.uri, from);
  }

  /** Each segment percent-encoded on its own, so "&", "#", "?", spaces and non-ASCII survive. */
  private urlOf(path: string, directory: boolean): string {
    if (path === '/') return this.base;
    const encoded = path.slice(1).split('/').map(encodeURIComponent).join('/');
    return `${this.base}${encoded}${directory ? '/' : ''}`;
  }

  /**
   * One request, answered once its headers arrive. Every request of this connector is a GET or
   * HEAD (idempotent), so one that fails because the origin had closed its pooled keep-alive
   * connection (it closes idle sockets on its own schedule; the close can cross our next request)
   * is sent once more, on a new connection: another pooled one may be just as dead.
   */
  private async send(
    method: 'GET' | 'HEAD',
    path: string,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const options = {
      method,
      headers: { ...this.headers, ...headers },
      ...(signal ? { signal } : {}),
    };
    try {
      try {
        return await request(url, { ...options, dispatcher: this.agent });
      } catch (err) {
        if (!isStaleConnection(err) || signal?.aborted) throw err;
        return await request(url, { ...options, dispatcher: this.freshAgent });
      }
    } catch (err) {
      throw transportError(err, method, path, this.timeoutMs);
    }
  }

  private remember(path: string, etag: string | undefined): void {
    if (etag !== undefined) this.etags.set(path, etag);
  }
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_HTTP_TIMEOUT_MS;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new StrataError('INVALID_ARGUMENT', `timeoutMs must be a positive integer`);
  return n;
}

function ok(res: Response): boolean {
  return res.statusCode >= 200 && res.statusCode < 300;
}

function isRedirect(res: Response): boolean {
  return res.statusCode === 301 || res.statusCode === 302 || res.statusCode === 307 || res.statusCode === 308;
}

/** nginx and most servers send a directory asked for without its slash to the slashed URL. */
function redirectsToDirectory(res: Response, url: string): boolean {
  const location = header(res.headers, 'location');
  if (location === undefined) return false;
  try {
    const to = new URL(location, url);
    const from = new URL(url);
    return decodeURIComponent(to.pathname) === `${decodeURIComponent(from.pathname)}/`;
  } catch {
    return false;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `"abc"` → `abc`; weak `W/"abc"` → `W/abc`, so a weak tag never equals a strong one. */
export function parseEtag(value: string | string[] | undefined): string | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  const weak = v.startsWith('W/');
  const body = weak ? v.slice(2) : v;
  const bare = body.length >= 2 && body.startsWith('"') && body.endsWith('"') ? body.slice(1, -1) : body;
  return weak ? `W/${bare}` : bare;
}

// "bytes 0-9/100" → start 0, size 100; "bytes */100" (a 416) → size 100.
function parseContentRange(value: string | undefined): { start?: number; size?: number } | undefined {
  const m = value ? /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!m) return undefined;
  return {
    ...(m[1] === undefined ? {} : { start: Number(m[1]) }),
    ...(m[3] === '*' || m[3] === undefined ? {} : { size: Number(m[3]) }),
  };
}

/** Whole-entity size from a 200/HEAD (Content-Length) or a 206/416 (Content-Range total). */
function entitySize(res: Response): number | undefined {
  if (res.statusCode === 206 || res.statusCode === 416) {
    return parseContentRange(header(res.headers, 'content-range'))?.size;
  }
  const len = header(res.headers, 'content-length');
  const n = len === undefined ? Number.NaN : Number(len);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function rangeError(path: string, offset: number, size: number): StrataError {
  return new StrataError('INVALID_RANGE', `offset ${offset} is past the end (${size}) of ${path}`, {
    details: { path, offset, size },
  });
}

function readOnly(uri: string, path: string): StrataError {
  return new StrataError('READ_ONLY', `${uri} is read-only (${path})`, { details: { path } });
}

/** Drops `skip` bytes and stops after `take`; leaving the loop early destroys the body. */
async function* sliceBody(
  body: Readable,
  skip: number,
  take: number | undefined,
  path: string,
  timeoutMs: number,
): AsyncGenerator<Buffer> {
  let toSkip = skip;
  let left = take ?? Number.POSITIVE_INFINITY;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let c = chunk;
      if (toSkip > 0) {
        if (c.length <= toSkip) {
          toSkip -= c.length;
          continue;
        }
        c = c.subarray(toSkip);
        toSkip = 0;
      }
      if (c.length >= left) {
        if (left > 0) yield c.subarray(0, left);
        return;
      }
      left -= c.length;
      yield c;
    }
  } catch (err) {
    throw transportError(err, 'GET', path, timeoutMs);
  }
  if (toSkip > 0) throw rangeError(path, skip, skip - toSkip);
}

async function readText(res: Response, path: string, timeoutMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_LISTING_BYTES) {
        discard(res);
        throw new StrataError('UNSUPPORTED', `${path}: listing larger than ${MAX_LISTING_BYTES} bytes`, {
          details: { path },
        });
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(err, 'GET', path, timeoutMs);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drops a response we will not read; the connection closes (undici errors the body on destroy). */
function discard(res: Response): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}
