import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { StrataError } from './errors.js';
import { answerHalfClosedRequests } from './half-open.js';
import { type ServerTls, schemeOf } from './tls-options.js';

/**
 * prom-client's process series (process_*, nodejs_*: CPU, memory, event loop lag, GC) on a
 * daemon's registry, once. Called by the daemons' entry points only, not by in-process servers
 * (each call starts an event-loop monitor and a GC observer for the life of the process).
 */
export function processMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  collectDefaultMetrics({ register: registry });
}

export interface MetricsEndpoint {
  /** http(s)://host:port */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * GET /healthz and GET /metrics on a port of their own, for daemons whose main port is not
 * Strata's HTTP (`strata gateway s3`: every path there is a bucket; `strata fuse mount`: none).
 * Both answer anyone, like every admin port's: no secrets, no paths (docs/reliability.md).
 */
export async function serveMetrics(
  registry: Registry,
  options: {
    readonly host: string;
    readonly port: number;
    readonly role: string;
    /** The process's certificate and key: this port is TLS too. */
    readonly tls?: ServerTls | undefined;
  },
): Promise<MetricsEndpoint> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', role: options.role }));
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('only /healthz and /metrics here\n');
  };
  const server: Server =
    options.tls === undefined
      ? createServer(handler)
      : (createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) as unknown as Server);
  server.keepAliveTimeout = 5000;
  answerHalfClosedRequests(server);
  await new Promise<void>((ok, fail) => {
    server.once('error', (err) =>
      fail(
        new StrataError('UNAVAILABLE', `cannot listen on ${options.host}:${options.port}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    server.listen(options.port, options.host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const h = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `${schemeOf(options.tls)}://${h.includes(':') ? `[${h}]` : h}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** A --metrics-port value: a port number (0 = any free one), or INVALID_ARGUMENT. */
export function parseMetricsPort(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new StrataError('INVALID_ARGUMENT', `--metrics-port must be a port number 0–65535, got "${value}"`);
  return n;
}
