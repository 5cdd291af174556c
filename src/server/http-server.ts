import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_TABLE, StrataError, toStrataError } from '../core/errors.js';
import { logger } from '../core/log.js';
import type { WorkerNode } from './worker-node.js';

/** A handler that answers the request and returns true, or returns false to let the next one try. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface Listening {
  readonly server: Server;
  /** http://host:port as others should reach it. */
  readonly base: string;
  /** Requests being served (drain waits for 0). */
  inFlight(): number;
  /** Serves requests with the handlers in order; errors become JSON from the error table. */
  serve(handlers: readonly Handler[]): void;
  /** Stops accepting, lets idle connections go, cuts the rest after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on host:port (0 = any free port); `advertiseHost` is what `base` names. */
export async function listenHttp(host: string, port: number, advertiseHost?: string): Promise<Listening> {
  const server = createServer({ keepAlive: true, requestTimeout: 0 });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err) =>
      fail(
        new StrataError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(port, host, () => ok());
  });
  const actual = (server.address() as AddressInfo).port;
  const name = advertiseHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const base = `http://${name.includes(':') ? `[${name}]` : name}:${actual}`;
  let inFlight = 0;
  return {
    server,
    base,
    inFlight: () => inFlight,
    serve(handlers) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        inFlight++;
        res.once('close', () => inFlight--);
        (async () => {
          for (const h of handlers) if (await h(req, res)) return;
          throw new StrataError('NOT_FOUND', `no route ${req.method} ${(req.url ?? '/').split('?')[0]}`);
        })().catch((err) => {
          const e = toStrataError(err);
          logger('request_error', { url: req.url, code: e.code, error: e.message });
          if (!res.headersSent) {
            res.writeHead(ERROR_TABLE[e.code].http, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: e.toJSON() }));
          } else {
            res.destroy(e);
          }
        });
      });
    },
    close(graceMs = 2000) {
      return new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      });
    },
  };
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
