import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { USERS_REFRESH_MS } from '../../src/gateway/s3/users.js';
import { type RunningWorker, startWorker } from '../helpers/cluster.js';
import { type Daemon, spawnDaemon } from '../helpers/daemon.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { runCli, STRATA_BIN, tempDir, waitFor } from '../helpers/local-process.js';
import { keyRefused } from './key-probe.js';
import { boto3Calls } from './users-harness.js';

/**
 * Standalone `strata gateway s3` in front of a real cluster (etcd, a worker): users added with
 * `strata s3 user add --registry etcd://…` — before or after the gateways started — sign
 * requests on every gateway; a removed key is refused on every one; config-file users too. No
 * mount covers "/": the buckets users create go to the gateways' bucket root.
 */

interface Key {
  readonly name?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}
type GatewayReady = { ready: true; addresses: { s3: string } };

describe('strata gateway s3 over an etcd registry follows the cluster’s S3 users', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let etcd: EtcdProcess;
  let worker: RunningWorker;
  const gateways: Daemon<GatewayReady>[] = [];
  let alice: Key;
  let bucketRoot: string;

  const cli = async (...args: string[]) => {
    const r = await runCli(args, { registry: etcd.uri });
    assert.equal(r.code, 0, `strata ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const boto = (gw: number, k: Key, calls: [string, Record<string, unknown>][]) =>
    boto3Calls(gateways[gw]!.ready.addresses.s3, k, calls);

  before(async () => {
    tmp = await tempDir('gwusers');
    const ufs = join(tmp.dir, 'ufs');
    const roots = join(tmp.dir, 'buckets');
    await mkdir(ufs, { recursive: true });
    await mkdir(roots, { recursive: true });
    etcd = await startEtcd();
    worker = await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, 'w0')]);
    // Nothing at "/": new buckets go to the bucket root (the config file's on gateway 0, the flag on 1).
    await cli('fs', 'mount', '/lake', pathToFileURL(ufs).toString());
    bucketRoot = roots;
    // A user that exists before the gateways start, and one only in a gateway's config file.
    alice = JSON.parse(await cli('s3', 'user', 'add', '--json', 'alice')) as Key;
    const config = join(tmp.dir, 'gateway.yaml');
    await writeFile(
      config,
      `s3:\n  bucketRoot: ${pathToFileURL(roots)}\n  users:\n    - name: reports\n      keys: [{ accessKeyId: REPORTSKEY1, secretAccessKey: reports-secret-1 }]\n`,
    );
    for (const extra of [
      ['--config', config],
      ['--bucket-root', pathToFileURL(roots).toString()],
    ])
      gateways.push(
        await spawnDaemon<GatewayReady>(
          process.execPath,
          [STRATA_BIN, 'gateway', 's3', '--registry', etcd.uri, '--port', '0', ...extra],
          { what: 'strata gateway s3' },
        ),
      );
  });
  after(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
    await worker?.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp?.cleanup();
  });

  test('a user made before the gateways started works on both; another made after is taken without a restart', async () => {
    assert.deepEqual(
      await boto(0, alice, [
        ['create_bucket', { Bucket: 'alice-b' }],
        ['put_object', { Bucket: 'alice-b', Key: 'k.txt', Body: 'via gateway 0' }],
      ]),
      ['ok', 'ok'],
    );
    assert.deepEqual(
      await boto(1, alice, [
        ['get_object', { Bucket: 'alice-b', Key: 'k.txt' }],
        ['list_buckets', {}],
      ]),
      ['via gateway 0', ['alice-b']],
    );
    // The bucket is a directory of the bucket root, mounted for every worker and gateway.
    assert.equal(await readFile(join(bucketRoot, 'alice-b', 'k.txt'), 'utf8'), 'via gateway 0');
    const bob = JSON.parse(await cli('s3', 'user', 'add', '--json', 'bob')) as Key;
    for (const gw of [0, 1])
      await waitFor(
        `bob's key on gateway ${gw}`,
        async () => (await boto(gw, bob, [['list_buckets', {}]]))[0] !== '403 InvalidAccessKeyId',
        USERS_REFRESH_MS + 5000,
      );
    assert.deepEqual(
      await boto(1, bob, [
        ['list_buckets', {}],
        ['get_object', { Bucket: 'alice-b', Key: 'k.txt' }],
        ['create_bucket', { Bucket: 'bob-b' }],
      ]),
      [[], '403 AccessDenied', 'ok'],
    );
    assert.deepEqual(await boto(0, bob, [['put_object', { Bucket: 'bob-b', Key: 'b', Body: 'bob' }]]), [
      'ok',
    ]);
    assert.equal(await readFile(join(bucketRoot, 'bob-b', 'b'), 'utf8'), 'bob');
  });

  test('the config file’s users sign on the gateway that has the file only', async () => {
    const reports = { accessKeyId: 'REPORTSKEY1', secretAccessKey: 'reports-secret-1' };
    assert.deepEqual(
      await boto(0, reports, [
        ['list_buckets', {}],
        ['get_object', { Bucket: 'alice-b', Key: 'k.txt' }],
      ]),
      [[], '403 AccessDenied'],
    );
    assert.deepEqual(await boto(1, reports, [['list_buckets', {}]]), ['403 InvalidAccessKeyId']);
  });

  test('key rm: the key is refused on every gateway within the refresh bound, the other key keeps working', async () => {
    const second = JSON.parse(await cli('s3', 'user', 'key', 'add', '--json', 'alice')) as Key;
    for (const gw of [0, 1])
      await waitFor(
        `the new key on gateway ${gw}`,
        async () => (await boto(gw, second, [['list_buckets', {}]]))[0] !== '403 InvalidAccessKeyId',
        USERS_REFRESH_MS + 5000,
      );
    await cli('s3', 'user', 'key', 'rm', 'alice', second.accessKeyId);
    const t0 = performance.now();
    for (const gw of [0, 1]) {
      await waitFor(
        `gateway ${gw} refusing the key (probe)`,
        () => keyRefused(gateways[gw]!.ready.addresses.s3, second),
        USERS_REFRESH_MS + 5000,
      );
      console.log(
        `figure: removed key refused by gateway ${gw} ${Math.round(performance.now() - t0)} ms after key rm returned (etcd)`,
      );
    }
    for (const gw of [0, 1])
      await waitFor(
        `the removed key refused on gateway ${gw}`,
        async () => (await boto(gw, second, [['list_buckets', {}]]))[0] === '403 InvalidAccessKeyId',
        USERS_REFRESH_MS + 5000,
      );
    assert.deepEqual(await boto(1, alice, [['get_object', { Bucket: 'alice-b', Key: 'k.txt' }]]), [
      'via gateway 0',
    ]);
  });
});
