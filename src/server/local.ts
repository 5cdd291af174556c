import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { publishToken } from '../client/discovery.js';
import { maskedConfig, type ServerConfig } from '../core/config.js';
import { runUntilSignal } from '../core/daemon.js';
import { StrataError, toStrataError } from '../core/errors.js';
import { logger, setLogLevel } from '../core/log.js';
import { processMetrics } from '../core/metrics-endpoint.js';
import { newSealKeyText, parseSealKey } from '../core/seal.js';
import { createDashboard } from '../dashboard/index.js';
import {
  credentialsFrom,
  loadGatewayConfig,
  type S3GatewayServer,
  startS3GatewayServer,
} from '../gateway/s3/server.js';
import { loadSseKeyring } from '../gateway/s3/sse-keys.js';
import { loadConfiguredUsers, UserDirectory } from '../gateway/s3/users.js';
import { EmbeddedRegistry } from '../registry/embedded-registry.js';
import { s3UsersHandler } from '../registry/s3-users-http.js';
import { SealedRegistry } from '../registry/sealed-registry.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { secretOptionsOf } from '../ufs/factory.js';
import { bearerCheck, ensureSecretFile, newToken, requireToken } from './auth.js';
import { isNewDataDir, printWelcome, s3AccessKeys } from './first-run.js';
import { adminHandler, type Handler, listenHttp } from './http-server.js';
import { JOB_FLAGS, JOB_FLAGS_USAGE, jobLimits } from './job-flags.js';
import { jobsHandler } from './jobs-http.js';
import { checkFuseAddon, type LocalFuse, startLocalFuse } from './local-fuse.js';
import { createRpcHandler } from './rpc-server.js';
import { shortCircuitRoutes } from './rpc-short-circuit.js';
import { storageHandler } from './storage-http.js';
import { serverTls, WORKER_FLAGS, workerConfig } from './worker-flags.js';
import { VERSION, WorkerNode } from './worker-node.js';

/** Alluxio's S3 proxy port. */
export const DEFAULT_S3_PORT = 39999;

export const LOCAL_USAGE = `Usage: strata local [options]

Runs the whole system in one process: embedded registry, one worker (page cache + metadata
cache), the worker RPC and the admin HTTP API (/healthz, /metrics, /api/v1/jobs) on one port,
and the job scheduler ("strata job load|free|persist|copy|move|ls|status|cancel|wait"): up to
--max-running jobs run at once, the rest wait PENDING; jobs left RUNNING by a stop are resumed
from their cursor on the next start.
When ready it prints one JSON line: {"ready":true,"role":"local","tokenFile":...,"addresses":{...}}.

Every call but /healthz and /metrics needs its token: created on first start in
<data-dir>/token (mode 0600). The CLI, "strata fuse mount" and "strata gateway s3" run by the
same user on this machine find it by themselves; elsewhere pass --token-file FILE or
STRATA_TOKEN. Mount credentials are sealed at rest with <data-dir>/secrets.key.

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
  --disk-encryption-key-file FILE  seal every disk-tier page with AES-256-GCM under the key in
                           FILE (32 bytes base64url); a page that does not open is refetched
  --s3-sse-key-file FILE   SSE-S3 master key of the S3 gateway (default <data-dir>/s3-sse.key,
                           made on first start; also STRATA_S3_SSE_KEY_FILE, s3.sseKeyFile)
  --s3-kms-key-file FILE   keys for SSE-KMS (aws:kms): one "KEY_ID KEY" per line, the first is
                           the default (also STRATA_S3_KMS_KEY_FILE, s3.kmsKeyFile). A local
                           key file, not a KMS
  --eviction POLICY        LRU (default), LFU or FIFO
  --persist-delay DUR      wait before persisting ASYNC_THROUGH writes (default 0)
  --ttl-check-interval DUR how often TTLs are applied (default 10s)
  --s3-port PORT|off       S3 gateway port, 0 = any free port, off = none (default 39999;
                           0 when --port is 0). Credentials: STRATA_S3_ACCESS_KEY_ID and
                           STRATA_S3_SECRET_ACCESS_KEY, more keys under "s3:" in --config
  --s3-domain DOMAIN       accept virtual-host style requests for <bucket>.DOMAIN
  --s3-region REGION       the S3 gateway's region, which signatures must name (default the
                           config's s3.region, else us-east-1)
  --s3-bucket-root URI     store under which CreateBucket mounts <URI>/<bucket> at /<bucket>
                           when no writable mount covers it (also STRATA_S3_BUCKET_ROOT,
                           s3.bucketRoot in --config; default none: CreateBucket there is 400)
  --token-file FILE        where the token is kept (default <data-dir>/token; created if absent);
                           STRATA_TOKEN sets the token itself instead
  --insecure               no token: anyone who reaches the port may read, write and mount
                           (the old behaviour; logged as a warning)
  --fuse DIR               also mount the namespace at DIR with FUSE (needs the FUSE addon);
                           unmounted when strata local stops
${JOB_FLAGS_USAGE}
  --headers-timeout DUR    a request's head must arrive within this (default 20s), else 408
  --idle-timeout DUR       idle kept-alive connections are closed after this (default 5s)
  --max-connections-per-address N   connections one client address may hold on each port
                           (default 4096); past it requests get 503 (S3 SlowDown, RPC OVERLOADED)
  --max-in-flight N        requests served at once on each port (default 1024), then 503 likewise
  --store-deadline DUR     a store call (or a read until its first byte) not answered within this
                           fails UFS_UNAVAILABLE (default 10s; 0 = none; also STRATA_STORE_DEADLINE)
  --log-level LEVEL        debug, info (default), warn or error (also STRATA_LOG_LEVEL, logLevel:
                           in --config); STRATA_LOG=off silences the JSON logs on stderr
  --tls-cert FILE          PEM certificate (chain) of every port of this process: admin/RPC,
                           registry, dashboard and S3 then speak TLS only and the ready line's
                           addresses read https:// (also STRATA_TLS_CERT, tlsCert: in --config)
  --tls-key FILE           its PEM private key (also STRATA_TLS_KEY, tlsKey:)
  --ca-file FILE           PEM CAs this process trusts as a client besides Node's list and
                           NODE_EXTRA_CA_CERTS (also STRATA_CA_FILE, caFile:)

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
      insecure: { type: 'boolean' },
      's3-region': { type: 'string' },
      's3-sse-key-file': { type: 'string' },
      's3-kms-key-file': { type: 'string' },
      's3-bucket-root': { type: 'string' },
      fuse: { type: 'string' },
      ...JOB_FLAGS,
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
    insecure: values.insecure,
    s3Region: values['s3-region'],
    s3BucketRoot: values['s3-bucket-root'],
  });
  setLogLevel(config.logLevel);
  // --fuse without the addon fails before anything starts, saying how to build it.
  if (values.fuse !== undefined) checkFuseAddon();
  const configFile = values.config ?? process.env.STRATA_CONFIG;
  const firstStart = await isNewDataDir(config.dataDir);
  const local = await startLocal(config, configFile, jobLimits(values), {
    sseKeyFile: values['s3-sse-key-file'],
    kmsKeyFile: values['s3-kms-key-file'],
  });
  processMetrics(local.node.metrics.registry);
  let fuse: LocalFuse | undefined;
  if (values.fuse !== undefined) {
    // The mount is its own process: it trusts the CA of --ca-file (caFile:) through its environment.
    if (config.caFile !== undefined && config.caFile !== '' && !process.env.STRATA_CA_FILE)
      process.env.STRATA_CA_FILE = resolve(config.caFile);
    try {
      fuse = await startLocalFuse({
        dir: values.fuse,
        registry: local.ready.addresses.registry!,
        tokenFile: local.ready.tokenFile ?? undefined,
        logLevel: config.logLevel,
      });
    } catch (err) {
      await local.stop();
      throw err;
    }
  }
  const ready = fuse
    ? { ...local.ready, addresses: { ...local.ready.addresses, fuse: fuse.dir } }
    : local.ready;
  printWelcome({
    firstStart,
    version: ready.version,
    dataDir: ready.dataDir,
    addresses: ready.addresses,
    tokenFile: ready.tokenFile,
    insecure: ready.insecure === true,
    s3AccessKeys: ready.addresses.s3 ? await s3AccessKeys(configFile) : [],
    ...(fuse ? { fuseDir: fuse.dir } : {}),
  });
  // The mount goes first, while the worker still answers what FUSE has in flight.
  return runUntilSignal(ready, async () => {
    await fuse?.stop();
    await local.stop();
  });
}

export interface LocalProcess {
  readonly ready: {
    ready: true;
    role: 'local';
    version: string;
    pid: number;
    dataDir: string;
    /** Where the token is kept (null: STRATA_TOKEN gave it, or --insecure). */
    tokenFile: string | null;
    /** Present (true) only with --insecure. */
    insecure?: true;
    addresses: Record<string, string>;
  };
  readonly node: WorkerNode;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Starts the embedded registry, a worker and the HTTP listener (exported for in-process tests). */
export async function startLocal(
  config: ServerConfig,
  configFile?: string,
  jobs: { readonly maxRunning?: number; readonly retentionMs?: number } = {},
  /** The S3 gateway's encryption key files (--s3-sse-key-file, --s3-kms-key-file). */
  sseFiles: { readonly sseKeyFile?: string | undefined; readonly kmsKeyFile?: string | undefined } = {},
): Promise<LocalProcess> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const auth = await localAuth(config, dataDir);
  // Mount secrets are sealed in the registry with a key kept beside the token.
  const sealKey = parseSealKey(
    (await ensureSecretFile(join(dataDir, 'secrets.key'), newSealKeyText, 'seal key')).value,
  );
  const embedded = new EmbeddedRegistry(join(dataDir, 'registry'));
  await embedded.open();
  const registry = new SealedRegistry(embedded, { key: sealKey, secretOptionsOf });
  const resealed = await registry.sealStored();
  if (resealed > 0) logger('mounts_sealed', { records: resealed });
  const node = new WorkerNode(config, registry);
  // --tls-cert/--tls-key: every port of this process (admin/RPC/registry/dashboard, S3) is https.
  const tls = await serverTls(config);
  const http = await listenHttp(config.host, config.port, {
    tls,
    headersTimeoutMs: config.headersTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    limits: { maxConnectionsPerAddress: config.maxConnectionsPerAddress, maxInFlight: config.maxInFlight },
  });
  const { server, base } = http;
  try {
    await node.start(base, base);
  } catch (err) {
    await http.close(0);
    await node.stop();
    throw err;
  }
  // One embedded scheduler: it campaigns for the role and runs the registry's jobs over the worker.
  const scheduler = new Scheduler(registry, node.fs, {
    id: node.id,
    pollMs: 200,
    ...jobs,
    // strata_jobs, strata_job_* and strata_scheduler_leader beside the worker's series on /metrics.
    metrics: node.metrics.registry,
  });
  const configHandler: Handler = async (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/api/v1/config') return false;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(maskedConfig(config)));
    return true;
  };
  // The dashboard's page and views answer loopback callers; its actions check the token themselves.
  const dashboard = createDashboard({
    role: 'local',
    workerId: node.id,
    fs: node.fs,
    metrics: node.metrics.registry,
    updateGauges: () => node.fs.updateGauges(),
    jobsAddress: base,
    token: auth.token,
    authorize: bearerCheck(auth.token),
    server,
  });
  // /healthz and /metrics answer anyone; everything after the gate needs the token.
  http.serve([
    adminHandler(node, 'local', VERSION),
    dashboard.handle,
    ...(auth.token === undefined ? [] : [requireToken(auth.token)]),
    configHandler,
    storageHandler(node),
    s3UsersHandler(registry),
    jobsHandler(
      registry,
      node.fs,
      () => scheduler.wake(),
      (id) => scheduler.cancelled(id),
    ),
    (req, res) => embedded.handle(req, res),
    createRpcHandler(node.fs, {
      ...(auth.token === undefined ? {} : { token: auth.token }),
      metrics: node.metrics.registry,
      routes: shortCircuitRoutes(node.fs),
    }),
  ]);
  if (auth.token === undefined) {
    logger('insecure', {
      address: base,
      warning:
        'started with --insecure: no token, anyone who can reach this port may read and write every file, mount any store and read the configuration',
    });
  }
  const s3Port = config.s3Port ?? (config.port === 0 ? 0 : DEFAULT_S3_PORT);
  let s3: S3GatewayServer | undefined;
  // S3 users: the config file's and the registry's (`strata s3 user …`), watched.
  let s3Users: UserDirectory | undefined;
  if (s3Port >= 0) {
    const gatewayFile = await loadGatewayConfig(configFile);
    s3Users = new UserDirectory({ registry, configured: await loadConfiguredUsers(configFile) });
    await s3Users.start();
    const credentials = credentialsFrom(process.env, gatewayFile);
    const region = config.s3Region ?? gatewayFile.region;
    const bucketRoot = config.s3BucketRoot ?? gatewayFile.bucketRoot;
    if (credentials.size === 0)
      logger('s3_no_credentials', { hint: 'set STRATA_S3_ACCESS_KEY_ID and STRATA_S3_SECRET_ACCESS_KEY' });
    try {
      // SSE-S3's master key: <dataDir>/s3-sse.key unless given, made (0600) on first start.
      // In the try: a bad key file stops what started so far (the process exits, not hangs).
      const sse = await loadSseKeyring({
        sseKeyFile:
          sseFiles.sseKeyFile ??
          process.env.STRATA_S3_SSE_KEY_FILE ??
          gatewayFile.sseKeyFile ??
          join(resolve(config.dataDir), 's3-sse.key'),
        kmsKeyFile: sseFiles.kmsKeyFile ?? process.env.STRATA_S3_KMS_KEY_FILE ?? gatewayFile.kmsKeyFile,
        create: true,
      });
      s3 = await startS3GatewayServer(node.fs, {
        credentials,
        sse,
        users: s3Users,
        host: config.host,
        port: s3Port,
        tls,
        ...(config.s3Domain === undefined ? {} : { domain: config.s3Domain }),
        ...(region === undefined ? {} : { region }),
        ...(bucketRoot === undefined ? {} : { bucketRoot }),
        anonymousBuckets: gatewayFile.anonymousReadBuckets,
        limits: {
          maxConnectionsPerAddress: config.maxConnectionsPerAddress,
          maxInFlight: config.maxInFlight,
        },
        metrics: node.metrics.registry,
        onError: (err, req, requestId) =>
          logger('s3_error', { url: req.url, error: toStrataError(err).message, requestId }),
      });
    } catch (err) {
      s3Users.close();
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
  dashboard.lease = registration;
  // Clients of this user on this machine find the token through this record (src/client/discovery.ts).
  let withdraw: (() => Promise<void>) | undefined;
  if (auth.tokenFile !== undefined) {
    try {
      const published = await publishToken(base, auth.tokenFile);
      withdraw = published.withdraw;
    } catch (err) {
      logger('token_discovery_error', { error: toStrataError(err).message, tokenFile: auth.tokenFile });
    }
  }
  await scheduler.start();
  // Listed like a cluster's schedulers (strata report), with the admin address of this port.
  const schedulerMember = await registry.registerMember('scheduler', {
    id: scheduler.id,
    address: base,
    version: VERSION,
    startedAtMs: Date.now(),
  });
  logger('ready', {
    addresses,
    dataDir,
    tokenFile: auth.tokenFile ?? null,
    ...(auth.token === undefined ? { insecure: true } : {}),
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
      tokenFile: auth.tokenFile ?? null,
      ...(auth.token === undefined ? { insecure: true as const } : {}),
      addresses,
    },
    node,
    server,
    stop() {
      stopping ??= (async () => {
        await withdraw?.().catch(() => undefined);
        // Engines stop between batches' calls; their jobs stay RUNNING, resumed on the next start.
        await scheduler.stop();
        await schedulerMember.close();
        await registration.close();
        await s3?.close();
        s3Users?.close();
        await http.close();
        await node.stop();
        await registry.close();
      })();
      return stopping;
    },
  };
}

/**
 * The token of `strata local`: none with --insecure; STRATA_TOKEN (or `token:` in the YAML) as
 * given; else the one in the token file, created on first start.
 */
async function localAuth(
  config: ServerConfig,
  dataDir: string,
): Promise<{ token: string | undefined; tokenFile: string | undefined }> {
  if (config.insecure) {
    if (config.token !== undefined || config.tokenFile !== undefined)
      throw new StrataError(
        'INVALID_ARGUMENT',
        '--insecure runs without a token: drop STRATA_TOKEN / --token-file',
      );
    return { token: undefined, tokenFile: undefined };
  }
  if (config.token !== undefined) {
    if (config.token.trim() === '') throw new StrataError('INVALID_ARGUMENT', 'STRATA_TOKEN is empty');
    return { token: config.token, tokenFile: undefined };
  }
  const tokenFile = resolve(config.tokenFile ?? join(dataDir, 'token'));
  const { value } = await ensureSecretFile(tokenFile, newToken, 'token');
  return { token: value, tokenFile };
}
