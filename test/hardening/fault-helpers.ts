import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/**
 * Shared pieces of the fault-injection tests (issue 16, item 1): content every reader can check
 * from the name alone, tmpfs mounts the test makes and always removes, and log lines.
 */

/**
 * `size` bytes derived from `name` (SHA-256 of `name:block` per 32-byte block): any byte a
 * reader gets can be checked against the name, so a wrong or stale page shows as a mismatch.
 */
export function contentOf(name: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let off = 0, block = 0; off < size; off += 32, block++) {
    const digest = createHash('sha256').update(`${name}:${block}`).digest();
    digest.copy(out, off, 0, Math.min(32, size - off));
  }
  return out;
}

export async function readAllBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (no shell), never rejecting: the exit code says how it went. */
export function run(
  file: string,
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((ok) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...(options.env ?? {}) },
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        ok({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Why a test that mounts a tmpfs cannot run here (undefined: it can). */
export function mountSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs the tests as root)';
  return undefined;
}

/** Mounts a tmpfs of `size` (e.g. "8m") on `dir`; the reason it failed, or undefined. */
export async function mountTmpfs(dir: string, size: string): Promise<string | undefined> {
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  return r.code === 0 ? undefined : `mount -t tmpfs failed: ${r.stderr.trim()}`;
}

export async function remount(dir: string, mode: 'ro' | 'rw'): Promise<void> {
  const r = await run('mount', ['-o', `remount,${mode}`, dir]);
  if (r.code !== 0) throw new Error(`mount -o remount,${mode} ${dir}: ${r.stderr.trim()}`);
}

/** Unmounts (lazily, so a file still open cannot keep the test's mount behind). */
export async function unmount(dir: string): Promise<void> {
  await run('umount', ['-l', dir]);
}

/** The JSON log lines of a daemon's stderr with `"event": event`. */
export function logEvents(stderr: string, event: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes(`"event":"${event}"`)) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a JSON line
    }
  }
  return out;
}
