import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { addonBuilt } from '../../src/fuse/native.js';
import { STRATA_BIN } from '../helpers/local-process.js';

/** Why FUSE tests cannot run here, or undefined when they can. */
export function fuseSkipReason(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing';
  if (process.getuid?.() !== 0) return 'FUSE tests mount as root';
  if (!existsSync('/usr/bin/fusermount3')) return 'fusermount3 is missing (apt-get install fuse3)';
  if (!addonBuilt()) return 'the FUSE addon is not built: run bash scripts/build-fuse.sh';
  return undefined;
}

export interface RunningFuse {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly stderr: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** `strata fuse mount DIR --foreground` as a child process; resolves on its ready line. */
export async function startFuse(registry: string, dir: string, args: string[] = []): Promise<RunningFuse> {
  const child = spawn(
    process.execPath,
    [STRATA_BIN, 'fuse', 'mount', dir, '--registry', registry, '--foreground', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`fuse not ready in 20 s:\n${err}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"ready":true')) {
        clearTimeout(timer);
        ok();
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`fuse exited with ${code} before ready:\n${err}`));
    });
  });
  return {
    child,
    dir,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ShResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a shell command with a hard timeout (a hung mount fails the test instead of the run). */
export function sh(command: string, timeoutMs = 60_000): Promise<ShResult> {
  const start = Date.now();
  return new Promise((ok) => {
    execFile(
      '/bin/bash',
      ['-c', command],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        ok({ code, stdout, stderr, ms: Date.now() - start });
      },
    );
  });
}

export async function mounted(dir: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === dir);
}

/** Always-run cleanup: lazy unmount whatever is left on `dir`. */
export async function forceUnmount(dir: string): Promise<void> {
  await sh(`fusermount3 -uz ${dir} 2>/dev/null || true`, 10_000);
}
