import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { run } from '../gateway/harness.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { makeTestCa, type TestCa } from './tls-ca.js';
import { assertPlainHttpRefused } from './tls-plain.js';

/**
 * Issue 16 item 3, one process: `strata local --tls-cert --tls-key` puts every port on TLS; the
 * CLI trusts --ca-file, STRATA_CA_FILE and NODE_EXTRA_CA_CERTS; aws CLI and boto3 connect with the
 * test's CA; plain HTTP to a TLS port is never served. (The cluster: tls-cluster.test.ts.)
 */

const S3_ENV = { STRATA_S3_ACCESS_KEY_ID: 'tlsadmin', STRATA_S3_SECRET_ACCESS_KEY: 'tls-secret-123' };

describe('strata local with --tls-cert and --tls-key', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let ca: TestCa;
  let strata: RunningStrata;
  let awsEnv: NodeJS.ProcessEnv;

  before(async () => {
    tmp = await tempDir('tls');
    ca = await makeTestCa(tmp.dir);
    strata = await startLocal(
      ['--data-dir', join(tmp.dir, 'data'), '--tls-cert', ca.certFile, '--tls-key', ca.keyFile],
      S3_ENV,
    );
    awsEnv = {
      ...process.env,
      HOME: tmp.dir,
      AWS_ACCESS_KEY_ID: S3_ENV.STRATA_S3_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: S3_ENV.STRATA_S3_SECRET_ACCESS_KEY,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    };
    delete awsEnv.AWS_CA_BUNDLE;
  });

  after(async () => {
    await strata?.stop();
    await ca?.close();
    await tmp?.cleanup();
  });

  test('every address of the ready line is https://, and plain HTTP to each port is not served', async () => {
    const a = strata.ready.addresses;
    for (const role of ['registry', 'admin', 'worker', 's3'])
      assert.match(a[role] ?? '', /^https:\/\/127\.0\.0\.1:\d+$/, `addresses.${role} = ${a[role]}`);
    const health = await request(`${a.admin}/healthz`, { dispatcher: ca.agent });
    assert.equal(health.statusCode, 200);
    assert.equal(((await health.body.json()) as { status: string }).status, 'ok');
    await assertPlainHttpRefused(a.admin!, 'the admin/RPC port');
    await assertPlainHttpRefused(a.s3!, 'the S3 port');
    // Still serving after the refused plain connections.
    assert.equal((await request(`${a.admin}/healthz`, { dispatcher: ca.agent })).statusCode, 200);
  });

  test('the Strata CLI trusts --ca-file, STRATA_CA_FILE and NODE_EXTRA_CA_CERTS; without the CA it fails saying so', async () => {
    const env = { STRATA_CA_FILE: '', NODE_EXTRA_CA_CERTS: '' };
    const put = await runCli(['--ca-file', ca.caFile, 'fs', 'put', '-', '/tls/hello.txt'], {
      registry: strata.registry,
      input: 'over tls\n',
      env,
    });
    assert.equal(put.code, 0, put.stderr);
    const cat = await runCli(['fs', 'cat', '/tls/hello.txt'], {
      registry: strata.registry,
      env: { ...env, STRATA_CA_FILE: ca.caFile },
    });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'over tls\n');
    const ls = await runCli(['fs', 'ls', '/tls'], {
      registry: strata.registry,
      env: { ...env, NODE_EXTRA_CA_CERTS: ca.caFile },
    });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /hello\.txt/);
    const jobs = await runCli(['job', 'ls', '--ca-file', ca.caFile], { registry: strata.registry, env });
    assert.equal(jobs.code, 0, jobs.stderr);
    assert.match(jobs.stdout, /KIND/);

    for (const args of [
      ['fs', 'cat', '/tls/hello.txt'],
      ['job', 'ls'],
    ]) {
      const untrusted = await runCli(args, { registry: strata.registry, env });
      assert.notEqual(untrusted.code, 0, `${args.join(' ')} without the CA: ${untrusted.stdout}`);
      assert.match(untrusted.stderr, /not signed by a trusted CA: pass --ca-file FILE/, untrusted.stderr);
      assert.ok(!untrusted.stdout.includes('over tls'));
    }
    // The CLI pointed at the TLS port with http://: refused, and told why.
    const plain = await runCli(['--ca-file', ca.caFile, 'fs', 'ls', '/'], {
      registry: strata.registry.replace(/^https:/, 'http:'),
      env,
    });
    assert.equal(plain.code, 69, plain.stderr);
    assert.match(plain.stderr, /its address is https:\/\//);
    const notPem = join(tmp.dir, 'not-a-ca.txt');
    await writeFile(notPem, 'hello\n');
    const bad = await runCli(['--ca-file', notPem, 'fs', 'ls', '/'], { registry: strata.registry, env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--ca-file .*not-a-ca\.txt: not a PEM file/);
  });

  test('aws CLI (--ca-bundle) and boto3 (verify=CA) PUT and GET over TLS; without the CA they refuse', async () => {
    const s3 = strata.ready.addresses.s3!;
    const aws = (args: string[]) => run('aws', ['--endpoint-url', s3, ...args], awsEnv);
    const mb = await aws(['--ca-bundle', ca.caFile, 's3', 'mb', 's3://tlsbucket']);
    assert.equal(mb.code, 0, mb.stderr);
    const src = join(tmp.dir, 'up.txt');
    await writeFile(src, 'sent by the aws CLI over TLS\n');
    const cp = await aws(['--ca-bundle', ca.caFile, 's3', 'cp', src, 's3://tlsbucket/aws.txt']);
    assert.equal(cp.code, 0, cp.stderr);
    const back = join(tmp.dir, 'back.txt');
    const get = await aws(['--ca-bundle', ca.caFile, 's3', 'cp', 's3://tlsbucket/aws.txt', back]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await readFile(back, 'utf8'), 'sent by the aws CLI over TLS\n');
    const untrusted = await aws(['s3', 'ls', 's3://tlsbucket/']);
    assert.notEqual(untrusted.code, 0, untrusted.stdout);
    assert.match(untrusted.stderr, /SSL|certificate/i);

    const script = `
import sys, boto3
from botocore.config import Config
endpoint, key, secret, ca = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
    region_name="us-east-1", verify=ca,
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}))
s3.put_object(Bucket="tlsbucket", Key="boto3.txt", Body=b"sent by boto3 over TLS")
print(s3.get_object(Bucket="tlsbucket", Key="boto3.txt")["Body"].read().decode())
print(s3.get_object(Bucket="tlsbucket", Key="aws.txt")["Body"].read().decode(), end="")
`;
    const py = await run(
      'python3',
      ['-c', script, s3, S3_ENV.STRATA_S3_ACCESS_KEY_ID, S3_ENV.STRATA_S3_SECRET_ACCESS_KEY, ca.caFile],
      awsEnv,
    );
    assert.equal(py.code, 0, py.stderr);
    assert.equal(py.stdout, 'sent by boto3 over TLS\nsent by the aws CLI over TLS\n');
    // And the object boto3 wrote is the file the Strata client reads.
    const cat = await runCli(['--ca-file', ca.caFile, 'fs', 'cat', '/tlsbucket/boto3.txt'], {
      registry: strata.registry,
    });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'sent by boto3 over TLS');
  });

  test('a TLS flag without its pair, or a file that is not PEM, stops the start naming the flag', async () => {
    const alone = await runCli([
      'local',
      '--port',
      '0',
      '--data-dir',
      join(tmp.dir, 'd2'),
      '--tls-cert',
      ca.certFile,
    ]);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /TLS needs both --tls-cert .* and --tls-key/);
    const notPem = join(tmp.dir, 'key.txt');
    await writeFile(notPem, 'not a key\n');
    const bad = await runCli([
      'local',
      '--port',
      '0',
      '--data-dir',
      join(tmp.dir, 'd3'),
      '--tls-cert',
      ca.certFile,
      '--tls-key',
      notPem,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--tls-key .*key\.txt: not a PEM file/);
    const missing = await runCli(['local', '--port', '0', '--data-dir', join(tmp.dir, 'd4')], {
      env: { STRATA_TLS_CERT: join(tmp.dir, 'nope.pem'), STRATA_TLS_KEY: ca.keyFile },
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope\.pem: cannot read it \(ENOENT\)/);
  });
});
