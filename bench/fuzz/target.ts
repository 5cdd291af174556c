import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A real `strata local` process for the fuzzer: its ports, token, key, and RSS. */
export interface FuzzTarget {
  readonly pid: number;
  readonly s3Port: number;
  readonly adminPort: number;
  readonly token: string;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
  /** A directory mounts may name (nothing outside it is ever mounted). */
  readonly sandbox: string;
  readonly dataDir: string;
  alive(): boolean;
  /** Resident set size in bytes (/proc/PID/status VmRSS). */
  rss(): Promise<number>;
  stderr(): string;
  stop(): Promise<void>;
}

const BIN = resolve(fileURLToPath(new URL('../../../bin/strata.js', import.meta.url)));

export async function startTarget(
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<FuzzTarget> {
  const root = await mkdtemp(join(tmpdir(), 'strata-fuzz-'));
  const dataDir = join(root, 'data');
  const sandbox = join(root, 'sandbox');
  await mkdir(sandbox, { recursive: true });
  const accessKeyId = 'fuzzkey';
  const secret = 'fuzzsecret';
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'local', '--port', '0', '--data-dir', dataDir, '--log-level', 'error', ...extraArgs],
    {
      env: {
        ...process.env,
        STRATA_S3_ACCESS_KEY_ID: accessKeyId,
        STRATA_S3_SECRET_ACCESS_KEY: secret,
        STRATA_DISCOVERY_DIR: join(root, 'run'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-200_000);
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const ready = await new Promise<{ addresses: Record<string, string>; tokenFile: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`strata local not ready; stderr:\n${err}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { ready?: boolean };
        if (parsed.ready === true) {
          clearTimeout(timer);
          ok(parsed as never);
        }
      } catch {
        // another line
      }
    });
    void exited.then(() => fail(new Error(`strata local exited before ready; stderr:\n${err}`)));
  });
  const token = (await readFile(ready.tokenFile, 'utf8')).trim();
  const portOf = (u: string | undefined) => Number(new URL(u ?? 'http://x:0').port);
  const pid = child.pid!;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    s3Port: portOf(ready.addresses.s3),
    adminPort: portOf(ready.addresses.registry),
    token,
    accessKeyId,
    secret,
    region: 'us-east-1',
    sandbox,
    dataDir,
    alive,
    async rss() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      return kb === undefined ? 0 : Number(kb) * 1024;
    },
    stderr: () => err,
    async stop() {
      if (alive()) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
