import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { metric, type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { type NginxServer, startNginx } from '../helpers/nginx.js';
import { createBucket, type SwiftS3, startSwiftS3, testS3Client } from '../helpers/swift.js';

const MiB = 1024 * 1024;

async function body(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('strata local over real S3 (Swift s3api) and HTTP (nginx) stores, through the CLI', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let swift: SwiftS3;
  let s3: S3Client;
  let nginx: NginxServer;
  let strata: RunningStrata;
  const object = randomBytes(3 * MiB + 11);
  let s3Options: string[];

  const cli = (args: string[], input?: Buffer) =>
    runCli(args, { registry: strata.registry, ...(input ? { input } : {}) });

  before(async () => {
    tmp = await tempDir('stores');
    swift = await startSwiftS3();
    s3 = testS3Client(swift);
    await createBucket(swift, 'lake');
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'raw/object.bin', Body: object }));
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'raw/notes.txt', Body: 'first' }));
    const web = join(tmp.dir, 'web');
    await mkdir(join(web, 'datasets'), { recursive: true });
    await writeFile(join(web, 'datasets', 'iris.csv'), 'sepal,petal\n1,2\n');
    nginx = await startNginx(web);
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data')]);
    s3Options = [
      '--option',
      `endpoint=${swift.endpoint}`,
      '--option',
      `region=${swift.region}`,
      '--option',
      `accessKeyId=${swift.accessKeyId}`,
      '--option',
      `secretAccessKey=${swift.secretAccessKey}`,
    ];
  });

  after(async () => {
    await strata?.stop();
    await nginx?.stop();
    s3?.destroy();
    await swift?.stop();
    await tmp?.cleanup();
  });

  test('mount an S3 bucket; secrets never shown', async () => {
    const mounted = await cli(['fs', 'mount', '/lake', 's3://lake', '--sync-interval', '0', ...s3Options]);
    assert.equal(mounted.code, 0, mounted.stderr);
    const mounts = await cli(['fs', 'mounts', '--json']);
    assert.equal(mounts.code, 0, mounts.stderr);
    const list = JSON.parse(mounts.stdout) as Array<{ path: string; options: Record<string, string> }>;
    const lake = list.find((m) => m.path === '/lake');
    assert.ok(lake);
    assert.equal(lake.options.secretAccessKey, '****');
    assert.ok(
      !mounts.stdout.includes(swift.secretAccessKey === 'testing' ? 'testing"' : swift.secretAccessKey),
    );
    assert.ok(
      !strata.stderr().includes(`secretAccessKey":"${swift.secretAccessKey}`),
      'logs do not carry the secret',
    );
  });

  test('cat reads through the cache: the second read does not touch S3', async () => {
    const first = await runCliBinary(['fs', 'cat', '/lake/raw/object.bin']);
    assert.ok(first.equals(object));
    const ufsBytes = await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/lake' });
    assert.equal(ufsBytes, object.length);
    const second = await runCliBinary(['fs', 'cat', '/lake/raw/object.bin']);
    assert.ok(second.equals(object));
    assert.equal(await metric(strata.registry, 'strata_ufs_read_bytes_total', { mount: '/lake' }), ufsBytes);
    const stat = await cli(['fs', 'stat', '--json', '/lake/raw/object.bin']);
    const info = JSON.parse(stat.stdout) as { cachedBytes: number; cachedPercent: number; etag?: string };
    assert.equal(info.cachedBytes, object.length);
    assert.equal(info.cachedPercent, 100);
    assert.ok(info.etag, 'S3 etag is part of the status');
  });

  test('ls shows the bucket listing; put writes through to S3', async () => {
    const ls = await cli(['fs', 'ls', '--json', '/lake/raw']);
    assert.equal(ls.code, 0, ls.stderr);
    const names = (JSON.parse(ls.stdout) as Array<{ name: string }>).map((e) => e.name);
    assert.deepEqual(names, ['notes.txt', 'object.bin']);
    const local = join(tmp.dir, 'upload.bin');
    const payload = randomBytes(MiB + 5);
    await writeFile(local, payload);
    const put = await cli(['fs', 'put', local, '/lake/up/upload.bin']);
    assert.equal(put.code, 0, put.stderr);
    const got = await body(
      (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: 'up/upload.bin' }))).Body as Readable,
    );
    assert.ok(got.equals(payload));
    const get = await cli(['fs', 'get', '/lake/up/upload.bin', join(tmp.dir, 'download.bin')]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(join(tmp.dir, 'download.bin'))).equals(payload));
  });

  test('with sync interval 0 an out-of-band S3 change is seen at once', async () => {
    assert.equal((await runCliBinary(['fs', 'cat', '/lake/raw/notes.txt'])).toString(), 'first');
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'raw/notes.txt', Body: 'second' }));
    assert.equal((await runCliBinary(['fs', 'cat', '/lake/raw/notes.txt'])).toString(), 'second');
  });

  test('an HTTP origin mounts read-only; writes fail with READ_ONLY', async () => {
    const mounted = await cli(['fs', 'mount', '--readonly', '/web', nginx.url]);
    assert.equal(mounted.code, 0, mounted.stderr);
    assert.equal(
      (await runCliBinary(['fs', 'cat', '/web/datasets/iris.csv'])).toString(),
      'sepal,petal\n1,2\n',
    );
    const ls = await cli(['fs', 'ls', '--json', '/web/datasets']);
    assert.deepEqual(
      (JSON.parse(ls.stdout) as Array<{ name: string }>).map((e) => e.name),
      ['iris.csv'],
    );
    const put = await cli(['fs', 'put', '-', '/web/datasets/new.csv'], Buffer.from('x'));
    assert.notEqual(put.code, 0);
    assert.match(put.stderr, /READ_ONLY/);
  });

  test('strata ufs test runs the contract suite against the S3 store', async () => {
    const report = await runCli(['ufs', 'test', 's3://lake/contract', ...s3Options, '--json']);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const parsed = JSON.parse(report.stdout) as
      | { results?: Array<{ status: string }> }
      | Array<{ status: string }>;
    const results = Array.isArray(parsed) ? parsed : (parsed.results ?? []);
    assert.ok(results.length >= 10);
    assert.ok(results.every((r) => r.status !== 'fail'));
  });

  /** `strata fs cat` output as bytes. */
  async function runCliBinary(args: string[]): Promise<Buffer> {
    const { spawn } = await import('node:child_process');
    const { STRATA_BIN } = await import('../helpers/local-process.js');
    return new Promise((ok, fail) => {
      const child = spawn(process.execPath, [STRATA_BIN, ...args], {
        env: { ...process.env, STRATA_REGISTRY: strata.registry },
      });
      const chunks: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      child.on('close', (code) =>
        code === 0 ? ok(Buffer.concat(chunks)) : fail(new Error(`exit ${code}: ${err}`)),
      );
    });
  }
});
