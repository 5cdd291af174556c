import { parseArgs } from 'node:util';
import { maskedConfig, type ServerConfig } from '../core/config.js';
import { runUntilSignal } from '../core/daemon.js';
import { StrataError, toStrataError } from '../core/errors.js';
import { logger, setLogLevel } from '../core/log.js';
import { processMetrics } from '../core/metrics-endpoint.js';
import { createDashboard } from '../dashboard/index.js';
import type { WorkerRegistration } from '../registry/registry.js';
import { bearerCheck, requireToken } from './auth.js';
import { openClusterRegistry } from './cluster-registry.js';
import { adminHandler, listenHttp } from './http-server.js';
import { createRpcHandler } from './rpc-server.js';
import { shortCircuitRoutes } from './rpc-short-circuit.js';
import { storageHandler } from './storage-http.js';
import { serverTls, WORKER_FLAGS, workerConfig } from './worker-flags.js';
import { VERSION, WorkerNode } from './worker-node.js';

export const WORKER_USAGE = `Usage: strata worker --registry etcd://HOST:PORT [options]

Runs one cluster worker: page cache, metadata cache and the worker RPC, registered in the
registry with a lease. It owns the paths that hash to it on the clients' ring. The mount table
comes from the registry (any worker's "strata fs mount" reaches all of them).
When ready it prints one JSON line: {"ready":true,"role":"worker","id":...,"addresses":{...}}.
SIGTERM drains: the worker is marked DRAINING (clients stop sending new paths), serves what is
in flight, then leaves the registry and exits.

Options:
  --registry URI           etcd://host:port[,host:port...] (also STRATA_REGISTRY); etcds://…
                           for TLS to etcd (its CA: --ca-file, STRATA_CA_FILE or NODE_EXTRA_CA_CERTS)
  --data-dir DIR           metadata, pages and staging (default ./.strata)
  --host HOST              listen address (default 127.0.0.1)
  --advertise-host HOST    address other machines reach this worker at (default: --host)
  --port PORT              listen port, 0 = any free port (default 19998)
  --config FILE            YAML configuration file (also STRATA_CONFIG)
  --page-size SIZE, --memory-capacity SIZE, --disk-capacity SIZE, --eviction POLICY,
  --disk-encryption-key-file FILE,
  --persist-delay DUR, --ttl-check-interval DUR   as for "strata local"
  --lease-ttl DUR          registry lease (default 5s): a crashed worker leaves the ring after it
  --drain-timeout DUR      longest wait for in-flight requests on SIGTERM (default 10s)
  --token-file FILE        the cluster token (default: STRATA_TOKEN, else the one the first
                           worker created in the registry)
  --headers-timeout DUR, --idle-timeout DUR, --store-deadline DUR, --log-level LEVEL,
  --max-connections-per-address N, --max-in-flight N   as for "strata local"
  --tls-cert FILE, --tls-key FILE, --ca-file FILE   as for "strata local": the worker RPC and
                           admin port speak TLS, and the address registered reads https://
  --etcd-cert FILE, --etcd-key FILE   PEM client certificate and key shown to an etcds://
                           registry that wants one (etcd --client-cert-auth; also
                           STRATA_ETCD_CERT, STRATA_ETCD_KEY)

Every call but /healthz and /metrics needs the cluster token. Mount credentials are sealed in
the registry with a key kept beside the token there (cluster.sealKey).

Example:
  strata worker --registry etcd://127.0.0.1:2379 --data-dir /var/lib/strata/w1 --port 0
`;

export async function runWorker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...WORKER_FLAGS,
      registry: { type: 'string' },
      'advertise-host': { type: 'string' },
      'lease-ttl': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'etcd-cert': { type: 'string' },
      'etcd-key': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(WORKER_USAGE);
    return 0;
  }
  const registryUri = values.registry ?? process.env.STRATA_REGISTRY;
  if (!registryUri)
    throw new StrataError(
      'INVALID_ARGUMENT',
      'strata worker needs --registry etcd://host:port (or STRATA_REGISTRY)',
    );
  const config = await workerConfig(values, { etcdCert: values['etcd-cert'], etcdKey: values['etcd-key'] });
  setLogLevel(config.logLevel);
  const { parseDuration } = await import('../core/units.js');
  const worker = await startWorker(config, registryUri, {
    advertiseHost: values['advertise-host'],
    leaseTtlMs: values['lease-ttl'] === undefined ? 5000 : parseDuration(values['lease-ttl'], 'lease TTL'),
    drainTimeoutMs:
      values['drain-timeout'] === undefined
        ? 10_000
        : parseDuration(values['drain-timeout'], 'drain timeout'),
  });
  processMetrics(worker.node.metrics.registry);
  return runUntilSignal(worker.ready, () => worker.stop());
}

export interface WorkerProcess {
  readonly ready: {
    ready: true;
    role: 'worker';
    id: string;
    version: string;
    pid: number;
    addresses: Record<string, string>;
  };
  readonly node: WorkerNode;
  stop(): Promise<void>;
}

export async function startWorker(
  config: ServerConfig,
  registryUri: string,
  options: { advertiseHost?: string | undefined; leaseTtlMs: number; drainTimeoutMs: number },
): Promise<WorkerProcess> {
  if (config.insecure)
    logger('insecure_ignored', { reason: 'a cluster worker always requires the cluster token' });
  // Before the registry: --ca-file is trusted by etcds:// and by calls to the other workers.
  const tls = await serverTls(config);
  // Every RPC call carries the cluster token; mount secrets are sealed with the cluster's seal key.
  const { registry, token } = await openClusterRegistry(registryUri, {
    dataDir: config.dataDir,
    token: config.token,
    tokenFile: config.tokenFile,
  });
  const resealed = await registry.sealStored();
  if (resealed > 0) logger('mounts_sealed', { records: resealed });
  const node = new WorkerNode(config, registry);
  const http = await listenHttp(config.host, config.port, {
    advertiseHost: options.advertiseHost,
    tls,
    headersTimeoutMs: config.headersTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    limits: { maxConnectionsPerAddress: config.maxConnectionsPerAddress, maxInFlight: config.maxInFlight },
  });
  const base = http.base;
  try {
    await node.start(base, registryUri, { defaultRootMount: false });
  } catch (err) {
    await http.close(0);
    await node.stop();
    await registry.close();
    throw err;
  }
  const unwatchMounts = await registry.watchMounts((records) => {
    node.fs
      .applyMounts(records)
      .catch((err) => logger('mount_sync_error', { error: toStrataError(err).message }));
  });
  // Any worker's dashboard shows the whole cluster, through the registry.
  const dashboard = createDashboard({
    role: 'worker',
    workerId: node.id,
    fs: node.fs,
    metrics: node.metrics.registry,
    updateGauges: () => node.fs.updateGauges(),
    clusterRegistry: registryUri,
    jobsAddress: registryUri,
    token,
    authorize: bearerCheck(token),
    server: http.server,
  });
  http.serve([
    adminHandler(node, 'worker', VERSION),
    dashboard.handle,
    requireToken(token),
    storageHandler(node),
    createRpcHandler(node.fs, { token, metrics: node.metrics.registry, routes: shortCircuitRoutes(node.fs) }),
  ]);
  const capacityBytes = config.memoryCapacity + config.diskCapacity;
  const registration: WorkerRegistration = await registry.registerWorker(
    { id: node.id, address: base, capacityBytes, state: 'ACTIVE', version: VERSION, startedAtMs: Date.now() },
    { leaseTtlMs: options.leaseTtlMs },
  );
  dashboard.lease = registration;
  registration.onLost = (err) => logger('lease_lost', { error: toStrataError(err).message });
  logger('ready', {
    role: 'worker',
    id: node.id,
    address: base,
    registry: registryUri,
    config: maskedConfig(config),
  });
  let stopping: Promise<void> | undefined;
  return {
    ready: {
      ready: true,
      role: 'worker',
      id: node.id,
      version: VERSION,
      pid: process.pid,
      addresses: { worker: base, admin: base },
    },
    node,
    stop() {
      stopping ??= (async () => {
        // Drain: clients stop routing new paths here; what is in flight finishes.
        await registration.update({ state: 'DRAINING' }).catch(() => undefined);
        const deadline = Date.now() + options.drainTimeoutMs;
        await new Promise((r) => setTimeout(r, 200));
        while (http.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await registration.close().catch(() => undefined);
        unwatchMounts();
        await http.close(1000);
        await node.stop();
        await registry.close();
      })();
      return stopping;
    },
  };
}
