import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { run } from '../gateway/harness.js';
import {
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
} from '../helpers/cluster.js';
import { type Daemon, spawnDaemon } from '../helpers/daemon.js';
import { runCli, STRATA_BIN, tempDir } from '../helpers/local-process.js';
import { makeTestCa, type TestCa } from './tls-ca.js';
import { startTlsEtcd, type TlsEtcd } from './tls-etcd.js';
import { assertPlainHttpRefused } from './tls-plain.js';

/**
 * Issue 16 item 3, a cluster: etcd serving clients over TLS only (etcds://), a `strata worker`,
 * a `strata gateway s3` and a `strata scheduler` each with --tls-cert/--tls-key and the test CA
 * as --ca-file; the Strata CLI and the aws CLI as clients. The worker RPC still wants the
 * cluster token over TLS.
 */

const S3_ENV = { STRATA_S3_ACCESS_KEY_ID: 'tlscluster', STRATA_S3_SECRET_ACCESS_KEY: 'tls-cluster-secret' };

describe('a TLS cluster: etcds://, strata worker, gateway s3 and scheduler on https', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ca: TestCa;
  let etcd: TlsEtcd;
  let worker: RunningWorker;
  let gateway: Daemon<{ addresses: { s3: string; admin?: string } }>;
  let scheduler: RunningScheduler;
  const env = { STRATA_CA_FILE: '', NODE_EXTRA_CA_CERTS: '' };

  before(async () => {
    tmp = await tempDir('tls-cluster');
    ca = await makeTestCa(tmp.dir);
    etcd = await startTlsEtcd(ca);
    const tlsFlags = ['--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--ca-file', ca.caFile];
    worker = await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, 'w1'), ...tlsFlags], env);
    const store = join(tmp.dir, 'store');
    await mkdir(store, { recursive: true });
    await writeFile(join(store, 'seed.txt'), 'seeded in the store\n');
    const mount = await runCli(
      ['--ca-file', ca.caFile, 'fs', 'mount', '/lake', pathToFileURL(store).toString()],
      {
        registry: etcd.uri,
        env,
      },
    );
    assert.equal(mount.code, 0, mount.stderr);
    gateway = await spawnDaemon(
      process.execPath,
      [
        STRATA_BIN,
        'gateway',
        's3',
        '--registry',
        etcd.uri,
        '--port',
        '0',
        '--metrics-port',
        '0',
        ...tlsFlags,
      ],
      { env: { ...env, ...S3_ENV }, what: 'strata gateway s3' },
    );
    scheduler = await startScheduler(etcd.uri, tlsFlags, env);
  });

  after(async () => {
    await scheduler?.stop();
    await gateway?.stop();
    await worker?.stop();
    await etcd?.stop();
    await ca?.close();
    await tmp?.cleanup();
  });

  test('every daemon announces https:// addresses, and none serves plain HTTP', async () => {
    const addresses = {
      'worker RPC': worker.ready.addresses.worker,
      'worker admin': worker.ready.addresses.admin,
      'gateway S3': gateway.ready.addresses.s3,
      'gateway metrics': gateway.ready.addresses.admin ?? '',
      'scheduler admin': scheduler.ready.addresses.admin,
    };
    for (const [what, address] of Object.entries(addresses)) {
      assert.match(address, /^https:\/\/127\.0\.0\.1:\d+$/, `${what}: ${address}`);
      await assertPlainHttpRefused(address, what);
    }
    // The worker registered its https address in etcd: the CLI's report lists it.
    const report = await runCli(['--ca-file', ca.caFile, 'report', '--json'], { registry: etcd.uri, env });
    assert.equal(report.code, 0, report.stderr);
    assert.ok(report.stdout.includes(worker.ready.addresses.worker), report.stdout);
  });

  test('the Strata CLI over etcds:// writes and reads through the TLS worker; without the CA it fails', async () => {
    const put = await runCli(['--ca-file', ca.caFile, 'fs', 'put', '-', '/lake/hello.txt'], {
      registry: etcd.uri,
      input: 'hello over etcds and https\n',
      env,
    });
    assert.equal(put.code, 0, put.stderr);
    const cat = await runCli(['fs', 'cat', '/lake/hello.txt'], {
      registry: etcd.uri,
      env: { ...env, STRATA_CA_FILE: ca.caFile },
    });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'hello over etcds and https\n');
    assert.equal(await readFile(join(tmp.dir, 'store', 'hello.txt'), 'utf8'), 'hello over etcds and https\n');
    // NODE_EXTRA_CA_CERTS alone: undici (workers) and gRPC (etcd) both take Node's list.
    const extra = await runCli(['fs', 'cat', '/lake/hello.txt'], {
      registry: etcd.uri,
      env: { ...env, NODE_EXTRA_CA_CERTS: ca.caFile },
    });
    assert.equal(extra.code, 0, extra.stderr);
    assert.equal(extra.stdout, 'hello over etcds and https\n');
    const t0 = Date.now();
    const untrusted = await runCli(['fs', 'cat', '/lake/hello.txt'], { registry: etcd.uri, env });
    process.stdout.write(
      `etcds:// without the CA failed after ${Date.now() - t0} ms: ${untrusted.stderr.trim()}\n`,
    );
    assert.notEqual(untrusted.code, 0);
    assert.equal(untrusted.stdout, '');
    assert.match(untrusted.stderr, /UNAVAILABLE/);
  });

  test("the worker RPC and the scheduler's jobs API over TLS still need the cluster token; /healthz answers anyone", async () => {
    const sched = scheduler.ready.addresses.admin;
    const sh = await request(`${sched}/healthz`, { dispatcher: ca.agent });
    assert.equal(sh.statusCode, 200);
    await sh.body.dump();
    for (const [method, body] of [
      ['GET', undefined],
      ['POST', '{"kind":"load","path":"/lake"}'],
    ] as const) {
      const res = await request(`${sched}/api/v1/jobs`, {
        method,
        dispatcher: ca.agent,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
      assert.equal(res.statusCode, 401, `${method} /api/v1/jobs on the scheduler: ${await res.body.text()}`);
    }
    const w = worker.ready.addresses.worker;
    const health = await request(`${w}/healthz`, { dispatcher: ca.agent });
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    for (const [method, path] of [
      ['GET', '/rpc/v1/list?path=/lake'],
      ['GET', '/rpc/v1/read?path=/lake/seed.txt'],
      ['POST', '/rpc/v1/mount'],
    ] as const) {
      const res = await request(`${w}${path}`, {
        method,
        dispatcher: ca.agent,
        ...(method === 'POST' ? { body: '{"path":"/x","uri":"file:///etc"}' } : {}),
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, 401, `${method} ${path}: ${text}`);
      assert.ok(!text.includes('seeded'), text);
    }
  });

  test('aws CLI reads and writes through the TLS gateway; strata job ls/load reach the TLS scheduler', async () => {
    const s3 = gateway.ready.addresses.s3;
    const awsEnv = {
      ...process.env,
      HOME: tmp.dir,
      AWS_ACCESS_KEY_ID: S3_ENV.STRATA_S3_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: S3_ENV.STRATA_S3_SECRET_ACCESS_KEY,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    };
    const back = join(tmp.dir, 'seed-back.txt');
    const get = await run(
      'aws',
      ['--endpoint-url', s3, '--ca-bundle', ca.caFile, 's3', 'cp', 's3://lake/seed.txt', back],
      awsEnv,
    );
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await readFile(back, 'utf8'), 'seeded in the store\n');
    const put = await run(
      'aws',
      ['--endpoint-url', s3, '--ca-bundle', ca.caFile, 's3', 'cp', back, 's3://lake/via-s3.txt'],
      awsEnv,
    );
    assert.equal(put.code, 0, put.stderr);
    assert.equal(await readFile(join(tmp.dir, 'store', 'via-s3.txt'), 'utf8'), 'seeded in the store\n');

    const load = await runCli(['--ca-file', ca.caFile, 'job', 'load', '/lake', '--wait'], {
      registry: etcd.uri,
      env,
    });
    assert.equal(load.code, 0, load.stderr);
    const ls = await runCli(['--ca-file', ca.caFile, 'job', 'ls'], { registry: etcd.uri, env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /LOAD\s+SUCCEEDED/i);
    const untrusted = await runCli(['job', 'ls'], { registry: etcd.uri, env });
    assert.notEqual(untrusted.code, 0);
  });
});

describe('etcd with client-certificate auth: --etcd-cert/--etcd-key and STRATA_ETCD_CERT/KEY', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ca: TestCa;
  let etcd: TlsEtcd;
  let worker: RunningWorker | undefined;
  const env = { STRATA_CA_FILE: '', NODE_EXTRA_CA_CERTS: '', STRATA_ETCD_CERT: '', STRATA_ETCD_KEY: '' };

  before(async () => {
    tmp = await tempDir('tls-etcd-mtls');
    ca = await makeTestCa(tmp.dir);
    etcd = await startTlsEtcd(ca, { clientCertAuth: true });
  });

  after(async () => {
    await worker?.stop();
    await etcd?.stop();
    await ca?.close();
    await tmp?.cleanup();
  });

  test('a worker with --etcd-cert joins, the CLI with STRATA_ETCD_CERT reads; without a client certificate etcd refuses', async () => {
    worker = await startWorker(
      etcd.uri,
      [
        '--data-dir',
        join(tmp.dir, 'w1'),
        '--ca-file',
        ca.caFile,
        '--etcd-cert',
        ca.certFile,
        '--etcd-key',
        ca.keyFile,
      ],
      env,
    );
    const store = join(tmp.dir, 'store');
    await mkdir(store, { recursive: true });
    await writeFile(join(store, 'a.txt'), 'behind mutual TLS\n');
    const withCert = {
      ...env,
      STRATA_CA_FILE: ca.caFile,
      STRATA_ETCD_CERT: ca.certFile,
      STRATA_ETCD_KEY: ca.keyFile,
    };
    const mount = await runCli(['fs', 'mount', '/m', pathToFileURL(store).toString()], {
      registry: etcd.uri,
      env: withCert,
    });
    assert.equal(mount.code, 0, mount.stderr);
    const cat = await runCli(['fs', 'cat', '/m/a.txt'], { registry: etcd.uri, env: withCert });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'behind mutual TLS\n');
    const noCert = await runCli(['fs', 'cat', '/m/a.txt'], {
      registry: etcd.uri,
      env: { ...env, STRATA_CA_FILE: ca.caFile },
    });
    assert.notEqual(noCert.code, 0);
    assert.equal(noCert.stdout, '');
    process.stdout.write(`etcds:// without a client certificate: ${noCert.stderr.trim()}\n`);
    const halfCert = await runCli(['fs', 'ls', '/'], {
      registry: etcd.uri,
      env: { ...env, STRATA_CA_FILE: ca.caFile, STRATA_ETCD_CERT: ca.certFile },
    });
    assert.notEqual(halfCert.code, 0);
    assert.match(halfCert.stderr, /TLS needs both STRATA_ETCD_CERT and STRATA_ETCD_KEY/);
  });
});
