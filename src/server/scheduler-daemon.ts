import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Registry as MetricsRegistry } from 'prom-client';
import { type ConnectedFileSystem, connect } from '../client/connect.js';
import { runUntilSignal } from '../core/daemon.js';
import { StrataError, toStrataError } from '../core/errors.js';
import { logger, logLevelFrom, setLogLevel } from '../core/log.js';
import { loadServerTls, type ServerTls, useCaFile, useEtcdClientCert } from '../core/tls-options.js';
import { parseDuration } from '../core/units.js';
import { isEtcdUri } from '../registry/factory.js';
import type { MemberRegistration } from '../registry/registry.js';
import { DEFAULT_RETENTION_MS, Scheduler, type SchedulerOptions } from '../scheduler/scheduler.js';
import { requireToken } from './auth.js';
import { openClusterRegistry } from './cluster-registry.js';
import { type Handler, listenHttp } from './http-server.js';
import { integer, JOB_FLAGS, JOB_FLAGS_USAGE, jobLimits, positive } from './job-flags.js';
import { jobsHandler } from './jobs-http.js';
import { VERSION } from './worker-node.js';

/** The scheduler's default port (the worker's is 19998). */
export const DEFAULT_SCHEDULER_PORT = 19997;
/** Default election and membership lease: a standby takes over within about this after a crash. */
export const DEFAULT_SCHEDULER_LEASE_TTL_MS = 5000;
/** Default time finished jobs are kept before the leader purges them. */
export const DEFAULT_JOB_RETENTION_MS = DEFAULT_RETENTION_MS;

export const SCHEDULER_USAGE = `Usage: strata scheduler --registry etcd://HOST:PORT [options]

Runs a job scheduler of a cluster: it campaigns for the "scheduler" role in the registry and,
while it leads, runs the jobs kept there ("strata job load|free|persist|copy|move") over the
live workers. Run two or more: one leads, the others stand by and one of them takes over within
the election lease when the leader dies, resuming each job from its cursor in the registry.
It serves /healthz, /metrics and the jobs API (/api/v1/jobs, behind the cluster token) on its
port, and announces itself in the registry, so "strata job ... --registry etcd://..." finds it.
When ready it prints one JSON line:
  {"ready":true,"role":"scheduler","id":...,"pid":...,"version":...,"addresses":{"admin":URL}}
SIGTERM stops the engines between their calls (the jobs stay RUNNING, for the next leader),
resigns, leaves the registry and exits.

Options:
  --registry URI           etcd://host:port[,host:port...] (also STRATA_REGISTRY); etcds:// for TLS
  --host HOST              listen address (default 127.0.0.1)
  --advertise-host HOST    address other machines reach this scheduler at (default: --host)
  --port PORT              listen port, 0 = any free port (default ${DEFAULT_SCHEDULER_PORT})
  --data-dir DIR           where the scheduler keeps its id (default: a new id each start)
${JOB_FLAGS_USAGE}
  --lease-ttl DUR          election and membership lease (default 5s): a crashed leader is
                           replaced after it (etcd counts whole seconds)
  --token-file FILE        the cluster token (default: STRATA_TOKEN, else the one in the registry)
  --log-level LEVEL        debug, info (default), warn or error (also STRATA_LOG_LEVEL)
  --tls-cert FILE, --tls-key FILE   PEM certificate and key: the port speaks TLS only and the
                           address announced reads https:// (also STRATA_TLS_CERT, STRATA_TLS_KEY)
  --ca-file FILE           PEM CAs trusted as a client (etcds://, workers) besides Node's list and
                           NODE_EXTRA_CA_CERTS (also STRATA_CA_FILE)
  --etcd-cert FILE, --etcd-key FILE   PEM client certificate and key for an etcds:// registry
                           with client-cert auth (also STRATA_ETCD_CERT, STRATA_ETCD_KEY)

Every call but /healthz and /metrics needs the cluster token.

Example:
  strata scheduler --registry etcd://127.0.0.1:2379 --port 0
`;

export async function runScheduler(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      registry: { type: 'string' },
      host: { type: 'string' },
      'advertise-host': { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      ...JOB_FLAGS,
      'lease-ttl': { type: 'string' },
      'token-file': { type: 'string' },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'ca-file': { type: 'string' },
      'etcd-cert': { type: 'string' },
      'etcd-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(SCHEDULER_USAGE);
    return 0;
  }
  setLogLevel(logLevelFrom(values['log-level'], process.env));
  const registryUri = values.registry ?? process.env.STRATA_REGISTRY;
  if (!registryUri)
    throw new StrataError(
      'INVALID_ARGUMENT',
      'strata scheduler needs --registry etcd://host:port (or STRATA_REGISTRY)',
    );
  if (!isEtcdUri(registryUri))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `strata scheduler runs against a cluster registry (etcd://host:port), got "${registryUri}"; "strata local" has its own scheduler`,
    );
  const tokenFile = values['token-file'] ?? process.env.STRATA_TOKEN_FILE;
  const envToken = process.env.STRATA_TOKEN;
  if (envToken !== undefined && envToken.trim() === '')
    throw new StrataError('INVALID_ARGUMENT', 'STRATA_TOKEN is empty');
  const caFile = values['ca-file'] ?? process.env.STRATA_CA_FILE;
  if (caFile !== undefined && caFile !== '') await useCaFile(caFile, '--ca-file (STRATA_CA_FILE)');
  await useEtcdClientCert(
    values['etcd-cert'] ?? process.env.STRATA_ETCD_CERT,
    values['etcd-key'] ?? process.env.STRATA_ETCD_KEY,
    { cert: '--etcd-cert (STRATA_ETCD_CERT)', key: '--etcd-key (STRATA_ETCD_KEY)' },
  );
  const tls = await loadServerTls(
    values['tls-cert'] ?? process.env.STRATA_TLS_CERT,
    values['tls-key'] ?? process.env.STRATA_TLS_KEY,
    { cert: '--tls-cert (STRATA_TLS_CERT)', key: '--tls-key (STRATA_TLS_KEY)' },
  );
  const daemon = await startSchedulerDaemon({
    tls,
    registryUri,
    host: values.host ?? '127.0.0.1',
    advertiseHost: values['advertise-host'],
    port: values.port === undefined ? DEFAULT_SCHEDULER_PORT : integer(values.port, '--port', 0, 65535),
    dataDir: values['data-dir'],
    ...jobLimits(values),
    leaseTtlMs:
      values['lease-ttl'] === undefined
        ? DEFAULT_SCHEDULER_LEASE_TTL_MS
        : positive(parseDuration(values['lease-ttl'], '--lease-ttl'), '--lease-ttl'),
    token: envToken,
    tokenFile,
  });
  return runUntilSignal(daemon.ready, () => daemon.stop());
}

export interface SchedulerDaemonOptions {
  readonly registryUri: string;
  readonly host: string;
  readonly advertiseHost?: string | undefined;
  readonly port: number;
  readonly dataDir?: string | undefined;
  readonly maxRunning: number;
  readonly retentionMs: number;
  readonly leaseTtlMs: number;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  /** Certificate and key of the admin/jobs port (https://). */
  readonly tls?: ServerTls | undefined;
  /** Passed to the Scheduler (tests: a short poll). */
  readonly scheduler?: Omit<SchedulerOptions, 'id' | 'maxRunning'>;
}

export interface SchedulerDaemon {
  readonly ready: {
    ready: true;
    role: 'scheduler';
    id: string;
    pid: number;
    version: string;
    addresses: { admin: string };
  };
  readonly scheduler: Scheduler;
  stop(): Promise<void>;
}

/** Starts a scheduler daemon in this process (exported for in-process use; the CLI runs runScheduler). */
export async function startSchedulerDaemon(options: SchedulerDaemonOptions): Promise<SchedulerDaemon> {
  const { registry, token } = await openClusterRegistry(options.registryUri, {
    token: options.token,
    tokenFile: options.tokenFile,
    leaseTtlMs: options.leaseTtlMs,
  });
  const undo: Array<() => Promise<void>> = [() => registry.close()];
  const unwind = async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  try {
    const id = await schedulerId(options.dataDir);
    // The workers as every client sees them: a ring from the registry's live workers.
    const fs: ConnectedFileSystem = await connect(options.registryUri, { token, discoverToken: false });
    undo.push(() => fs.close());
    const metrics = new MetricsRegistry();
    collectDefaultMetrics({ register: metrics });
    const scheduler = new Scheduler(registry, fs, {
      pollMs: 200,
      ...options.scheduler,
      id,
      maxRunning: options.maxRunning,
      retentionMs: options.retentionMs,
      // strata_jobs, strata_job_* and strata_scheduler_leader (src/scheduler/metrics.ts).
      metrics,
    });
    const http = await listenHttp(options.host, options.port, {
      advertiseHost: options.advertiseHost,
      tls: options.tls,
    });
    undo.push(() => http.close(0));
    const base = http.base;
    http.serve([
      adminHandler(id, metrics, () => scheduler.isLeader()),
      requireToken(token),
      jobsHandler(
        registry,
        fs,
        () => scheduler.wake(),
        (id) => scheduler.cancelled(id),
      ),
    ]);
    await scheduler.start();
    undo.push(() => scheduler.stop());
    const startedAtMs = Date.now();
    const member: MemberRegistration = await registry.registerMember(
      'scheduler',
      { id, address: base, version: VERSION, startedAtMs },
      { leaseTtlMs: options.leaseTtlMs },
    );
    logger('ready', {
      role: 'scheduler',
      id,
      address: base,
      registry: options.registryUri,
      maxRunning: options.maxRunning,
      retentionMs: options.retentionMs,
      leaseTtlMs: options.leaseTtlMs,
    });
    let stopping: Promise<void> | undefined;
    return {
      ready: {
        ready: true,
        role: 'scheduler',
        id,
        pid: process.pid,
        version: VERSION,
        addresses: { admin: base },
      },
      scheduler,
      stop() {
        stopping ??= (async () => {
          // Engines stop between calls; their jobs stay RUNNING for the next leader.
          await scheduler.stop();
          await member
            .close()
            .catch((err) => logger('shutdown_error', { error: toStrataError(err).message }));
          await http.close(1000);
          await fs.close().catch(() => undefined);
          await registry.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** /healthz and /metrics of the scheduler, open to anyone (like a worker's). */
function adminHandler(id: string, metrics: MetricsRegistry, leader: () => boolean): Handler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', role: 'scheduler', version: VERSION, id, leader: leader() }));
      return true;
    }
    if (path === '/metrics') {
      const text = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return true;
    }
    return false;
  };
}

/** A stable id kept in the data dir when one is given, else a new one. */
async function schedulerId(dataDir: string | undefined): Promise<string> {
  const fresh = () => `scheduler-${randomBytes(4).toString('hex')}`;
  if (dataDir === undefined) return fresh();
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'scheduler-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id !== '') return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new StrataError('INTERNAL', `cannot read ${file}`, { cause: err });
  }
  const id = fresh();
  await writeFile(file, `${id}\n`);
  return id;
}
