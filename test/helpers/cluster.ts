import type { ChildProcess } from 'node:child_process';
import { type Daemon as RunningDaemon, spawnDaemon } from './daemon.js';
import { STRATA_BIN } from './local-process.js';

export interface WorkerReady {
  ready: true;
  role: 'worker';
  id: string;
  pid: number;
  addresses: { worker: string; admin: string };
}

export interface RunningWorker {
  readonly child: ChildProcess;
  readonly ready: WorkerReady;
  readonly stderr: () => string;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts `strata worker` (the real CLI) as a child process and waits for its ready line.
 * `prefix` runs it inside something, e.g. ['ip', 'netns', 'exec', 'ns1'].
 */
export async function startWorker(
  registry: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  prefix: string[] = [],
): Promise<RunningWorker> {
  const base = [STRATA_BIN, 'worker', '--registry', registry, '--port', '0', ...args];
  const file = prefix.length > 0 ? prefix[0]! : process.execPath;
  return spawnDaemon<WorkerReady>(
    file,
    prefix.length > 0 ? [...prefix.slice(1), process.execPath, ...base] : base,
    { env, what: 'strata worker' },
  );
}

/** The cluster token the workers created in the registry (every RPC call needs it). */
export async function clusterToken(registryUri: string): Promise<string> {
  const { createRegistry } = await import('../../src/registry/factory.js');
  const registry = await createRegistry(registryUri, {});
  try {
    const token = await registry.getConfig('cluster.token');
    if (token === undefined) throw new Error('no cluster token in the registry');
    return token;
  } finally {
    await registry.close();
  }
}

/** Mount points one worker currently serves (asked directly, bypassing routing). */
export async function workerMounts(address: string, token: string): Promise<string[]> {
  const res = await fetch(`${address}/rpc/v1/mounts`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`worker ${address} answered ${res.status}`);
  return ((await res.json()) as Array<{ path: string }>).map((m) => m.path);
}

export interface SchedulerReady {
  ready: true;
  role: 'scheduler';
  id: string;
  pid: number;
  version: string;
  addresses: { admin: string };
}

export type RunningScheduler = RunningDaemon<SchedulerReady>;

/** Starts `strata scheduler` (the real CLI) as a child process and waits for its ready line. */
export async function startScheduler(
  registry: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningScheduler> {
  return spawnDaemon<SchedulerReady>(
    process.execPath,
    [STRATA_BIN, 'scheduler', '--registry', registry, '--port', '0', ...args],
    { env, what: 'strata scheduler' },
  );
}
