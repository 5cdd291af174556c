import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { Registry as MetricsRegistry } from 'prom-client';
import { connect } from '../../client/connect.js';
import type { StrataFileSystem } from '../../client/types.js';
import { closeServer } from '../../core/close-server.js';
import { bucketRootUri, readYamlFile } from '../../core/config.js';
import { runUntilSignal } from '../../core/daemon.js';
import { StrataError } from '../../core/errors.js';
import { answerHalfClosedRequests } from '../../core/half-open.js';
import {
  isLingering,
  ListenerGuard,
  type ListenerLimitOptions,
  type ListenerLimits,
  lingerClose,
  lingerIfUnread,
  RETRY_AFTER_SECONDS,
  refusalMessage,
} from '../../core/listener-guard.js';
import { logger, logLevelFrom, setLogLevel } from '../../core/log.js';
import {
  type MetricsEndpoint,
  parseMetricsPort,
  processMetrics,
  serveMetrics,
} from '../../core/metrics-endpoint.js';
import { type ServerTls, schemeOf } from '../../core/tls-options.js';
import { S3Error } from './errors.js';
import { createS3Gateway, type S3GatewayOptions } from './gateway.js';
import { openGatewayUsers } from './gateway-users.js';
import { newRequestId, S3Response, sendError } from './http.js';
import { gatewayTimeouts, gatewayTls, positiveInt } from './listener-flags.js';
import { loadSseKeyring } from './sse-keys.js';

/** Header section limit (S3 allows 8 KiB of user metadata; 64 KiB covers any real client). */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * How long the gateway waits on a client (docs/s3-gateway.md, "Connections and timeouts"). None
 * bounds a whole request: an upload or download of any length goes on while bytes move.
 */
export interface GatewayTimeouts {
  /** The header section must be complete this long after the connection (or request) began. */
  readonly headersMs: number;
  /** An idle keep-alive connection (between requests) is closed after this. */
  readonly keepAliveMs: number;
  /**
   * A request whose client sends none of the body it owes, or takes none of the answer, for this
   * long is cut (400 RequestTimeout when nothing was answered yet). Time the gateway itself
   * spends (a store call, a multipart Complete) does not count.
   */
  readonly idleMs: number;
  /** How often header deadlines are checked (node's connectionsCheckingInterval). */
  readonly checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: GatewayTimeouts = {
  headersMs: 60_000,
  keepAliveMs: 60_000,
  idleMs: 120_000,
  checkIntervalMs: 5_000,
};

const IDLE_MESSAGE =
  'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.';

/**
 * A socket that went `idleMs` without a byte either way: cut when the client is the one that
 * stalled — it owes body bytes the gateway is reading (the socket is not paused by backpressure),
 * or it leaves answer bytes unread; kept (timer re-armed) while the gateway itself is working.
 */
function onIdle(
  socket: Socket,
  active: { req: IncomingMessage; res: S3Response } | undefined,
  idleMs: number,
): void {
  if (!active) {
    socket.destroy(); // between requests: the keep-alive timeout
    return;
  }
  const { req, res } = active;
  const owesBody = !req.complete && !socket.isPaused();
  const unread = !res.writableFinished && (socket.writableLength > 0 || res.writableNeedDrain);
  if (!owesBody && !unread) {
    socket.setTimeout(idleMs);
    return;
  }
  if (res.headersSent || !socket.writable) {
    socket.destroy();
    return;
  }
  res.setHeader('connection', 'close');
  res.once('finish', () => socket.destroy());
  const path = (req.url ?? '/').split('?')[0]!;
  sendError(req, res, new S3Error('RequestTimeout', IDLE_MESSAGE), path, newRequestId());
}

/**
 * 503 SlowDown for a request over a listener bound, answered before any of its body is read: the
 * connection is kept when the request is complete, else closed once the answer is out.
 */
function slowDown(
  req: IncomingMessage,
  res: S3Response,
  why: 'connections' | 'in-flight',
  limits: ListenerLimits,
): void {
  const requestId = newRequestId();
  res.common = [
    'x-amz-request-id',
    requestId,
    'x-amz-id-2',
    Buffer.from(requestId).toString('base64'),
    'server',
    'Strata',
  ];
  res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
  if (why === 'connections' || !req.complete) {
    res.setHeader('connection', 'close');
    res.once('finish', () => lingerClose(req.socket));
  }
  const path = (req.url ?? '/').split('?')[0]!;
  sendError(req, res, new S3Error('SlowDown', refusalMessage(why, limits)), path, requestId);
}

export const GATEWAY_S3_USAGE = `Usage: strata gateway s3 [options]

Serves the Strata namespace over the S3 REST API: buckets are top-level directories, objects the
files below them. Requests must be signed (AWS Signature V4) with the root key, a config file
user's key or, over an etcd:// registry, a key of the cluster's users (strata s3 user add, taken
and dropped without a restart); unsigned requests get what bucket policies and ACLs allow.
When ready it prints one JSON line: {"ready":true,"role":"gateway-s3","addresses":{"s3":"http://…"}}.

Options:
  --registry URI   the Strata registry (also STRATA_REGISTRY), e.g. http://127.0.0.1:19998
  --host HOST      listen address (default 127.0.0.1)
  --port PORT      listen port, 0 = any free port (default 9000)
  --domain D       also accept virtual-host style requests (<bucket>.D)
  --region R       region reported to clients (default us-east-1)
  --bucket-root URI  store under which CreateBucket mounts <URI>/<bucket> at /<bucket> when no
                   writable mount covers it (also STRATA_S3_BUCKET_ROOT, s3.bucketRoot in
                   --config; default none: CreateBucket there is 400 InvalidRequest)
  --config FILE    YAML: s3: { keys: [{accessKeyId, secretAccessKey}], users: [{name, keys}],
                   anonymousReadBuckets: [..], domain, region, bucketRoot }, and logLevel
  --metrics-port PORT  serve /metrics and /healthz on --host:PORT (0 = any free port; default
                   none), named addresses.admin in the ready line
  --headers-timeout DUR  a request's header section must arrive within this (default 60s): a
                   connection that sent nothing is closed, a half-sent head gets 400 RequestTimeout
  --keep-alive-timeout DUR  idle kept-alive connections are closed after this (default 60s)
  --idle-timeout DUR  a request whose client sends or reads nothing for this long is cut with
                   400 RequestTimeout (default 120s)
  --max-connections-per-address N  connections one client address may hold (default 4096;
                   also STRATA_MAX_CONNECTIONS_PER_ADDRESS); past it requests get 503 SlowDown
  --max-in-flight N  requests served at once (default 1024; also STRATA_MAX_IN_FLIGHT), then 503
                   SlowDown with Retry-After instead of a queue
  --log-level LEVEL  debug, info (default), warn or error (also STRATA_LOG_LEVEL, logLevel: in
                   --config); debug logs one line per request with its x-amz-request-id
  --sse-key-file FILE  SSE-S3 master key (32 bytes base64url; also STRATA_S3_SSE_KEY_FILE,
                   s3.sseKeyFile); without it, x-amz-server-side-encryption: AES256 is 501
  --kms-key-file FILE  keys for aws:kms, one "KEY_ID KEY" per line (also STRATA_S3_KMS_KEY_FILE,
                   s3.kmsKeyFile); the first is the default. A local key file, NOT a KMS
  --tls-cert FILE, --tls-key FILE  PEM certificate and key: the S3 port and --metrics-port speak
                   TLS only and the ready line reads https:// (also STRATA_TLS_CERT,
                   STRATA_TLS_KEY, tlsCert/tlsKey: in --config)
  --ca-file FILE   PEM CAs trusted toward the workers and an etcds:// registry, besides Node's
                   list and NODE_EXTRA_CA_CERTS (also STRATA_CA_FILE, caFile:)
  --etcd-cert FILE, --etcd-key FILE  client certificate and key for an etcds:// registry with
                   client-cert auth (also STRATA_ETCD_CERT, STRATA_ETCD_KEY)

Environment:
  STRATA_S3_ACCESS_KEY_ID, STRATA_S3_SECRET_ACCESS_KEY   the root credentials

Example:
  STRATA_S3_ACCESS_KEY_ID=admin STRATA_S3_SECRET_ACCESS_KEY=secret123 \\
    strata gateway s3 --registry http://127.0.0.1:19998 --port 0
`;

export interface GatewayFileConfig {
  readonly keys: { accessKeyId: string; secretAccessKey: string }[];
  readonly anonymousReadBuckets: string[];
  readonly domain?: string;
  readonly region?: string;
  /** s3.bucketRoot: the store new buckets are mounted from (bucket-root.ts). */
  readonly bucketRoot?: string;
  /** The file's top-level `logLevel`, if any. */
  readonly logLevel?: string;
  /** s3.sseKeyFile: the SSE-S3 master key file (sse-keys.ts). */
  readonly sseKeyFile?: string;
  /** s3.kmsKeyFile: the "KMS" key file (not a KMS: sse-keys.ts). */
  readonly kmsKeyFile?: string;
  /** Top-level tlsCert / tlsKey / caFile, as every server reads them (docs/reliability.md, "TLS"). */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly caFile?: string;
}

/** Reads the `s3:` section of a YAML configuration file. */
export async function loadGatewayConfig(file: string | undefined): Promise<GatewayFileConfig> {
  if (!file) return { keys: [], anonymousReadBuckets: [] };
  const parsed = await readYamlFile(file);
  const level = (parsed as { logLevel?: unknown } | null)?.logLevel;
  const top = (parsed ?? {}) as Record<string, unknown>;
  const logLevel = {
    ...(typeof level === 'string' ? { logLevel: level } : {}),
    ...(typeof top.tlsCert === 'string' ? { tlsCert: top.tlsCert } : {}),
    ...(typeof top.tlsKey === 'string' ? { tlsKey: top.tlsKey } : {}),
    ...(typeof top.caFile === 'string' ? { caFile: top.caFile } : {}),
  };
  const s3 = (parsed as { s3?: unknown } | null)?.s3 as Record<string, unknown> | undefined;
  if (s3 === undefined) return { keys: [], anonymousReadBuckets: [], ...logLevel };
  const keys: { accessKeyId: string; secretAccessKey: string }[] = [];
  for (const k of (Array.isArray(s3.keys) ? s3.keys : []) as unknown[]) {
    const o = k as Record<string, unknown>;
    if (typeof o?.accessKeyId !== 'string' || typeof o.secretAccessKey !== 'string') {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${file}: every s3.keys entry needs accessKeyId and secretAccessKey strings`,
      );
    }
    keys.push({ accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey });
  }
  const anon = Array.isArray(s3.anonymousReadBuckets)
    ? s3.anonymousReadBuckets.filter((b): b is string => typeof b === 'string')
    : [];
  return {
    keys,
    anonymousReadBuckets: anon,
    ...(typeof s3.domain === 'string' ? { domain: s3.domain } : {}),
    ...(typeof s3.region === 'string' ? { region: s3.region } : {}),
    ...(typeof s3.sseKeyFile === 'string' ? { sseKeyFile: s3.sseKeyFile } : {}),
    ...(typeof s3.kmsKeyFile === 'string' ? { kmsKeyFile: s3.kmsKeyFile } : {}),
    ...(typeof s3.bucketRoot === 'string' ? { bucketRoot: bucketRootUri(s3.bucketRoot) } : {}),
    ...logLevel,
  };
}

/** Root key from STRATA_S3_ACCESS_KEY_ID/STRATA_S3_SECRET_ACCESS_KEY plus the file's keys. */
export function credentialsFrom(env: NodeJS.ProcessEnv, file: GatewayFileConfig): Map<string, string> {
  const map = new Map<string, string>();
  for (const k of file.keys) map.set(k.accessKeyId, k.secretAccessKey);
  const id = env.STRATA_S3_ACCESS_KEY_ID;
  const secret = env.STRATA_S3_SECRET_ACCESS_KEY;
  if (id && secret) map.set(id, secret);
  return map;
}

export interface S3GatewayServer {
  readonly url: string;
  readonly server: Server<typeof IncomingMessage, typeof S3Response>;
  close(): Promise<void>;
}

/** Listens with the gateway on its own port (used by `strata gateway s3` and `strata local`). */
export async function startS3GatewayServer(
  fs: StrataFileSystem,
  options: S3GatewayOptions & {
    host?: string;
    port?: number;
    timeouts?: Partial<GatewayTimeouts>;
    /** Connections per client address and requests in flight (docs/s3-gateway.md, "Limits"). */
    limits?: ListenerLimitOptions;
    /** Certificate and key: S3 over TLS only (https://). */
    tls?: ServerTls | undefined;
  },
): Promise<S3GatewayServer> {
  const gateway = createS3Gateway(fs, options);
  const t: GatewayTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const httpOptions = {
    keepAlive: true,
    // No bound on a whole request (node's requestTimeout would cut a long upload); a stalled
    // client is found by idleMs below. headersTimeout is explicit: by default node takes it as
    // min(60 s, requestTimeout), and a requestTimeout of 0 switched it off as well.
    requestTimeout: 0,
    headersTimeout: t.headersMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: t.checkIntervalMs,
    maxHeaderSize: MAX_HEADER_BYTES,
    ServerResponse: S3Response,
  };
  // node:https has http's events and methods (typed as http's here); its handshake is bounded too.
  const server =
    options.tls === undefined
      ? createServer<typeof IncomingMessage, typeof S3Response>(httpOptions)
      : (createHttpsServer<typeof IncomingMessage, typeof S3Response>({
          ...httpOptions,
          cert: options.tls.cert,
          key: options.tls.key,
          handshakeTimeout: t.headersMs,
        }) as unknown as Server<typeof IncomingMessage, typeof S3Response>);
  // Socket inactivity while a request is in flight (node switches to keepAliveTimeout between
  // requests, and back); every expiry comes to onIdle, which decides.
  server.timeout = t.idleMs;
  answerHalfClosedRequests(server);
  const inFlight = new WeakMap<Socket, { req: IncomingMessage; res: S3Response }>();
  server.on('timeout', (socket: Socket) => onIdle(socket, inFlight.get(socket), t.idleMs));
  const guard = new ListenerGuard(server, options.limits);
  const onRequest = (req: IncomingMessage, res: S3Response) => {
    const socket = req.socket;
    inFlight.set(socket, { req, res });
    res.once('close', () => {
      if (inFlight.get(socket)?.res === res) inFlight.delete(socket);
    });
    res.once('finish', () => lingerIfUnread(socket, req.complete));
    const refused = guard.admit(socket, res);
    if (refused !== undefined) return slowDown(req, res, refused, guard.limits);
    gateway.handle(req, res).catch((err) => {
      // handle() answers every error itself; this is the last guard against a crash.
      process.stderr.write(`s3 gateway: ${(err as Error).message}\n`);
      res.destroy();
    });
  };
  server.on('request', onRequest);
  // "Expect: 100-continue": the gateway sends 100 itself once the request is authorised, so a
  // refused upload is answered (403, 404…) before the client sends its body.
  server.on('checkContinue', onRequest);
  // Any other expectation is ignored (RFC 9110 allows it) rather than node's bare 417.
  server.on('checkExpectation', onRequest);
  // CONNECT is no S3 method: an S3 error, not a connection node drops unanswered.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    const requestId = newRequestId();
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message><RequestId>${requestId}</RequestId></Error>`;
    socket.write(
      `HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\nx-amz-request-id: ${requestId}\r\ncontent-type: application/xml\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    lingerClose(socket);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A connection that never sent a byte gets no answer it did not ask for, only closed; one
    // whose request was answered already (a bad body after the answer) gets no second answer.
    if (isLingering(socket)) return;
    if (!socket.writable || socket.bytesRead === 0) return socket.destroy();
    const active = inFlight.get(socket)?.res;
    if (active?.headersSent) {
      // The request was answered (its body is what is bad): let the answer finish, then close.
      if (active.writableFinished) lingerClose(socket);
      else active.once('finish', () => lingerClose(socket));
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const requestId = newRequestId();
    const body = timeout
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestTimeout</Code><Message>${IDLE_MESSAGE}</Message><RequestId>${requestId}</RequestId></Error>`
      : '';
    socket.write(
      `HTTP/1.1 ${code} ${code === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\nx-amz-request-id: ${requestId}\r\n${timeout ? 'content-type: application/xml\r\n' : ''}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // The rest of what the client sent is read and dropped, so the answer is not lost to a reset.
    lingerClose(socket);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', (err) =>
      fail(
        new StrataError('UNAVAILABLE', `cannot listen on ${host}:${options.port ?? 9000}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    server.listen(options.port ?? 9000, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `${schemeOf(options.tls)}://${shown}:${port}`,
    server,
    close: () => closeServer(server, 2000),
  };
}

/** Entry point of `strata gateway s3`; resolves with the exit code after SIGTERM/SIGINT. */
export async function runS3Gateway(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      registry: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      domain: { type: 'string' },
      region: { type: 'string' },
      'bucket-root': { type: 'string' },
      config: { type: 'string' },
      'metrics-port': { type: 'string' },
      'log-level': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'sse-key-file': { type: 'string' },
      'kms-key-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'ca-file': { type: 'string' },
      'etcd-cert': { type: 'string' },
      'etcd-key': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      'idle-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(GATEWAY_S3_USAGE);
    return 0;
  }
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : parseMetricsPort(values['metrics-port']);
  const registry = values.registry ?? process.env.STRATA_REGISTRY;
  if (!registry)
    throw new StrataError('INVALID_ARGUMENT', 'strata gateway s3 needs --registry URI (or STRATA_REGISTRY)');
  const port = Number(values.port ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new StrataError('INVALID_ARGUMENT', `bad --port ${values.port}`);
  const configFile = values.config ?? process.env.STRATA_CONFIG;
  const file = await loadGatewayConfig(configFile);
  setLogLevel(logLevelFrom(values['log-level'], process.env, file.logLevel));
  const credentials = credentialsFrom(process.env, file);
  const sse = await loadSseKeyring({
    sseKeyFile: values['sse-key-file'] ?? process.env.STRATA_S3_SSE_KEY_FILE ?? file.sseKeyFile,
    kmsKeyFile: values['kms-key-file'] ?? process.env.STRATA_S3_KMS_KEY_FILE ?? file.kmsKeyFile,
  });
  if (credentials.size === 0) {
    process.stderr.write(
      'strata gateway s3: no root access key configured (set STRATA_S3_ACCESS_KEY_ID and STRATA_S3_SECRET_ACCESS_KEY); only users (strata s3 user add) and anonymous reads will work\n',
    );
  }
  // The CAs and etcd client certificate (before connect), then this port's certificate.
  const tls = await gatewayTls(values, file);
  const fs = await connect(registry);
  // Users of the cluster (etcd registry) and of the config file, beside the root keys.
  const users = await openGatewayUsers(registry, configFile).catch(async (err: unknown) => {
    await fs.close();
    throw err;
  });
  const domain = values.domain ?? file.domain;
  const region = values.region ?? file.region;
  const rootFlag = values['bucket-root'] ?? process.env.STRATA_S3_BUCKET_ROOT;
  const bucketRoot = rootFlag === undefined || rootFlag === '' ? file.bucketRoot : bucketRootUri(rootFlag);
  const metrics = new MetricsRegistry();
  let endpoint: MetricsEndpoint | undefined;
  if (metricsPort !== undefined) {
    processMetrics(metrics);
    endpoint = await serveMetrics(metrics, {
      host: values.host ?? '127.0.0.1',
      port: metricsPort,
      role: 'gateway-s3',
      tls,
    });
  }
  const gw = await startS3GatewayServer(fs, {
    credentials,
    sse,
    users: users.users,
    anonymousBuckets: file.anonymousReadBuckets,
    ...(domain !== undefined ? { domain } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(bucketRoot !== undefined ? { bucketRoot } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    port,
    tls,
    timeouts: gatewayTimeouts(values),
    limits: {
      maxConnectionsPerAddress: positiveInt(
        values['max-connections-per-address'] ?? process.env.STRATA_MAX_CONNECTIONS_PER_ADDRESS,
        '--max-connections-per-address',
      ),
      maxInFlight: positiveInt(
        values['max-in-flight'] ?? process.env.STRATA_MAX_IN_FLIGHT,
        '--max-in-flight',
      ),
    },
    ...(endpoint ? { metrics } : {}),
    onError: (err, req, requestId) =>
      logger('s3_error', { method: req.method, url: req.url, error: (err as Error).message, requestId }),
  });
  return runUntilSignal(
    {
      ready: true,
      role: 'gateway-s3',
      pid: process.pid,
      addresses: { s3: gw.url, ...(endpoint ? { admin: endpoint.url } : {}) },
    },
    async () => {
      await gw.close();
      await endpoint?.close();
      await users.close();
      await fs.close();
    },
  );
}
