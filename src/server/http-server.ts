import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { closeServer } from '../core/close-server.js';
import { ERROR_TABLE, StrataError, toStrataError } from '../core/errors.js';
import { answerHalfClosedRequests } from '../core/half-open.js';
import {
  isLingering,
  ListenerGuard,
  type ListenerLimitOptions,
  lingerClose,
  lingerIfUnread,
  RETRY_AFTER_SECONDS,
  refusalMessage,
} from '../core/listener-guard.js';
import { logger } from '../core/log.js';
import { type ServerTls, schemeOf } from '../core/tls-options.js';
import type { WorkerNode } from './worker-node.js';

/** A handler that answers the request and returns true, or returns false to let the next one try. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface Listening {
  /** node:http's, or node:https's when TLS is on (same events and methods; typed as http's). */
  readonly server: Server;
  /** http(s)://host:port as others should reach it. */
  readonly base: string;
  /** Requests being served (drain waits for 0). */
  inFlight(): number;
  /** Serves requests with the handlers in order; errors become JSON from the error table. */
  serve(handlers: readonly Handler[]): void;
  /** Stops accepting, lets idle connections go, cuts the rest after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Defaults of the listener's timeouts (docs/reliability.md, "Timeouts of the admin/RPC port"). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 5_000;

export interface ListenOptions {
  /** `base` names this host instead of the listen address. */
  readonly advertiseHost?: string | undefined;
  /**
   * Longest time from a connection's start (on a kept-alive connection, from the next request's
   * first byte) until the whole request head has arrived; then 408 and close. Default 20 s.
   */
  readonly headersTimeoutMs?: number | undefined;
  /** Longest idle time of a kept-alive connection between requests (Node adds a 1 s margin). Default 5 s. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Connections per client address and requests in flight; past either, 503 OVERLOADED with
   * Retry-After (docs/reliability.md, "Limits"). /healthz and /metrics are not counted.
   */
  readonly limits?: ListenerLimitOptions | undefined;
  /** Certificate and key: the port speaks TLS only (https://), plain HTTP to it is not served. */
  readonly tls?: ServerTls | undefined;
}

/** Monitoring answers even when the listener is at its bound. */
const UNBOUNDED_TARGETS = new Set(['/healthz', '/metrics']);

/**
 * Listens on host:port (0 = any free port). Bodies have no overall deadline (a multi-GiB upload
 * or a tree-wide load may take long): the client's body timeouts and the worker's own deadlines
 * bound those; the head of every request and every idle connection are bounded here.
 */
export async function listenHttp(
  host: string,
  port: number,
  advertiseHostOrOptions?: string | ListenOptions,
): Promise<Listening> {
  const options: ListenOptions =
    typeof advertiseHostOrOptions === 'string'
      ? { advertiseHost: advertiseHostOrOptions }
      : (advertiseHostOrOptions ?? {});
  const advertiseHost = options.advertiseHost;
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const httpOptions = {
    keepAlive: true,
    // 0 = no deadline for a whole request, body included; it must be set explicitly, as Node's
    // default (300 s) would cut long uploads. headersTimeout is then independent of it.
    requestTimeout: 0,
    headersTimeout,
    keepAliveTimeout: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    // How often Node checks headersTimeout (its default, 30 s, would make 20 s mean 20–50 s).
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
  // An https server has http's events and methods; its TLS handshake is bounded like a head.
  const server: Server =
    options.tls === undefined
      ? createServer(httpOptions)
      : (createHttpsServer({
          ...httpOptions,
          cert: options.tls.cert,
          key: options.tls.key,
          handshakeTimeout: headersTimeout,
        }) as unknown as Server);
  answerHalfClosedRequests(server);
  await new Promise<void>((ok, fail) => {
    server.once('error', (err) =>
      fail(
        new StrataError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(port, host, () => ok());
  });
  const guard = new ListenerGuard(server, options.limits);
  hardenParser(server);
  const actual = (server.address() as AddressInfo).port;
  const name = advertiseHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const base = `${schemeOf(options.tls)}://${name.includes(':') ? `[${name}]` : name}:${actual}`;
  let inFlight = 0;
  return {
    server,
    base,
    inFlight: () => inFlight,
    serve(handlers) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        inFlight++;
        res.once('close', () => inFlight--);
        const socket = req.socket;
        res.once('finish', () => lingerIfUnread(socket, req.complete));
        (async () => {
          canonicalTarget(req);
          if (!UNBOUNDED_TARGETS.has((req.url ?? '/').split('?')[0]!)) {
            const refused = guard.admit(req.socket, res);
            if (refused !== undefined) {
              res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
              if (refused === 'connections') res.setHeader('connection', 'close');
              throw new StrataError('OVERLOADED', refusalMessage(refused, guard.limits));
            }
          }
          for (const h of handlers) if (await h(req, res)) return;
          throw new StrataError('NOT_FOUND', `no route ${req.method} ${(req.url ?? '/').split('?')[0]}`);
        })().catch((err) => {
          const e = toStrataError(err);
          logger('request_error', { url: req.url, code: e.code, error: e.message });
          if (!res.headersSent) {
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (e.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer realm="strata"';
            // A refused request's body is not read: do not keep a connection with unread bytes,
            // and drain what still comes so the answer is not lost to a reset.
            if (!req.complete || res.getHeader('connection') === 'close') headers.connection = 'close';
            res.writeHead(ERROR_TABLE[e.code].http, headers);
            res.end(JSON.stringify({ error: e.toJSON() }));
          } else {
            res.destroy(e);
          }
        });
      });
    },
    close(graceMs = 2000) {
      return closeServer(server, graceMs);
    },
  };
}

/**
 * What node would answer with a reset, or not at all: a request it cannot parse gets its 400 (431,
 * 408) and a lingering close (not a reset that can swallow the answer), CONNECT a 400 instead of
 * a dropped connection, and an `Expect` other than 100-continue is ignored instead of a bare 417.
 */
function hardenParser(server: Server): void {
  // No body: the method of a request that did not parse is unknown, and a HEAD answer has none.
  const answer = (socket: Socket, status: number, reason: string) => {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    lingerClose(socket);
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (isLingering(socket)) return;
    if (!socket.writable) return socket.destroy();
    // A connection that sent nothing still hears its 408 (the documented headers timeout).
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0)
      return answer(socket, 408, 'Request Timeout');
    if (socket.bytesRead === 0) return socket.destroy();
    const current = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (current?.headersSent) {
      // The request was answered (its body is what is bad): let the answer finish, then close.
      if (current.writableFinished) lingerClose(socket);
      else current.once('finish', () => lingerClose(socket));
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return answer(socket, 408, 'Request Timeout');
    if (err.code === 'HPE_HEADER_OVERFLOW') return answer(socket, 431, 'Request Header Fields Too Large');
    answer(socket, 400, 'Bad Request');
  });
  server.on('connect', (_req: IncomingMessage, socket: Socket) => answer(socket, 400, 'Bad Request'));
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    server.emit('request', req, res),
  );
}

/**
 * Rewrites `req.url` to one origin-form target (`/path?query`, dot segments resolved) so every
 * handler, the authentication gate included, sees the same path; absolute-form targets
 * (`http://host/path`) are accepted as RFC 9112 asks. Anything else (`*`, `//`, `//@`,
 * `http://[::1`) is INVALID_ARGUMENT (400), not an "Invalid URL" 500.
 */
export function canonicalTarget(req: IncomingMessage): void {
  const raw = req.url ?? '';
  let url: URL | undefined;
  try {
    if (raw.startsWith('/') && !raw.startsWith('//')) url = new URL(`http://localhost${raw}`);
    else if (/^https?:\/\//i.test(raw)) url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || !url.pathname.startsWith('/')) {
    throw new StrataError('INVALID_ARGUMENT', 'malformed request target', {
      details: { target: raw.slice(0, 200) },
    });
  }
  req.url = `${url.pathname}${url.search}`;
}

/** /healthz and /metrics of a worker process. */
export function adminHandler(node: WorkerNode, role: string, version: string): Handler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', role, version, workerId: node.id }));
      return true;
    }
    if (path === '/metrics') {
      node.fs.updateGauges();
      const text = await node.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': node.metrics.registry.contentType });
      res.end(text);
      return true;
    }
    return false;
  };
}
