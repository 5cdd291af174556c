import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { run } from './harness.js';
import { boto3Calls } from './users-harness.js';

/**
 * "A new user may create buckets" where no mount covers "/" (`strata local --mount /m=…`): with
 * a bucket root (--s3-bucket-root) CreateBucket mounts <root>/<bucket> at /<bucket> and
 * DeleteBucket removes it again; without one CreateBucket is 400 InvalidRequest saying what to
 * configure. Real `strata local`, users from `strata s3 user add`, boto3 and the aws CLI.
 */

const ROOT = { accessKeyId: 'ROOTKEYBUCKETROOT', secretAccessKey: 'root-secret-bucket-root' };

interface Key {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

describe('CreateBucket without a mount at "/": the bucket root', () => {
  const stops: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  async function setup(extra: string[]) {
    const tmp = await tempDir('bucketroot');
    const m = join(tmp.dir, 'm');
    const roots = join(tmp.dir, 'roots');
    await mkdir(m, { recursive: true });
    await mkdir(roots, { recursive: true });
    const local: RunningStrata = await startLocal(
      [
        '--data-dir',
        join(tmp.dir, 'data'),
        '--mount',
        `/mnt=file://${m}`,
        ...extra.map((a) => a.replace('ROOTS', roots)),
      ],
      { STRATA_S3_ACCESS_KEY_ID: ROOT.accessKeyId, STRATA_S3_SECRET_ACCESS_KEY: ROOT.secretAccessKey },
    );
    stops.push(tmp.cleanup, () => local.stop());
    const s3 = local.ready.addresses.s3!;
    const user = async (name: string): Promise<Key> => {
      const r = await runCli(['s3', 'user', 'add', '--json', name], { registry: local.registry });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Key;
    };
    const boto = (k: Key, calls: [string, Record<string, unknown>][]) => boto3Calls(s3, k, calls);
    const config = join(tmp.dir, 'aws-config');
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
    const aws = (k: Key, args: string[]) =>
      run('aws', ['--endpoint-url', s3, ...args], {
        ...process.env,
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: join(tmp.dir, 'none'),
        AWS_ACCESS_KEY_ID: k.accessKeyId,
        AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      });
    return { local, roots, m, user, boto, aws };
  }

  test('without a bucket root: 400 InvalidRequest that says what to configure (not NoSuchBucket)', async () => {
    const { user, boto, aws } = await setup([]);
    const alice = await user('alice');
    assert.deepEqual(
      await boto(alice, [
        ['create_bucket', { Bucket: 'alice-b' }],
        ['list_buckets', {}],
      ]),
      ['400 InvalidRequest', []],
    );
    const r = await aws(ROOT, ['s3', 'mb', 's3://root-b']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /InvalidRequest/);
    assert.match(r.stderr, /bucket root/);
    assert.match(r.stderr, /--s3-bucket-root/);
    assert.match(r.stderr, /strata fs mount \//);
    // The mount point itself is a bucket (root's, as every bucket without an owner record).
    assert.deepEqual(await boto(ROOT, [['create_bucket', { Bucket: 'mnt' }]]), [
      '409 BucketAlreadyOwnedByYou',
    ]);
  });

  test('with --s3-bucket-root: users create buckets, each a mount of <root>/<bucket>; DeleteBucket removes it', async () => {
    const { local, roots, user, boto } = await setup(['--s3-bucket-root', 'file://ROOTS']);
    const alice = await user('alice');
    const bob = await user('bob');
    assert.deepEqual(
      await boto(alice, [
        ['create_bucket', { Bucket: 'alice-b' }],
        ['put_object', { Bucket: 'alice-b', Key: 'dir/a.txt', Body: 'alice data' }],
        ['get_object', { Bucket: 'alice-b', Key: 'dir/a.txt' }],
        ['list_buckets', {}],
        ['create_bucket', { Bucket: 'alice-b' }],
      ]),
      ['ok', 'ok', 'alice data', ['alice-b'], '409 BucketAlreadyOwnedByYou'],
    );
    // The object is a file in the bucket root's directory of that name.
    assert.equal(await readFile(join(roots, 'alice-b', 'dir', 'a.txt'), 'utf8'), 'alice data');
    assert.deepEqual(
      await boto(bob, [
        ['create_bucket', { Bucket: 'bob-b' }],
        ['create_bucket', { Bucket: 'alice-b' }],
        ['get_object', { Bucket: 'alice-b', Key: 'dir/a.txt' }],
        ['list_buckets', {}],
      ]),
      ['ok', '409 BucketAlreadyExists', '403 AccessDenied', ['bob-b']],
    );
    // Root sees the operator's mount and both buckets, never the bucket root's own mount.
    assert.deepEqual(await boto(ROOT, [['list_buckets', {}]]), [['alice-b', 'bob-b', 'mnt']]);
    const mounts = await runCli(['fs', 'mounts', '--json'], { registry: local.registry });
    assert.equal(mounts.code, 0, mounts.stderr);
    const paths = (JSON.parse(mounts.stdout) as { path: string }[]).map((x) => x.path);
    assert.deepEqual(paths.sort(), ['/.strata-s3-buckets', '/alice-b', '/bob-b', '/mnt']);
    assert.deepEqual(
      await boto(alice, [
        ['delete_bucket', { Bucket: 'alice-b' }],
        ['delete_object', { Bucket: 'alice-b', Key: 'dir/a.txt' }],
        ['delete_bucket', { Bucket: 'alice-b' }],
        ['list_buckets', {}],
      ]),
      ['409 BucketNotEmpty', 'ok', 'ok', []],
    );
    assert.deepEqual((await readdir(roots)).sort(), ['bob-b']);
    // An operator's mount point is not deleted through S3.
    assert.deepEqual(await boto(ROOT, [['delete_bucket', { Bucket: 'mnt' }]]), ['409 InvalidBucketState']);
    // The name is free again.
    assert.deepEqual(
      await boto(bob, [
        ['create_bucket', { Bucket: 'alice-b' }],
        ['list_buckets', {}],
      ]),
      ['ok', ['alice-b', 'bob-b']],
    );
  });

  test('a bucket root that is not a store URI is refused at start', async () => {
    const tmp = await tempDir('bucketroot-bad');
    stops.push(tmp.cleanup);
    const r = await runCli([
      'local',
      '--port',
      '0',
      '--data-dir',
      join(tmp.dir, 'd'),
      '--s3-bucket-root',
      '/srv/buckets',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bucket root must be a store URI/);
  });
});
