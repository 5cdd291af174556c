import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
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

/** Starts `strata worker` (the real CLI) as a child process and waits for its ready line. */
export async function startWorker(registry: string, args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Promise<RunningWorker> {
  // `prefix` runs the worker inside something, e.g. ['ip', 'netns', 'exec', 'ns1'].
  const base = [STRATA_BIN, 'worker', '--registry', registry, '--port', '0', ...args];
  const file = prefix.length > 0 ? prefix[0]! : process.execPath;
  const child = spawn(file, prefix.length > 0 ? [...prefix.slice(1), process.execPath, ...base] : base, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const ready = await new Promise<WorkerReady>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`strata worker not ready in 30 s; stderr:\n${err}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as WorkerReady;
        if (parsed.ready) {
          clearTimeout(timer);
          ok(parsed);
        }
      } catch {
        // not the ready line
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`strata worker exited with ${code} before ready; stderr:\n${err}`));
    });
  });
  return {
    child,
    ready,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
