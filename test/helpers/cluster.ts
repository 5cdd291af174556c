import type { ChildProcess } from 'node:child_process';
import { spawnDaemon } from './daemon.js';
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
