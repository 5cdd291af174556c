import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Registry as MetricsRegistry } from 'prom-client';
import { connect } from '../client/connect.js';
import type { MountInfo } from '../client/types.js';
import { StrataError } from '../core/errors.js';
import { followLauncher } from '../core/launcher.js';
import { logger, logLevelFrom, setLogLevel } from '../core/log.js';
import {
  type MetricsEndpoint,
  parseMetricsPort,
  processMetrics,
  serveMetrics,
} from '../core/metrics-endpoint.js';
import { isWithin, normalizePath } from '../core/paths.js';
import { parseDuration } from '../core/units.js';
import { prepareMountpoint, unmountDir } from './mountpoint.js';
import { loadAddon, OP_COUNT, Op } from './native.js';
import { FuseOps } from './ops.js';

export const FUSE_USAGE = `Usage: strata fuse mount DIR [options]
       strata fuse unmount DIR [--lazy]

Mounts the Strata namespace (or the part under --root) on DIR with FUSE (libfuse3). Without
--foreground the command returns once the mount is ready and a daemon serves it (log: --log FILE).
When ready it prints {"ready":true,"role":"fuse","pid":N,"addresses":{"mount":"DIR"}}.
SIGTERM/SIGINT unmount cleanly. A stale mount left on DIR by a crash is cleaned first.

Options:
  --registry URI        registry of the deployment (also STRATA_REGISTRY)
  --token-file FILE     bearer token (default STRATA_TOKEN, or found beside a "strata local" of
                        this user on this machine)
  --root PATH           namespace path shown at DIR (default /)
  -o OPTS               FUSE mount options, comma separated (ro, allow_other, ...), repeatable
  --foreground          serve in this process instead of a daemon
  --timeout DUR         deadline of every kernel request (default 30s); late answers get ETIMEDOUT
  --commit-timeout DUR  deadline of close/flush/fsync of a written file (default 300s)
  --staging-dir DIR     where written files are staged before commit (default the temp dir)
  --threads N           most FUSE threads serving requests at once (default 64)
  --log FILE            daemon log (default <tmp>/strata-fuse-<dir name>.log)
  --log-level LEVEL     debug, info (default), warn or error (also STRATA_LOG_LEVEL)
  --metrics-port PORT   serve /metrics and /healthz on 127.0.0.1:PORT (0 = any free port;
                        default none), named addresses.admin in the ready line

Build the native addon first: bash scripts/build-fuse.sh (needs apt packages fuse3 libfuse3-dev).
`;

/** Entry of `strata fuse ...`; resolves with the exit code. */
export async function runFuse(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'mount') return mountCommand(rest);
  if (sub === 'unmount' || sub === 'umount') return unmountCommand(rest);
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(FUSE_USAGE);
    return 0;
  }
  process.stderr.write(`strata: unknown fuse command "${sub ?? ''}"\n${FUSE_USAGE}`);
  return 64;
}

async function unmountCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      lazy: { type: 'boolean', short: 'z' },
      registry: { type: 'string' },
      'token-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(FUSE_USAGE);
    return 0;
  }
  const dir = positionals[0];
  if (dir === undefined || positionals.length > 1) {
    process.stderr.write(`strata: fuse unmount takes one DIR\n${FUSE_USAGE}`);
    return 64;
  }
  await unmountDir(resolve(dir), values.lazy === true);
  return 0;
}

const MOUNT_OPTIONS = {
  registry: { type: 'string' },
  'token-file': { type: 'string' },
  root: { type: 'string' },
  o: { type: 'string', short: 'o', multiple: true },
  foreground: { type: 'boolean', short: 'f' },
  timeout: { type: 'string' },
  'commit-timeout': { type: 'string' },
  'staging-dir': { type: 'string' },
  threads: { type: 'string' },
  log: { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function mountCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: MOUNT_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(FUSE_USAGE);
    return 0;
  }
  const dirArg = positionals[0];
  if (dirArg === undefined || positionals.length > 1) {
    process.stderr.write(`strata: fuse mount takes one DIR\n${FUSE_USAGE}`);
    return 64;
  }
  const dir = resolve(dirArg);
  setLogLevel(logLevelFrom(values['log-level'], process.env));
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : parseMetricsPort(values['metrics-port']);
  const registry = values.registry ?? process.env.STRATA_REGISTRY;
  if (!registry) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'no registry given: pass --registry http://HOST:PORT or set STRATA_REGISTRY (the addresses.registry of "strata local")',
    );
  }
  const addon = loadAddon(); // fails early with how to build it
  if (!values.foreground) return daemonize(argv, dir, values.log);

  const timeoutMs = parseDuration(values.timeout ?? '30s', '--timeout');
  const commitTimeoutMs = parseDuration(values['commit-timeout'] ?? '300s', '--commit-timeout');
  const threads = Number(values.threads ?? 64);
  if (!Number.isInteger(threads) || threads < 1)
    throw new StrataError('INVALID_ARGUMENT', '--threads must be >= 1');
  const userOpts = (values.o ?? []).flatMap((o) => o.split(',')).filter((o) => o !== '');
  for (const o of userOpts) {
    if (/^max_read=/.test(o))
      throw new StrataError('INVALID_ARGUMENT', '-o max_read breaks libfuse3 3.14 mounts; leave it unset');
  }
  const readOnly = userOpts.includes('ro');
  const root = normalizePath(values.root ?? '/');

  // The token: --token-file, STRATA_TOKEN, STRATA_TOKEN_FILE or discovery (connect() decides).
  const tokenFile = values['token-file'];
  const fs = await connect(registry, tokenFile === undefined ? {} : { tokenFile });
  const rootInfo = await fs.status(root);
  if (rootInfo.type !== 'directory')
    throw new StrataError('NOT_A_DIRECTORY', `--root ${root} is not a directory`);
  const mounts = await fs.mounts();
  const kernel = kernelTimeouts(mounts, root);
  const { cleanedStale } = await prepareMountpoint(dir);
  if (cleanedStale) logger('fuse.stale_cleaned', { dir });
  const stagingDir = await mkdtemp(join(values['staging-dir'] ?? tmpdir(), 'strata-fuse-staging-'));
  // The FUSE request histogram and the process series, on a port of their own when asked for.
  const metrics = new MetricsRegistry();
  let endpoint: MetricsEndpoint | undefined;
  if (metricsPort !== undefined) {
    processMetrics(metrics);
    endpoint = await serveMetrics(metrics, { host: '127.0.0.1', port: metricsPort, role: 'fuse' });
  }

  const ops = new FuseOps(fs, addon, mounts, {
    root,
    stagingDir,
    readOnly,
    timeoutMs: Math.max(1, timeoutMs - 500),
    commitTimeoutMs: Math.max(1, commitTimeoutMs - 500),
    statCacheMs: kernel.seconds * 1000,
    readWindow: { min: 1 << 20, max: 8 << 20 },
    log: logger,
    ...(endpoint ? { metrics } : {}),
  });
  // The native deadline: the JS deadlines above answer first; this one catches a stuck event loop.
  const deadlines = new Array<number>(OP_COUNT).fill(timeoutMs);
  for (const op of [Op.OPEN, Op.CREATE, Op.FLUSH, Op.RELEASE, Op.FSYNC, Op.TRUNCATE, Op.RENAME])
    deadlines[op] = commitTimeoutMs;

  let exited!: (code: number) => void;
  const loopDone = new Promise<number>((ok) => {
    exited = ok;
  });
  const handler: Parameters<typeof addon.mount>[5] = (op, token, ...rest) => {
    if (op === Op.EXIT) {
      exited(token as unknown as number);
      return;
    }
    ops.handle(op, token, ...rest);
  };
  const fuseArgs = ['strata', '-o', ['fsname=strata', 'subtype=strata', ...userOpts].join(',')];
  addon.mount(dir, fuseArgs, deadlines, [kernel.seconds, kernel.seconds, kernel.seconds], threads, handler);
  const refresh = setInterval(() => {
    fs.mounts().then(
      (m) => {
        ops.mounts = m;
      },
      () => undefined,
    );
  }, 10_000).unref();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger('fuse.unmounting', { dir, signal });
    addon.exit();
    unmountDir(dir, false)
      .catch((err: unknown) => {
        logger('fuse.unmount_busy', { dir, error: String(err) });
        return unmountDir(dir, true);
      })
      .catch((err: unknown) => logger('fuse.unmount_failed', { dir, error: String(err) }));
    setTimeout(() => exited(1), 15_000).unref();
  };
  // Before the ready line: a caller that signals as soon as it reads it found no handler (the
  // process died, leaving a dead mount) about 1 time in 3.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Started by npm, or by `strata local --fuse` (STRATA_FOLLOW_LAUNCHER=1): the mount goes with its parent.
  const unfollow = followLauncher(() => stop('launcher_exit'));

  logger('fuse.mounted', {
    dir,
    root,
    readOnly,
    kernelTimeoutS: kernel.seconds,
    syncIntervalMs: kernel.syncMs,
  });
  process.stdout.write(
    `${JSON.stringify({ ready: true, role: 'fuse', pid: process.pid, addresses: { mount: dir, ...(endpoint ? { admin: endpoint.url } : {}) } })}\n`,
  );
  const code = await loopDone;
  unfollow();
  clearInterval(refresh);
  await endpoint?.close();
  logger('fuse.unmounted', { dir, code, openFiles: ops.openFiles });
  await rm(stagingDir, { recursive: true, force: true }).catch(() => undefined);
  await fs.close().catch(() => undefined);
  const result = code === 0 ? 0 : stopping ? 0 : 1;
  // Unmounted and cleaned up: nothing may keep the daemon alive now (a FUSE thread that never saw
  // its session end held a stopped daemon forever under load, once). Fires only in that case.
  setTimeout(() => {
    logger('fuse.forced_exit', { dir, code: result });
    process.exit(result);
  }, 5_000).unref();
  return result;
}

/**
 * Kernel attribute/entry timeouts from the sync interval of the mounts shown: the smallest
 * non-negative interval wins (0 → 0 s); only "trust the cache" (-1) everywhere → 60 s.
 */
export function kernelTimeouts(
  mounts: readonly MountInfo[],
  root: string,
): { seconds: number; syncMs: number } {
  const relevant = mounts.filter((m) => isWithin(root, m.path) || isWithin(m.path, root));
  const finite = relevant.map((m) => m.syncIntervalMs).filter((ms) => ms >= 0);
  if (finite.length === 0) return { seconds: 60, syncMs: -1 };
  const syncMs = Math.min(...finite);
  return { seconds: syncMs / 1000, syncMs };
}

/** Starts the daemon (this command with --foreground), waits for its ready line and prints it. */
async function daemonize(argv: string[], dir: string, log: string | undefined): Promise<number> {
  const logFile = log ?? join(tmpdir(), `strata-fuse-${basename(dir) || 'root'}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  await new Promise((ok, fail) => out.once('open', ok).once('error', fail));
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [script, 'fuse', 'mount', ...argv, '--foreground'], {
    detached: true,
    // The daemon outlives this command, even when npm launched it (src/core/launcher.ts).
    env: { ...process.env, STRATA_FOLLOW_LAUNCHER: '0' },
    stdio: ['ignore', 'pipe', out],
  });
  out.close();
  const exitedEarly = new Promise<number>((ok) => child.once('exit', (code) => ok(code ?? 1)));
  const ready = await new Promise<string | undefined>((ok) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('{"ready":true')) ok(line);
    });
    exitedEarly.then(() => ok(undefined));
  });
  if (ready === undefined) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    process.stderr.write(text.split('\n').slice(-20).join('\n'));
    return exitedEarly;
  }
  process.stdout.write(`${ready}\n`);
  child.stdout!.destroy();
  child.unref();
  return 0;
}
