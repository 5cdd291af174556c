import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A Strata daemon started by a test: the child, its parsed ready line, and how to end it. */
export interface Daemon<R> {
  readonly child: ChildProcess;
  readonly ready: R;
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
}

/**
 * Spawns `file args` and waits for the JSON line with `"ready":true` on stdout (the contract
 * of every Strata daemon). Fails with the daemon's stderr if it exits first or takes too long.
 */
export async function spawnDaemon<R>(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; what: string; timeoutMs?: number; cwd?: string },
): Promise<Daemon<R>> {
  const child = spawn(file, args, {
    env: { ...process.env, ...(options.env ?? {}) },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const ready = await new Promise<R>((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`${options.what} not ready in ${timeoutMs} ms; stderr:\n${err}`)),
      timeoutMs,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { ready?: boolean };
        if (parsed.ready === true) {
          clearTimeout(timer);
          ok(parsed as R);
        }
      } catch {
        // not the ready line
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${options.what} exited with ${code} before ready; stderr:\n${err}`));
    });
  });
  const done = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    ready,
    exited,
    stderr: () => err,
    async stop() {
      if (done()) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (done()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
