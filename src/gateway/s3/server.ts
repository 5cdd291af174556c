import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { connect } from '../../client/connect.js';
import type { StrataFileSystem } from '../../client/types.js';
import { readYamlFile } from '../../core/config.js';
import { runUntilSignal } from '../../core/daemon.js';
import { StrataError } from '../../core/errors.js';
import { createS3Gateway, type S3GatewayOptions } from './gateway.js';
import { newRequestId, S3Response } from './http.js';

/** Header section limit (S3 allows 8 KiB of user metadata; 64 KiB covers any real client). */
const MAX_HEADER_BYTES = 64 * 1024;

export const GATEWAY_S3_USAGE = `Usage: strata gateway s3 [options]

Serves the Strata namespace over the S3 REST API: buckets are top-level directories, objects the
files below them. Requests must be signed (AWS Signature V4) with a configured key, except
GET/HEAD on buckets with anonymous read enabled.
When ready it prints one JSON line: {"ready":true,"role":"gateway-s3","addresses":{"s3":"http://…"}}.

Options:
  --registry URI   the Strata registry (also STRATA_REGISTRY), e.g. http://127.0.0.1:19998
  --host HOST      listen address (default 127.0.0.1)
  --port PORT      listen port, 0 = any free port (default 9000)
  --domain D       also accept virtual-host style requests (<bucket>.D)
  --region R       region reported to clients (default us-east-1)
  --config FILE    YAML: s3: { keys: [{accessKeyId, secretAccessKey}], anonymousReadBuckets: [..],
                   domain, region }

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
}

/** Reads the `s3:` section of a YAML configuration file. */
export async function loadGatewayConfig(file: string | undefined): Promise<GatewayFileConfig> {
  if (!file) return { keys: [], anonymousReadBuckets: [] };
  const parsed = await readYamlFile(file);
  const s3 = (parsed as { s3?: unknown } | null)?.s3 as Record<string, unknown> | undefined;
  if (s3 === undefined) return { keys: [], anonymousReadBuckets: [] };
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
  options: S3GatewayOptions & { host?: string; port?: number },
): Promise<S3GatewayServer> {
  const gateway = createS3Gateway(fs, options);
  const server = createServer<typeof IncomingMessage, typeof S3Response>({
    keepAlive: true,
    requestTimeout: 0,
    maxHeaderSize: MAX_HEADER_BYTES,
    ServerResponse: S3Response,
  });
  const onRequest = (req: IncomingMessage, res: S3Response) => {
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(
      `HTTP/1.1 ${code} ${code === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\nx-amz-request-id: ${newRequestId()}\r\ncontent-length: 0\r\n\r\n`,
    );
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
    url: `http://${shown}:${port}`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
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
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(GATEWAY_S3_USAGE);
    return 0;
  }
  const registry = values.registry ?? process.env.STRATA_REGISTRY;
  if (!registry)
    throw new StrataError('INVALID_ARGUMENT', 'strata gateway s3 needs --registry URI (or STRATA_REGISTRY)');
  const port = Number(values.port ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new StrataError('INVALID_ARGUMENT', `bad --port ${values.port}`);
  const file = await loadGatewayConfig(values.config ?? process.env.STRATA_CONFIG);
  const credentials = credentialsFrom(process.env, file);
  if (credentials.size === 0) {
    process.stderr.write(
      'strata gateway s3: no access keys configured (set STRATA_S3_ACCESS_KEY_ID and STRATA_S3_SECRET_ACCESS_KEY); only anonymous reads will work\n',
    );
  }
  const fs = await connect(registry);
  const domain = values.domain ?? file.domain;
  const region = values.region ?? file.region;
  const gw = await startS3GatewayServer(fs, {
    credentials,
    anonymousBuckets: file.anonymousReadBuckets,
    ...(domain !== undefined ? { domain } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    port,
    onError: (err, req) =>
      process.stderr.write(
        `${JSON.stringify({ msg: 's3_error', method: req.method, url: req.url, error: (err as Error).message })}\n`,
      ),
  });
  return runUntilSignal(
    { ready: true, role: 'gateway-s3', pid: process.pid, addresses: { s3: gw.url } },
    async () => {
      await gw.close();
      await fs.close();
    },
  );
}
