import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { type Run, run } from './harness.js';

/**
 * A real `strata local` with a file:// store at "/", root keys in its environment and two users,
 * alice and bob, made with `strata s3 user add --json`; the clients the users tests drive: the
 * aws CLI and boto3 (users_boto3.py) as any key, the CLI against its registry, unsigned GETs.
 */

const BOTO = fileURLToPath(new URL('../../../test/gateway/users_boto3.py', import.meta.url));
export const ROOT = {
  name: 'root',
  accessKeyId: 'ROOTKEYUSERSTEST',
  secretAccessKey: 'root-secret-users-test',
};

export interface Key {
  readonly name: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

type Calls = [string, Record<string, unknown>][];

/** boto3 calls as `k` against `endpoint`: one answer per call ("ok", a value, or "STATUS Code"). */
export async function boto3Calls(
  endpoint: string,
  k: Pick<Key, 'accessKeyId' | 'secretAccessKey'>,
  calls: Calls,
): Promise<unknown[]> {
  const r = await run(
    '/usr/bin/python3',
    [BOTO, endpoint, k.accessKeyId, k.secretAccessKey],
    process.env,
    JSON.stringify(calls),
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown[];
}

export interface UsersLocal {
  readonly local: RunningStrata;
  readonly s3: string;
  /** A scratch directory with hello.txt ("hello from alice\n"). */
  readonly work: string;
  readonly alice: Key;
  readonly bob: Key;
  /** `strata …` against the registry; fails the test on a non-zero exit. */
  cli(...args: string[]): Promise<string>;
  awsEnv(k: Key): NodeJS.ProcessEnv;
  /** The aws CLI as `k`; with 'fails' the call must fail (its stderr says why). */
  aws(k: Key, args: string[], fails?: 'fails'): Promise<Run>;
  awsJson(k: Key, args: string[]): Promise<unknown>;
  boto(k: Key, calls: Calls): Promise<unknown[]>;
  /** Status of an unsigned GET. */
  anonymousGet(path: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startUsersLocal(): Promise<UsersLocal> {
  const tmp = await tempDir('s3users');
  const store = join(tmp.dir, 'store');
  const work = join(tmp.dir, 'work');
  await mkdir(store, { recursive: true });
  await mkdir(work, { recursive: true });
  const awsConfig = join(work, 'aws-config');
  await writeFile(
    awsConfig,
    '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n',
  );
  await writeFile(join(work, 'hello.txt'), 'hello from alice\n');
  const local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${store}`], {
    STRATA_S3_ACCESS_KEY_ID: ROOT.accessKeyId,
    STRATA_S3_SECRET_ACCESS_KEY: ROOT.secretAccessKey,
  });
  const s3 = local.ready.addresses.s3!;
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { registry: local.registry });
    assert.equal(r.code, 0, `strata ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const awsEnv = (k: Key): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
    AWS_ACCESS_KEY_ID: k.accessKeyId,
    AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  });
  const aws = async (k: Key, args: string[], fails?: 'fails'): Promise<Run> => {
    const r = await run('aws', ['--endpoint-url', s3, ...args], awsEnv(k));
    if (fails === undefined) assert.equal(r.code, 0, `aws ${args.join(' ')} as ${k.name}: ${r.stderr}`);
    else assert.notEqual(r.code, 0, `aws ${args.join(' ')} as ${k.name} should fail: ${r.stdout}`);
    return r;
  };
  try {
    const alice = JSON.parse(await cli('s3', 'user', 'add', '--json', 'alice')) as Key;
    const bob = JSON.parse(await cli('s3', 'user', 'add', '--json', 'bob')) as Key;
    return {
      local,
      s3,
      work,
      alice,
      bob,
      cli,
      awsEnv,
      aws,
      awsJson: async (k, args) => JSON.parse((await aws(k, args)).stdout) as unknown,
      boto: (k, calls) => boto3Calls(s3, k, calls),
      anonymousGet: async (path) => (await fetch(`${s3}${path}`)).status,
      async stop() {
        await local.stop();
        await tmp.cleanup();
      },
    };
  } catch (err) {
    await local.stop();
    await tmp.cleanup();
    throw err;
  }
}
