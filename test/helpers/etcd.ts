import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's etcd-server package (scripts/test-packages.txt). */
export const ETCD_BINARY = process.env.STRATA_ETCD_BINARY ?? '/usr/bin/etcd';

export interface EtcdProcess {
  /** etcd://127.0.0.1:P, for EtcdRegistry / createRegistry. */
  readonly uri: string;
  /** http://127.0.0.1:P */
  readonly clientUrl: string;
  /** PID of the current etcd process (changes on restart()). */
  readonly pid: number;
  /** How long the last start took until /health answered true (ms). */
  readonly startupMs: number;
  /** SIGTERM, wait for exit, remove the data dir. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit; the data dir stays so restart() can bring it back. */
  kill(): Promise<void>;
  /** Stops it if running, then starts it again on the same data dir and ports. */
  restart(): Promise<void>;
}

/**
 * One single-node etcd on two free loopback ports with a temp data dir (flags from TESTBED.md).
 * `extraClientHosts`: more addresses to serve clients on (e.g. the host ends of veth pairs to the
 * test's own network namespaces).
 */
export async function startEtcd(options: { extraClientHosts?: string[] } = {}): Promise<EtcdProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-etcd-'));
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name',
    'n1',
    '--data-dir',
    join(dir, 'data'),
    '--listen-client-urls',
    [clientUrl, ...(options.extraClientHosts ?? []).map((h) => `http://${h}:${clientPort}`)].join(','),
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `n1=${peerUrl}`,
    '--initial-cluster-state',
    'new',
  ];
  const logFile = join(dir, 'etcd.log');
  let child: ChildProcess | undefined;
  let startupMs = 0;

  async function launch(): Promise<void> {
    const t0 = performance.now();
    const fd = openSync(logFile, 'a');
    try {
      child = spawn(ETCD_BINARY, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const proc = child;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const spawnError = new Promise<never>((_, fail) => proc.once('error', fail));
    spawnError.catch(() => undefined);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited || Date.now() > deadline) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        await halt('SIGKILL');
        throw new Error(`etcd did not become healthy on ${clientUrl}; log tail:\n${log.slice(-2000)}`);
      }
      if (await Promise.race([healthy(clientUrl), spawnError])) break;
      await sleep(50);
    }
    startupMs = performance.now() - t0;
  }

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    uri: `etcd://127.0.0.1:${clientPort}`,
    clientUrl,
    get pid() {
      return child?.pid ?? -1;
    },
    get startupMs() {
      return startupMs;
    },
    async stop() {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      await halt('SIGKILL');
    },
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
  };
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** A port the OS just handed out on 127.0.0.1 (closed again before etcd binds it). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
