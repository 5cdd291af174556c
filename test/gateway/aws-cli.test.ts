import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { aws, type Harness, run, startHarness } from './harness.js';

describe('S3 gateway with the aws CLI', () => {
  let h: Harness;
  let work: string;
  before(async () => {
    h = await startHarness();
    work = join(h.home, 'work');
    await mkdir(work, { recursive: true });
    await aws(h, ['s3', 'mb', 's3://cli']);
  });
  after(async () => {
    await h?.stop();
  });

  test('aws s3 cp/ls/rm, including a 20 MiB multipart upload', async () => {
    const small = join(work, 'small.txt');
    await writeFile(small, 'small file\n');
    const big = join(work, 'big.bin');
    const bigData = randomBytes(20 * 1024 * 1024);
    await writeFile(big, bigData);
    await aws(h, ['s3', 'cp', small, 's3://cli/a/small.txt']);
    await aws(h, ['s3', 'cp', big, 's3://cli/a/big.bin']);
    const ls = await aws(h, ['s3', 'ls', 's3://cli/a/']);
    assert.match(ls.stdout, /11 small\.txt/);
    assert.match(ls.stdout, /20971520 big\.bin/);
    const head = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'cli', '--key', 'a/big.bin'])).stdout,
    );
    assert.match(head.ETag, /-\d+"$/, 'the CLI uploads 20 MiB in parts: multipart ETag');
    const back = join(work, 'big.back');
    await aws(h, ['s3', 'cp', 's3://cli/a/big.bin', back]);
    assert.ok((await readFile(back)).equals(bigData));
    await aws(h, ['s3', 'rm', 's3://cli/a/small.txt']);
    const ls2 = await aws(h, ['s3', 'ls', 's3://cli/a/']);
    assert.doesNotMatch(ls2.stdout, /small\.txt/);
  });

  test('aws s3 sync up and down, then --delete', async () => {
    const src = join(work, 'tree');
    await mkdir(join(src, 'x', 'y'), { recursive: true });
    await writeFile(join(src, 'one.txt'), '1');
    await writeFile(join(src, 'x', 'two.txt'), '22');
    await writeFile(join(src, 'x', 'y', 'three.txt'), '333');
    const up = await aws(h, ['s3', 'sync', src, 's3://cli/tree']);
    assert.equal((up.stdout.match(/upload:/g) ?? []).length, 3);
    const again = await aws(h, ['s3', 'sync', src, 's3://cli/tree']);
    assert.equal((again.stdout.match(/upload:/g) ?? []).length, 0, 'a second sync uploads nothing');
    const down = join(work, 'down');
    await aws(h, ['s3', 'sync', 's3://cli/tree', down]);
    assert.equal(await readFile(join(down, 'x', 'y', 'three.txt'), 'utf8'), '333');
    await aws(h, ['s3', 'rm', '--recursive', 's3://cli/tree/x']);
    const ls = await aws(h, ['s3', 'ls', '--recursive', 's3://cli/tree/']);
    assert.deepEqual(
      ls.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).pop()),
      ['tree/one.txt'],
    );
  });

  test('aws s3api: put/get --range/head/copy/list-objects-v2/tagging', async () => {
    const f = join(work, 'digits.txt');
    await writeFile(f, '0123456789');
    const put = JSON.parse(
      (
        await aws(h, [
          's3api',
          'put-object',
          '--bucket',
          'cli',
          '--key',
          'api/digits.txt',
          '--body',
          f,
          '--content-type',
          'text/plain',
          '--metadata',
          'k1=v1',
        ])
      ).stdout,
    );
    assert.equal(put.ETag, `"${createHash('md5').update('0123456789').digest('hex')}"`);
    const out = join(work, 'range.out');
    const got = JSON.parse(
      (
        await aws(h, [
          's3api',
          'get-object',
          '--bucket',
          'cli',
          '--key',
          'api/digits.txt',
          '--range',
          'bytes=3-5',
          out,
        ])
      ).stdout,
    );
    assert.equal(got.ContentRange, 'bytes 3-5/10');
    assert.equal(await readFile(out, 'utf8'), '345');
    const head = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'cli', '--key', 'api/digits.txt'])).stdout,
    );
    assert.deepEqual(head.Metadata, { k1: 'v1' });
    assert.equal(head.ContentType, 'text/plain');
    await aws(h, [
      's3api',
      'copy-object',
      '--bucket',
      'cli',
      '--key',
      'api/copy.txt',
      '--copy-source',
      'cli/api/digits.txt',
    ]);
    const list = JSON.parse(
      (await aws(h, ['s3api', 'list-objects-v2', '--bucket', 'cli', '--prefix', 'api/'])).stdout,
    );
    assert.deepEqual(
      list.Contents.map((c: { Key: string }) => c.Key),
      ['api/copy.txt', 'api/digits.txt'],
    );
    await aws(h, [
      's3api',
      'put-object-tagging',
      '--bucket',
      'cli',
      '--key',
      'api/copy.txt',
      '--tagging',
      'TagSet=[{Key=env,Value=test}]',
    ]);
    const tags = JSON.parse(
      (await aws(h, ['s3api', 'get-object-tagging', '--bucket', 'cli', '--key', 'api/copy.txt'])).stdout,
    );
    assert.deepEqual(tags.TagSet, [{ Key: 'env', Value: 'test' }]);
  });

  test('aws s3api multipart: create, upload-part, complete', async () => {
    const p1 = join(work, 'p1');
    const p2 = join(work, 'p2');
    const d1 = randomBytes(5 * 1024 * 1024);
    const d2 = Buffer.from('last part');
    await writeFile(p1, d1);
    await writeFile(p2, d2);
    const { UploadId } = JSON.parse(
      (await aws(h, ['s3api', 'create-multipart-upload', '--bucket', 'cli', '--key', 'mp/file'])).stdout,
    );
    const e1 = JSON.parse(
      (
        await aws(h, [
          's3api',
          'upload-part',
          '--bucket',
          'cli',
          '--key',
          'mp/file',
          '--upload-id',
          UploadId,
          '--part-number',
          '1',
          '--body',
          p1,
        ])
      ).stdout,
    ).ETag;
    const e2 = JSON.parse(
      (
        await aws(h, [
          's3api',
          'upload-part',
          '--bucket',
          'cli',
          '--key',
          'mp/file',
          '--upload-id',
          UploadId,
          '--part-number',
          '2',
          '--body',
          p2,
        ])
      ).stdout,
    ).ETag;
    const parts = JSON.stringify({
      Parts: [
        { PartNumber: 1, ETag: e1 },
        { PartNumber: 2, ETag: e2 },
      ],
    });
    const done = JSON.parse(
      (
        await aws(h, [
          's3api',
          'complete-multipart-upload',
          '--bucket',
          'cli',
          '--key',
          'mp/file',
          '--upload-id',
          UploadId,
          '--multipart-upload',
          parts,
        ])
      ).stdout,
    );
    const md5s = Buffer.concat([d1, d2].map((d) => createHash('md5').update(d).digest()));
    assert.equal(done.ETag, `"${createHash('md5').update(md5s).digest('hex')}-2"`);
    const out = join(work, 'mp.out');
    await aws(h, ['s3', 'cp', 's3://cli/mp/file', out]);
    assert.ok((await readFile(out)).equals(Buffer.concat([d1, d2])));
  });

  test('presigned URLs work, and expire', async () => {
    await writeFile(join(work, 'pre.txt'), 'presigned body');
    await aws(h, ['s3', 'cp', join(work, 'pre.txt'), 's3://cli/pre/file.txt']);
    const url = (
      await aws(h, ['s3', 'presign', 's3://cli/pre/file.txt', '--expires-in', '300'])
    ).stdout.trim();
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'presigned body');
    const tampered = await fetch(url.replace('file.txt', 'other.txt'));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    const short = (
      await aws(h, ['s3', 'presign', 's3://cli/pre/file.txt', '--expires-in', '1'])
    ).stdout.trim();
    // The URL expires one second after it was signed: ask until it is refused (by its expiry,
    // whenever the clock gets there), with a deadline instead of a guessed sleep.
    const deadline = Date.now() + 30_000;
    let expired = await fetch(short);
    while (expired.status === 200 && Date.now() < deadline) {
      await expired.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
      expired = await fetch(short);
    }
    assert.equal(expired.status, 403);
    const body = await expired.text();
    assert.match(body, /<Code>AccessDenied<\/Code>/);
    assert.match(body, /Request has expired/);
  });

  test('a wrong secret gets 403 SignatureDoesNotMatch', async () => {
    const r = await run('aws', ['--endpoint-url', h.url, 's3', 'ls', 's3://cli'], {
      ...h.env,
      AWS_SECRET_ACCESS_KEY: 'wrong-secret',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SignatureDoesNotMatch/);
  });
});
