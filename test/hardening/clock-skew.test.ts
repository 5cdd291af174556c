import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { createRegistry } from '../../src/registry/factory.js';
import { type RunningWorker, startWorker } from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { type RunningStrata, STRATA_BIN, startLocal, tempDir, waitFor } from '../helpers/local-process.js';
import { contentOf, readAllBytes, run } from './fault-helpers.js';

/**
 * Issue 16, item 1, "clock skew between a client and a worker or etcd", with libfaketime (Debian
 * faketime) shifting a real process's clock:
 * - SigV4 at the S3 gateway: the aws CLI run 20 min ahead or behind gets 403 RequestTimeTooSkewed;
 *   14 min either way is accepted (the window is 15 min, as AWS's). A presigned URL is valid from
 *   15 min before its X-Amz-Date until X-Amz-Date + X-Amz-Expires, by the gateway's clock.
 * - A `strata worker` run 10 min ahead (and one 10 min behind) keeps its etcd lease — etcd counts
 *   lease TTLs itself; the worker measures its renewals on its own clock — and stays a member
 *   through several lease TTLs, serving reads and writes; a CLI 1 h off talks to the cluster (the
 *   bearer token has no time in it).
 * etcd itself cannot be skewed this way: it is a Go binary, which reads the clock through the
 * vDSO, not libc (checked: its log times stay real under faketime); docs/reliability.md says what
 * matters there.
 */

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const SKIP = existsSync(LIBFAKETIME)
  ? undefined
  : 'needs libfaketime (Debian faketime, scripts/test-packages.txt)';
const ACCESS_KEY = 'skew-key';
const SECRET_KEY = 'skew-secret-0123456789';
const BODY = 'bytes behind a skewed clock\n';
const LEASE_TTL_MS = 2000;
/** A process's environment that shifts its clock by `offset` (libfaketime syntax: +10m, -1h). */
const skewedEnv = (offset: string): NodeJS.ProcessEnv => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: offset });

describe('clock skew: SigV4 window, presigned URLs, worker leases', { skip: SKIP }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let awsEnv: NodeJS.ProcessEnv;
  let strata: RunningStrata;
  let etcd: EtcdProcess | undefined;
  const workers: RunningWorker[] = [];
  let cluster: ConnectedFileSystem | undefined;
  const figures: string[] = [];

  /** The aws CLI with its clock shifted by `offset` (faketime syntax: +20m, -14m). */
  const aws = (offset: string, args: string[]) =>
    run('aws', ['--endpoint-url', strata.ready.addresses.s3!, ...args], {
      env: { ...awsEnv, ...skewedEnv(offset) },
      timeoutMs: 60_000,
    });

  before(async () => {
    tmp = await tempDir('clock-skew');
    const ufs = join(tmp.dir, 'ufs');
    await mkdir(join(ufs, 'skew'), { recursive: true });
    await writeFile(join(ufs, 'skew', 'a.txt'), BODY);
    strata = await startLocal(
      ['--data-dir', join(tmp.dir, 'data'), '--mount', `/skew=file://${join(ufs, 'skew')}`],
      { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
    );
    const config = join(tmp.dir, 'aws-config');
    await writeFile(
      config,
      '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n',
    );
    awsEnv = {
      ...process.env,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(tmp.dir, 'no-credentials'),
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY,
      AWS_MAX_ATTEMPTS: '1', // one request per command: no retry with a corrected clock
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  });

  after(async () => {
    await cluster?.close().catch(() => undefined);
    for (const w of workers) await w.stop();
    await etcd?.stop();
    await strata?.stop();
    await tmp?.cleanup();
    if (figures.length > 0) console.log(`# clock-skew figures: ${figures.join('; ')}`);
  });

  test('SigV4: a client 20 min ahead or behind gets 403 RequestTimeTooSkewed; 14 min either way is accepted', async () => {
    const out = join(tmp.dir, 'got.txt');
    for (const offset of ['+20m', '-20m']) {
      const r = await aws(offset, ['s3api', 'get-object', '--bucket', 'skew', '--key', 'a.txt', out]);
      assert.notEqual(r.code, 0, `${offset}: refused`);
      assert.match(r.stderr, /RequestTimeTooSkewed/, `${offset}: ${r.stderr}`);
      assert.match(r.stderr, /403|Forbidden|too large/);
    }
    for (const offset of ['+14m', '-14m']) {
      const r = await aws(offset, ['s3api', 'get-object', '--bucket', 'skew', '--key', 'a.txt', out]);
      assert.equal(r.code, 0, `${offset}: ${r.stderr}`);
      assert.equal(await readFile(out, 'utf8'), BODY);
    }
    // A write from a skewed client is refused the same way, and nothing is written.
    const local = join(tmp.dir, 'put.txt');
    await writeFile(local, 'from the future\n');
    const put = await aws('+20m', [
      's3api',
      'put-object',
      '--bucket',
      'skew',
      '--key',
      'b.txt',
      '--body',
      local,
    ]);
    assert.match(put.stderr, /RequestTimeTooSkewed/);
    const head = await aws('+0', ['s3api', 'head-object', '--bucket', 'skew', '--key', 'b.txt']);
    assert.notEqual(head.code, 0, 'b.txt was not written');
  });

  test('presigned URLs: signed 10 min ahead works now, 20 min ahead is not valid yet, signed 10 min ago for 5 min has expired', async () => {
    const presign = async (offset: string, seconds: number) => {
      const r = await aws(offset, ['s3', 'presign', 's3://skew/a.txt', '--expires-in', String(seconds)]);
      assert.equal(r.code, 0, r.stderr);
      return fetch(r.stdout.trim());
    };
    const ahead = await presign('+10m', 300);
    assert.equal(await ahead.text(), BODY, `status ${ahead.status}`);
    assert.equal(ahead.status, 200);
    const future = await presign('+20m', 3600);
    assert.equal(future.status, 403);
    assert.match(await future.text(), /Request is not valid yet/);
    const old = await presign('-10m', 300);
    assert.equal(old.status, 403);
    assert.match(await old.text(), /Request has expired/);
    const stillValid = await presign('-10m', 3600);
    assert.equal(stillValid.status, 200, 'signed 10 min ago for an hour: valid');
    await stillValid.body?.cancel();
  });

  test('workers 10 min ahead and 10 min behind keep their etcd leases over 3 lease TTLs and serve; a CLI 1 h off works', async () => {
    etcd = await startEtcd();
    const args = (i: number) => ['--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', `${LEASE_TTL_MS}ms`];
    // Preloaded into node itself, not through the faketime wrapper: the wrapper does not pass
    // SIGTERM on, so stopping it would leave the worker running.
    workers.push(await startWorker(etcd.uri, args(0), skewedEnv('+10m')));
    workers.push(await startWorker(etcd.uri, args(1), skewedEnv('-10m')));
    const ids = workers.map((w) => w.ready.id);
    // The skew took: each worker's own record says when it started, by its clock.
    const registry = await createRegistry(etcd.uri, {});
    try {
      const listed = await registry.listWorkers();
      const started = ids.map((id) => listed.find((w) => w.id === id)!.startedAtMs - Date.now());
      assert.ok(started[0]! > 9 * 60_000, `worker 0 runs ahead: ${started[0]} ms`);
      assert.ok(started[1]! < -9 * 60_000, `worker 1 runs behind: ${started[1]} ms`);
      figures.push(
        `worker clocks ${Math.round(started[0]! / 1000)} s and ${Math.round(started[1]! / 1000)} s off`,
      );
      // Present at every look for 3 lease TTLs: a lease that was not kept alive is gone after one.
      const until = Date.now() + 3 * LEASE_TTL_MS;
      let looks = 0;
      await waitFor(
        'three lease TTLs with both skewed workers listed',
        async () => {
          const now = (await registry.listWorkers()).map((w) => w.id);
          for (const id of ids) assert.ok(now.includes(id), `worker ${id} left the membership`);
          looks++;
          return Date.now() >= until || undefined;
        },
        6 * LEASE_TTL_MS + 10_000,
      );
      figures.push(
        `both listed at ${looks} looks over ${3 * LEASE_TTL_MS} ms (lease TTL ${LEASE_TTL_MS} ms)`,
      );
    } finally {
      await registry.close();
    }
    cluster = await connect(etcd.uri);
    const ufs = join(tmp.dir, 'cluster-ufs');
    await mkdir(ufs);
    await cluster.mount('/c', pathToFileURL(ufs).toString());
    for (let i = 0; i < 8; i++) {
      const path = `/c/f${i}.bin`;
      const data = contentOf(path, 100_000);
      await cluster.write(path, Readable.from([data]));
      assert.ok((await readAllBytes(await cluster.read(path))).equals(data), `${path} reads back`);
    }
    await cluster.write('/c/note.txt', Readable.from([Buffer.from('written through skewed workers\n')]));
    const cli = await run(
      process.execPath,
      [STRATA_BIN, '--registry', etcd.uri, 'fs', 'cat', '/c/note.txt'],
      {
        env: skewedEnv('-1h'),
      },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, 'written through skewed workers\n');
  });
});
