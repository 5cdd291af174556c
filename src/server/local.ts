import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { maskedConfig, type ServerConfig } from '../core/config.js';
import { runUntilSignal } from '../core/daemon.js';
import { toStrataError } from '../core/errors.js';
import { logger } from '../core/log.js';
import {
  credentialsFrom,
  loadGatewayConfig,
  type S3GatewayServer,
  startS3GatewayServer,
} from '../gateway/s3/server.js';
import { EmbeddedRegistry } from '../registry/embedded-registry.js';
import { adminHandler, type Handler, listenHttp } from './http-server.js';
import { createRpcHandler } from './rpc-server.js';
import { WORKER_FLAGS, workerConfig } from './worker-flags.js';
import { VERSION, WorkerNode } from './worker-node.js';

/** Alluxio's S3 proxy port. */
export const DEFAULT_S3_PORT = 39999;

export const LOCAL_USAGE = `Usage: strata local [options]

Runs the whole system in one process: embedded registry, one worker (page cache + metadata
cache), the worker RPC and the admin HTTP API (/healthz, /metrics) on one port.
When ready it prints one JSON line: {"ready":true,"role":"local","addresses":{...}}.

Options:
  --data-dir DIR           metadata, pages, staging and registry (default ./.strata)
  --mount PATH=URI         mount a store (repeatable), e.g. --mount /data=file:///srv/data
                           (default when nothing is mounted: / on <data-dir>/ufs)
  --host HOST              listen address (default 127.0.0.1)
  --port PORT              listen port, 0 = any free port (default 19998)
  --config FILE            YAML configuration file (also STRATA_CONFIG)
  --page-size SIZE         page size (default 1MiB)
  --memory-capacity SIZE   memory tier quota (default 256MiB)
  --disk-capacity SIZE     disk tier quota, 0 disables it (default 4GiB)
  --eviction POLICY        LRU (default), LFU or FIFO
  --persist-delay DUR      wait before persisting ASYNC_THROUGH writes (default 0)
  --ttl-check-interval DUR how often TTLs are applied (default 10s)
  --s3-port PORT|off       S3 gateway port, 0 = any free port, off = none (default 39999;
                           0 when --port is 0). Credentials: STRATA_S3_ACCESS_KEY_ID and
                           STRATA_S3_SECRET_ACCESS_KEY, more keys under "s3:" in --config
  --s3-domain DOMAIN       accept virtual-host style requests for <bucket>.DOMAIN
  --s3-region REGION       the S3 gateway's region, which signatures must name (default the
                           config's s3.region, else us-east-1)

Examples:
  strata local --mount /data=file://$PWD/data --port 0
  strata local --data-dir /var/lib/strata --mount /sales=s3://bucket/sales
`;

/** Entry point of `strata local`; resolves with the exit code after SIGTERM/SIGINT. */
export async function runLocal(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...WORKER_FLAGS,
      mount: { type: 'string', multiple: true },
      's3-port': { type: 'string' },
      's3-domain': { type: 'string' },
      's3-region': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  const config = await workerConfig(values, {
    mounts: values.mount,
    s3Port: values['s3-port'],
    s3Domain: values['s3-domain'],
    s3Region: values['s3-region'],
  });
  const local = await startLocal(config, values.config ?? process.env.STRATA_CONFIG);
  return runUntilSignal(local.ready, () => local.stop());
}

export interface LocalProcess {
  readonly ready: {
    ready: true;
    role: 'local';
    version: string;
    pid: number;
    dataDir: string;
    addresses: Record<string, string>;
  };
  readonly node: WorkerNode;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Starts the embedded registry, a worker and the HTTP listener (exported for in-process tests). */
export async function startLocal(config: ServerConfig, configFile?: string): Promise<LocalProcess> {
  const dataDir = resolve(config.dataDir);
  const registry = new EmbeddedRegistry(join(dataDir, 'registry'));
  await registry.open();
  const node = new WorkerNode(config, registry);
  const http = await listenHttp(config.host, config.port);
  const { server, base } = http;
  try {
    await node.start(base, base);
  } catch (err) {
    await http.close(0);
    await node.stop();
    throw err;
  }
  const configHandler: Handler = async (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/api/v1/config') return false;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(maskedConfig(config)));
    return true;
  };
  http.serve([
    adminHandler(node, 'local', VERSION),
    configHandler,
    (req, res) => registry.handle(req, res),
    createRpcHandler(node.fs, config.token === undefined ? {} : { token: config.token }),
  ]);
  const s3Port = config.s3Port ?? (config.port === 0 ? 0 : DEFAULT_S3_PORT);
  let s3: S3GatewayServer | undefined;
  if (s3Port >= 0) {
    const gatewayFile = await loadGatewayConfig(configFile);
    const credentials = credentialsFrom(process.env, gatewayFile);
    const region = config.s3Region ?? gatewayFile.region;
    if (credentials.size === 0)
      logger('s3_no_credentials', { hint: 'set STRATA_S3_ACCESS_KEY_ID and STRATA_S3_SECRET_ACCESS_KEY' });
    try {
      s3 = await startS3GatewayServer(node.fs, {
        credentials,
        host: config.host,
        port: s3Port,
        ...(config.s3Domain === undefined ? {} : { domain: config.s3Domain }),
        ...(region === undefined ? {} : { region }),
        onError: (err, req) => logger('s3_error', { url: req.url, error: toStrataError(err).message }),
      });
    } catch (err) {
      await http.close(0);
      await node.stop();
      throw err;
    }
  }
  const addresses: Record<string, string> = {
    registry: base,
    admin: base,
    worker: base,
    ...(s3 ? { s3: s3.url } : {}),
  };
  const registration = await registry.registerWorker({
    id: node.id,
    address: base,
    capacityBytes: config.memoryCapacity + config.diskCapacity,
    state: 'ACTIVE',
    version: VERSION,
    startedAtMs: Date.now(),
  });
  logger('ready', {
    addresses,
    dataDir,
    config: maskedConfig(config),
  });
  let stopping: Promise<void> | undefined;
  return {
    ready: {
      ready: true,
      role: 'local',
      version: VERSION,
      pid: process.pid,
      dataDir,
      addresses,
    },
    node,
    server,
    stop() {
      stopping ??= (async () => {
        await registration.close();
        await s3?.close();
        await http.close();
        await node.stop();
        await registry.close();
      })();
      return stopping;
    },
  };
}
