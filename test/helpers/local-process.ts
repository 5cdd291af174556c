import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon } from './daemon.js';
import { waitFor as waitUntil } from './wait.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const STRATA_BIN = join(REPO_ROOT, 'bin', 'strata.js');

export interface ReadyLine {
  ready: true;
  role: string;
  pid: number;
  addresses: Record<string, string>;
}

export interface RunningStrata {
  readonly child: ChildProcess;
  readonly ready: ReadyLine;
  readonly registry: string;
  readonly stderr: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
}

/** `strata local` flags: its data and a file:// store under `dir`, the S3 gateway on a free port. */
export function localS3Args(dir: string): string[] {
  return ['--data-dir', join(dir, 'data'), '--mount', `/=file://${join(dir, 'store')}`, '--s3-port', '0'];
}

/** Starts `strata local` (the real CLI, as a child process) and waits for its ready line. */
export async function startLocal(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningStrata> {
  const d = await spawnDaemon<ReadyLine>(process.execPath, [STRATA_BIN, 'local', '--port', '0', ...args], {
    env,
    what: 'strata local',
  });
  return {
    child: d.child,
    ready: d.ready,
    registry: d.ready.addresses.registry!,
    stderr: d.stderr,
    stop: d.stop,
    kill: d.kill,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `strata` CLI as a child process. */
export function runCli(
  args: string[],
  options: { registry?: string; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((ok, fail) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...(options.env ?? {}) };
    if (options.registry) env.STRATA_REGISTRY = options.registry;
    const child = spawn(process.execPath, [STRATA_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `strata-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads one Prometheus sample (sum over matching label sets). */
export async function metric(
  admin: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Polls `fn` every 100 ms until it returns a value (see wait.ts), failing after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  return waitUntil(fn, { what, timeoutMs, intervalMs: 100 });
}
