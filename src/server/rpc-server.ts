import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Registry as MetricsRegistry } from 'prom-client';
import {
  type CacheProbeItem,
  MAX_STATUS_BATCH_PATHS,
  READ_TYPES,
  type ReadOptions,
  type ReadType,
  type StoreEncryption,
  type StrataFileSystem,
  type SyncOption,
  WRITE_TYPES,
  type WriteOptions,
  type WriteType,
} from '../client/types.js';
import { ERROR_TABLE, StrataError, toStrataError } from '../core/errors.js';
import { parseJobBatchRequest } from '../core/job-batch.js';
import { log, logEnabled, logSeconds } from '../core/log.js';
import { normalizePath } from '../core/paths.js';
import { acceptRequestId, newRequestId, REQUEST_ID_HEADER, withRequestId } from '../core/request-context.js';
import { RequestHistogram } from '../core/request-metrics.js';
import { sendStream } from '../core/send-stream.js';
import { encryptionFromQuery } from '../core/store-encryption.js';
import { checkBearer, tokenDigest } from './auth.js';

/**
 * Worker RPC over HTTP/1.1 (measured fastest here with undici; see TESTBED.md). Everything lives
 * under /rpc/v1/. Reads take the query string, mutations a small JSON body (so connector secrets
 * in mount options never land in URLs or access logs), data moves as raw bodies.
 *
 *   GET  /rpc/v1/status?path=P[&syncIntervalMs=N]              → FileInfo
 *   GET  /rpc/v1/list?path=P[&syncIntervalMs=N]                → FileInfo[]
 *   GET  /rpc/v1/read?path=P[&offset=N][&length=N][&readType=T] → bytes (application/octet-stream)
 *   PUT  /rpc/v1/write?path=P[&writeType=T][&size=N][&sse=M[&sseKmsKeyId=K][&sseContext=C][&sseBucketKey=true]]
 *        body=bytes → FileInfo (sse*: encryption by the store, core/store-encryption.ts)
 *   POST /rpc/v1/delete   {"path","recursive"?}                → 204
 *   POST /rpc/v1/mkdir    {"path"}                             → 204
 *   POST /rpc/v1/rename   {"from","to"}                        → 204
 *   POST /rpc/v1/mount    {"path","uri","options"?:MountOptions} → MountInfo
 *   POST /rpc/v1/unmount  {"path"}                             → 204
 *   GET  /rpc/v1/mounts                                        → MountInfo[]
 *   POST /rpc/v1/load     {"path"}                             → JobSummary
 *   POST /rpc/v1/free     {"path"}                             → JobSummary
 *   POST /rpc/v1/pin      {"path","pinned":boolean}            → 204
 *   POST /rpc/v1/ttl      {"path","ttlMs":number|null,"action"?:"free"|"delete"} → 204
 *   GET  /rpc/v1/du?path=P                                     → UsageSummary
 *   GET  /rpc/v1/report                                        → ClusterReport
 *   POST /rpc/v1/cached   {"items":[{"path","fingerprint"}]}  → number[] (cached bytes each)
 *   POST /rpc/v1/invalidate {"path","tree"?:boolean}         → 204 (forget cached status/listing)
 *   POST /rpc/v1/job-batch {"op","paths":[…≤1,024],"options"?} → {"results":JobBatchResult[]} (one per path)
 *   GET  /rpc/v1/locate?path=P                               → PageLocation (rpc-short-circuit.ts)
 *   GET  /rpc/v1/watch                                        → NDJSON stream of changed paths (rpc-short-circuit.ts)
 *   POST /rpc/v1/short-circuit-hits {"hits":[{mount,bytes}]}  → 204 (rpc-short-circuit.ts)
 *
 * Errors: status ERROR_TABLE[code].http, body {"error":{"code","message","details"}}.
 * A read that fails before its first byte is such an error; one that fails later destroys the
 * socket, so the client sees a broken body (never a silently short file). A read stream may carry
 * a numeric `contentLength` property; it is then sent as content-length and enforced.
 * Auth: `authorization: Bearer <token>`, else UNAUTHENTICATED. `strata local` and `strata worker`
 * always run with a token (src/server/auth.ts), except `strata local --insecure`.
 */

export const RPC_PREFIX = '/rpc/v1/';
const MAX_JSON_BODY = 1024 * 1024;

export interface RpcHandlerOptions {
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly token?: string;
  /** The process's registry: strata_rpc_request_duration_seconds{route,status} goes there. */
  readonly metrics?: MetricsRegistry;
  /** More routes ("METHOD name" → handler), e.g. the short-circuit ones (rpc-short-circuit.ts). */
  readonly routes?: ReadonlyMap<string, Route>;
}

/** Status label of a call whose response did not complete (the caller left, or a stream broke). */
export const INCOMPLETE_STATUS = '499';

/** A read stream that knows its length (sent as content-length when present). */
export type SizedReadable = Readable & { readonly contentLength?: number; readonly fingerprint?: string };

/** Response header carrying the content identity of a read, so a resumed read can check it. */
export const FINGERPRINT_HEADER = 'x-strata-fingerprint';

export type RpcHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

type Query = URLSearchParams;
export type Route = (ctx: CallContext) => Promise<void>;

export interface CallContext {
  readonly fs: StrataFileSystem;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: Query;
  /** Aborted when the caller goes away before the response is complete. */
  readonly signal: AbortSignal;
}

export function createRpcHandler(fs: StrataFileSystem, opts: RpcHandlerOptions = {}): RpcHandler {
  const expected = opts.token === undefined ? undefined : tokenDigest(opts.token);
  const durations =
    opts.metrics === undefined
      ? undefined
      : new RequestHistogram(opts.metrics, {
          name: 'strata_rpc_request_duration_seconds',
          help: 'Worker RPC calls until their response completed, by route (the RPC name) and HTTP status',
          labels: ['route', 'status'],
        });
  return async (req, res) => {
    let url: URL;
    try {
      url = new URL(`http://rpc${(req.url ?? '/').startsWith('/') ? req.url : '/'}`);
    } catch {
      return false;
    }
    if (!url.pathname.startsWith(RPC_PREFIX)) return false;
    const started = performance.now();
    const name = url.pathname.slice(RPC_PREFIX.length);
    const key = `${req.method ?? ''} ${name}`;
    const route = ROUTES.get(key) ?? opts.routes?.get(key);
    // The caller's request id (an S3 or FUSE request upstream), else one for this call.
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]) ?? newRequestId();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const controller = new AbortController();
    res.once('close', () => {
      const finished = res.writableFinished;
      if (!finished) controller.abort();
      // Only known routes are labels: a raw path would make one series per typo.
      const label = route === undefined ? 'unknown' : name;
      const status = finished ? String(res.statusCode) : INCOMPLETE_STATUS;
      const seconds = (performance.now() - started) / 1000;
      durations?.observe(label, status, seconds);
      if (logEnabled('debug'))
        log.debug('rpc_request', { route: label, status, seconds: logSeconds(seconds), requestId });
    });
    await withRequestId(requestId, async () => {
      try {
        if (expected !== undefined) checkBearer(req, expected);
        if (!route) {
          throw new StrataError('INVALID_ARGUMENT', `no RPC ${req.method} ${url.pathname}`, {
            details: { method: req.method, path: url.pathname },
          });
        }
        await route({ fs, req, res, query: url.searchParams, signal: controller.signal });
      } catch (err) {
        sendError(res, req, err);
      }
    });
    return true;
  };
}

function sendError(res: ServerResponse, req: IncomingMessage, err: unknown): void {
  const e = toStrataError(err);
  if (res.headersSent) {
    // Mid-stream: the only honest signal left is a broken connection.
    res.destroy(e);
    return;
  }
  if (res.destroyed) return;
  const body = JSON.stringify({
    error: { code: e.code, message: e.message, details: safeDetails(e.details) },
  });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  // An unread upload would be drained to keep the socket; closing is cheaper for big bodies.
  if (!req.complete) headers.connection = 'close';
  if (e.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer realm="strata"';
  res.writeHead(ERROR_TABLE[e.code].http, headers);
  res.end(body);
}

function safeDetails(details: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  try {
    JSON.stringify(details);
    return details;
  } catch {
    return {};
  }
}

export function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendEmpty(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

// ---- argument parsing: anything malformed is INVALID_ARGUMENT, never a crash -------------------

export function bad(message: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', message);
}

/** A path argument: present and a string; what it may contain is normalizePath's business (INVALID_PATH). */
export function pathParam(value: unknown, name: string): string {
  if (typeof value !== 'string') throw bad(`"${name}" is required and must be a string`);
  return value;
}

function requiredString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw bad(`"${name}" is required and must be a string`);
  return value;
}

function optionalInt(text: string | null, name: string, min: number): number | undefined {
  if (text === null || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw bad(`"${name}" must be an integer, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw bad(`"${name}" must be an integer ≥ ${min}, got "${text}"`);
  return n;
}

function oneOf<T extends string>(text: unknown, allowed: readonly T[], name: string): T | undefined {
  if (text === null || text === undefined || text === '') return undefined;
  if (typeof text !== 'string' || !(allowed as readonly string[]).includes(text)) {
    throw bad(`"${name}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as T;
}

function syncOption(q: Query): SyncOption {
  const n = optionalInt(q.get('syncIntervalMs'), 'syncIntervalMs', -1);
  return n === undefined ? {} : { syncIntervalMs: n };
}

export async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY) throw bad(`request body larger than ${MAX_JSON_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', 'request body is not valid JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('request body must be a JSON object');
  return value as Record<string, unknown>;
}

function stringRecord(value: unknown, name: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(`"${name}" must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`"${name}.${k}" must be a string`);
    out[k] = v;
  }
  return out;
}

// ---- streaming ---------------------------------------------------------------------------------

/**
 * Waits until the stream has data or has ended, so an error that the source raises on its first
 * read (missing file, bad range) is still reported as a JSON error with the right status.
 */
function firstReadable(stream: Readable): Promise<void> {
  if (stream.errored) return Promise.reject(stream.errored);
  if (stream.readableLength > 0 || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('readable', onReadable);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onReadable = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () =>
      done(stream.errored ?? new StrataError('INTERNAL', 'read stream closed before data'));
    stream.on('readable', onReadable);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

async function streamRead(ctx: CallContext, stream: SizedReadable): Promise<void> {
  const { res } = ctx;
  try {
    await firstReadable(stream);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
  const length = stream.contentLength;
  if (typeof length === 'number' && Number.isSafeInteger(length) && length >= 0)
    headers['content-length'] = length;
  if (typeof stream.fingerprint === 'string')
    headers[FINGERPRINT_HEADER] = encodeURIComponent(stream.fingerprint);
  // Node then fails the response when the source sends more or fewer bytes than announced.
  res.strictContentLength = true;
  res.writeHead(200, headers);
  await sendStream(stream, res);
}

// ---- routes ------------------------------------------------------------------------------------

const ROUTES = new Map<string, Route>([
  [
    'GET status',
    async ({ fs, res, query, signal }) =>
      sendJson(res, await fs.status(pathParam(query.get('path'), 'path'), { ...syncOption(query), signal })),
  ],
  [
    // Many statuses in one call (the client batches the stats issued in one event-loop turn);
    // each path answers {info} or {error}, so one missing file fails nobody else.
    'POST status-batch',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      if (!Array.isArray(b.paths) || b.paths.length < 1 || b.paths.length > MAX_STATUS_BATCH_PATHS)
        throw bad(`"paths" must be an array of 1 to ${MAX_STATUS_BATCH_PATHS} paths`);
      const paths = b.paths.map((p: unknown) => pathParam(p, 'paths[]'));
      const interval = b.syncIntervalMs;
      if (interval !== undefined && (!Number.isSafeInteger(interval) || (interval as number) < -1))
        throw bad(`"syncIntervalMs" must be an integer ≥ -1, got ${JSON.stringify(interval)}`);
      const sync = interval === undefined ? {} : { syncIntervalMs: interval as number };
      const results = await Promise.all(
        paths.map((p: string) =>
          fs.status(p, { ...sync, signal }).then(
            (info) => ({ info }),
            (err: unknown) => {
              const e = toStrataError(err);
              return { error: { code: e.code, message: e.message, details: safeDetails(e.details) } };
            },
          ),
        ),
      );
      sendJson(res, { results });
    },
  ],
  [
    'GET list',
    async ({ fs, res, query, signal }) =>
      sendJson(res, await fs.list(pathParam(query.get('path'), 'path'), { ...syncOption(query), signal })),
  ],
  [
    'GET listPage',
    async ({ fs, res, query, signal }) => {
      const limit = optionalInt(query.get('limit'), 'limit', 1);
      const startAfter = query.get('startAfter');
      const page = await fs.listPage(pathParam(query.get('path'), 'path'), {
        ...syncOption(query),
        ...(limit === undefined ? {} : { limit }),
        ...(startAfter === null ? {} : { startAfter }),
        signal,
      });
      sendJson(res, page);
    },
  ],
  [
    'GET read',
    async (ctx) => {
      const q = ctx.query;
      const path = pathParam(q.get('path'), 'path');
      const opts: { offset?: number; length?: number; readType?: ReadType; signal: AbortSignal } = {
        signal: ctx.signal,
      };
      const offset = optionalInt(q.get('offset'), 'offset', 0);
      const length = optionalInt(q.get('length'), 'length', 0);
      const readType = oneOf(q.get('readType'), READ_TYPES, 'readType');
      if (offset !== undefined) opts.offset = offset;
      if (length !== undefined) opts.length = length;
      if (readType !== undefined) opts.readType = readType;
      await streamRead(ctx, (await ctx.fs.read(path, opts satisfies ReadOptions)) as SizedReadable);
    },
  ],
  [
    'PUT write',
    async ({ fs, req, res, query, signal }) => {
      const path = pathParam(query.get('path'), 'path');
      const opts: {
        writeType?: WriteType;
        size?: number;
        encryption?: StoreEncryption;
        signal: AbortSignal;
      } = {
        signal,
      };
      const writeType = oneOf(query.get('writeType'), WRITE_TYPES, 'writeType');
      const size = optionalInt(query.get('size'), 'size', 0);
      const encryption = encryptionFromQuery((name) => query.get(name));
      if (writeType !== undefined) opts.writeType = writeType;
      if (size !== undefined) opts.size = size;
      if (encryption !== undefined) opts.encryption = encryption;
      sendJson(res, await fs.write(path, req, opts satisfies WriteOptions));
    },
  ],
  [
    'POST delete',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      if (b.recursive !== undefined && typeof b.recursive !== 'boolean')
        throw bad('"recursive" must be a boolean');
      await fs.delete(pathParam(b.path, 'path'), { recursive: b.recursive === true, signal });
      sendEmpty(res);
    },
  ],
  [
    'POST mkdir',
    async ({ fs, req, res, signal }) => {
      await fs.mkdir(pathParam((await jsonBody(req)).path, 'path'), { signal });
      sendEmpty(res);
    },
  ],
  [
    'POST rename',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      await fs.rename(pathParam(b.from, 'from'), pathParam(b.to, 'to'), { signal });
      sendEmpty(res);
    },
  ],
  [
    'POST mount',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      sendJson(
        res,
        await fs.mount(pathParam(b.path, 'path'), requiredString(b.uri, 'uri'), {
          ...mountOptions(b.options),
          signal,
        }),
      );
    },
  ],
  [
    'POST unmount',
    async ({ fs, req, res, signal }) => {
      await fs.unmount(pathParam((await jsonBody(req)).path, 'path'), { signal });
      sendEmpty(res);
    },
  ],
  [
    'POST invalidate',
    async ({ fs, req, res, signal }) => {
      if (fs.invalidate === undefined) throw new StrataError('UNSUPPORTED', 'this server cannot invalidate');
      const b = await jsonBody(req);
      if (b.tree !== undefined && typeof b.tree !== 'boolean') throw bad('"tree" must be a boolean');
      await fs.invalidate(pathParam(b.path, 'path'), { tree: b.tree === true, signal });
      sendEmpty(res);
    },
  ],
  ['GET mounts', async ({ fs, res, signal }) => sendJson(res, await fs.mounts({ signal }))],
  [
    'POST load',
    async ({ fs, req, res, signal }) =>
      sendJson(res, await fs.load(pathParam((await jsonBody(req)).path, 'path'), { signal })),
  ],
  [
    'POST free',
    async ({ fs, req, res, signal }) =>
      sendJson(res, await fs.free(pathParam((await jsonBody(req)).path, 'path'), { signal })),
  ],
  [
    'POST pin',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      if (typeof b.pinned !== 'boolean') throw bad('"pinned" must be a boolean');
      await fs.pin(pathParam(b.path, 'path'), b.pinned, { signal });
      sendEmpty(res);
    },
  ],
  [
    'POST ttl',
    async ({ fs, req, res, signal }) => {
      const b = await jsonBody(req);
      const ttl = b.ttlMs;
      if (ttl !== null && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 0)) {
        throw bad('"ttlMs" must be a non-negative integer or null');
      }
      const action = oneOf(b.action, ['free', 'delete'] as const, 'action');
      const path = pathParam(b.path, 'path');
      await fs.setTtl(path, ttl, action, { signal });
      sendEmpty(res);
    },
  ],
  [
    'GET du',
    async ({ fs, res, query, signal }) =>
      sendJson(res, await fs.du(pathParam(query.get('path'), 'path'), { signal })),
  ],
  ['GET report', async ({ fs, res, signal }) => sendJson(res, await fs.report({ signal }))],
  [
    'POST job-batch',
    async ({ fs, req, res, signal }) => {
      if (fs.jobBatch === undefined) throw new StrataError('UNSUPPORTED', 'this server runs no job batches');
      const request = parseJobBatchRequest(await jsonBody(req));
      sendJson(res, { results: await fs.jobBatch(request, { signal }) });
    },
  ],
  [
    'POST cached',
    async ({ fs, req, res, signal }) => {
      if (fs.cachedBytesOf === undefined)
        throw new StrataError('UNSUPPORTED', 'this server cannot report cached bytes');
      const b = await jsonBody(req);
      if (!Array.isArray(b.items) || b.items.length > 10_000)
        throw bad('"items" must be an array of at most 10,000');
      const items = b.items.map((i: unknown) => {
        const o = i as { path?: unknown; fingerprint?: unknown } | null;
        return {
          path: requiredString(o?.path, 'items[].path'),
          fingerprint: requiredString(o?.fingerprint, 'items[].fingerprint'),
        };
      });
      sendJson(
        res,
        await fs.cachedBytesOf(
          items.map((i: CacheProbeItem) => ({ ...i, path: normalizePath(i.path) })),
          { signal },
        ),
      );
    },
  ],
]);

function mountOptions(value: unknown): {
  readOnly?: boolean;
  fallbackToUfs?: boolean;
  syncIntervalMs?: number;
  writeType?: WriteType;
  options?: Record<string, string>;
} {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad('"options" must be an object');
  const o = value as Record<string, unknown>;
  const out: {
    readOnly?: boolean;
    fallbackToUfs?: boolean;
    syncIntervalMs?: number;
    writeType?: WriteType;
    options?: Record<string, string>;
  } = {};
  if (o.readOnly !== undefined) {
    if (typeof o.readOnly !== 'boolean') throw bad('"options.readOnly" must be a boolean');
    out.readOnly = o.readOnly;
  }
  if (o.fallbackToUfs !== undefined) {
    if (typeof o.fallbackToUfs !== 'boolean') throw bad('"options.fallbackToUfs" must be a boolean');
    out.fallbackToUfs = o.fallbackToUfs;
  }
  if (o.syncIntervalMs !== undefined) {
    const n = o.syncIntervalMs;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < -1)
      throw bad('"options.syncIntervalMs" must be an integer ≥ -1');
    out.syncIntervalMs = n;
  }
  const writeType = oneOf(o.writeType, WRITE_TYPES, 'options.writeType');
  if (writeType !== undefined) out.writeType = writeType;
  const connector = stringRecord(o.options, 'options.options');
  if (connector !== undefined) out.options = connector;
  return out;
}
