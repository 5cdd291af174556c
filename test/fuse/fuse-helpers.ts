import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { addonBuilt } from '../../src/fuse/native.js';
import { spawnDaemon } from '../helpers/daemon.js';
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
  /** The ready line's addresses (admin: the metrics endpoint, with --metrics-port). */
  readonly addresses: { readonly mount?: string; readonly admin?: string };
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** `strata fuse mount DIR --foreground` as a child process; resolves on its ready line. */
export async function startFuse(registry: string, dir: string, args: string[] = []): Promise<RunningFuse> {
  const d = await spawnDaemon<{ addresses?: { mount?: string; admin?: string } }>(
    process.execPath,
    [STRATA_BIN, 'fuse', 'mount', dir, '--registry', registry, '--foreground', ...args],
    {
      what: 'strata fuse',
      timeoutMs: 20_000,
    },
  );
  const addresses = d.ready.addresses ?? {};
  return { child: d.child, dir, stderr: d.stderr, addresses, exited: d.exited, stop: d.stop, kill: d.kill };
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
