import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { connect } from '../../src/client/connect.js';
import { type S3GatewayServer, startS3GatewayServer } from '../../src/gateway/s3/index.js';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';

/**
 * A real `strata local` (child process) with a file:// store at "/", and the S3 gateway in this
 * process on a free port, talking to it over the worker RPC as `strata gateway s3` does.
 */

export const ACCESS_KEY = 'AKIASTRATATEST';
export const SECRET_KEY = 'strata-test-secret-key';

export interface Harness {
  readonly url: string;
  readonly port: number;
  readonly store: string;
  readonly home: string;
  readonly local: RunningStrata;
  readonly gateway: S3GatewayServer;
  /** Environment for CLIs: temp HOME and AWS config, never the real ~/.aws. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startHarness(opts: { minPartBytes?: number } = {}): Promise<Harness> {
  const tmp = await tempDir('s3gw');
  const store = join(tmp.dir, 'store');
  const home = join(tmp.dir, 'home');
  await mkdir(store, { recursive: true });
  await mkdir(join(home, '.aws'), { recursive: true });
  const local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${store}`]);
  const fs = await connect(local.registry);
  const gateway = await startS3GatewayServer(fs, {
    credentials: new Map([[ACCESS_KEY, SECRET_KEY]]),
    port: 0,
    // SSE-S3 with a key of this run (a gateway without one answers AES256 requests 501).
    sse: { s3Key: { id: 'harness', bytes: randomBytes(32) }, kms: new Map() },
    ...(opts.minPartBytes !== undefined ? { minPartBytes: opts.minPartBytes } : {}),
  });
  const port = Number(new URL(gateway.url).port);
  await writeFile(
    join(home, '.aws', 'config'),
    `[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n`,
  );
  await writeFile(
    join(home, '.aws', 'credentials'),
    `[default]\naws_access_key_id = ${ACCESS_KEY}\naws_secret_access_key = ${SECRET_KEY}\n`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    AWS_CONFIG_FILE: join(home, '.aws', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  return {
    url: gateway.url,
    port,
    store,
    home,
    local,
    gateway,
    env,
    async stop() {
      await gateway.close();
      await (fs as { close(): Promise<void> }).close();
      await local.stop();
      await tmp.cleanup();
    },
  };
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with arguments (no shell), optional stdin, and returns its output. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  timeoutMs = 120_000,
): Promise<Run> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      ok({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** `aws` with the harness endpoint; throws with the CLI's stderr on failure. */
export async function aws(h: Harness, args: string[], expectFail = false): Promise<Run> {
  const r = await run('aws', ['--endpoint-url', h.url, ...args], h.env);
  if (!expectFail && r.code !== 0) throw new Error(`aws ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** The error an AWS SDK call fails with (name and HTTP status); throws if the call succeeds. */
export async function s3Error(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

/** A JS SDK client of the harness's gateway (path style, no retries), as the test user or with another secret. */
export function sdkClient(
  h: Harness,
  secret = SECRET_KEY,
  extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {},
): S3Client {
  return new S3Client({
    endpoint: h.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: secret },
    maxAttempts: 1,
    ...extra,
  });
}

/** For a suite's before(): a harness, the test user's client of it, and one bucket made. */
export async function startHarnessWithBucket(bucket: string): Promise<{ h: Harness; s3: S3Client }> {
  const h = await startHarness();
  const s3 = sdkClient(h);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await stopHarness(h, s3);
    throw err;
  }
  return { h, s3 };
}

/** For a suite's after(): the client and the harness, as far as before() got. */
export async function stopHarness(h: Harness | undefined, s3: S3Client | undefined): Promise<void> {
  s3?.destroy();
  await h?.stop();
}
