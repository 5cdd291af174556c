import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ACCESS_KEY, type Harness, run, SECRET_KEY, startHarness } from './harness.js';

const BOTO_SCRIPT = fileURLToPath(new URL('../../../test/gateway/boto3_client.py', import.meta.url));

describe('S3 gateway with s3cmd, boto3 and rclone', () => {
  let h: Harness;
  let work: string;
  before(async () => {
    h = await startHarness();
    work = join(h.home, 'work');
    await mkdir(work, { recursive: true });
  });
  after(async () => {
    await h?.stop();
  });

  test("Debian's s3cmd: mb, put (multipart), ls, get, cp, info, del, rb", async () => {
    const cfg = join(h.home, '.s3cfg');
    await writeFile(
      cfg,
      [
        '[default]',
        `access_key = ${ACCESS_KEY}`,
        `secret_key = ${SECRET_KEY}`,
        `host_base = 127.0.0.1:${h.port}`,
        `host_bucket = 127.0.0.1:${h.port}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        '',
      ].join('\n'),
    );
    const s3cmd = async (...args: string[]) => {
      const r = await run('s3cmd', ['-c', cfg, ...args], h.env);
      assert.equal(r.code, 0, `s3cmd ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await s3cmd('mb', 's3://s3cmd-bucket');
    const small = join(work, 's.txt');
    await writeFile(small, 'from s3cmd');
    const big = join(work, 'b.bin');
    const bigData = randomBytes(12 * 1024 * 1024);
    await writeFile(big, bigData);
    await s3cmd('put', small, 's3://s3cmd-bucket/dir/s.txt');
    await s3cmd('put', '--multipart-chunk-size-mb=5', big, 's3://s3cmd-bucket/dir/b.bin');
    const ls = await s3cmd('ls', '--recursive', 's3://s3cmd-bucket');
    assert.match(ls, /s3:\/\/s3cmd-bucket\/dir\/s\.txt/);
    assert.match(ls, /12582912\s+s3:\/\/s3cmd-bucket\/dir\/b\.bin/);
    const back = join(work, 'b.back');
    await s3cmd('get', '--force', 's3://s3cmd-bucket/dir/b.bin', back);
    assert.ok((await readFile(back)).equals(bigData));
    await s3cmd('cp', 's3://s3cmd-bucket/dir/s.txt', 's3://s3cmd-bucket/copy.txt');
    const info = await s3cmd('info', 's3://s3cmd-bucket/copy.txt');
    assert.match(info, new RegExp(createHash('md5').update('from s3cmd').digest('hex')));
    await s3cmd('del', '--recursive', '--force', 's3://s3cmd-bucket/');
    assert.equal((await s3cmd('ls', '--recursive', 's3://s3cmd-bucket')).trim(), '');
    await s3cmd('rb', 's3://s3cmd-bucket');
    assert.doesNotMatch(await s3cmd('ls'), /s3cmd-bucket/);
  });

  test("Debian's python3-boto3: objects, multipart transfer, copy, tagging, url listing, presign, errors", async () => {
    const r = await run('/usr/bin/python3', [BOTO_SCRIPT, h.url, ACCESS_KEY, SECRET_KEY, work], h.env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.put_etag, out.md5);
    assert.equal(out.range_body, 'boto');
    assert.equal(out.range_cr, 'bytes 6-9/10');
    assert.deepEqual(out.head_meta, { who: 'boto' });
    assert.equal(out.head_ct, 'text/plain');
    assert.match(String(out.big_etag), /^"[0-9a-f]{32}-3"$/);
    assert.equal(out.big_len, 12 * 1024 * 1024);
    assert.equal(out.big_ok, true);
    assert.deepEqual(out.tags, [{ Key: 't', Value: '1' }]);
    assert.deepEqual(out.listed, ['copy/a b+c.txt']);
    assert.deepEqual(out.paged, ['big/data.bin', 'copy/a b+c.txt', 'hello/world.txt']);
    assert.equal(out.presigned, 'hello boto');
    assert.equal(out.missing, 'NoSuchKey');
    assert.deepEqual(out.wrong_secret, ['SignatureDoesNotMatch', 403]);
    assert.deepEqual(out.deleted, ['copy/a b+c.txt', 'hello/world.txt']);
  });

  test("Debian's rclone (S3 backend, provider Other): mkdir, copy, ls, check, cat, multipart, delete", async () => {
    const env: NodeJS.ProcessEnv = {
      ...h.env,
      RCLONE_CONFIG: join(h.home, 'rclone.conf'),
      RCLONE_CONFIG_GW_TYPE: 's3',
      RCLONE_CONFIG_GW_PROVIDER: 'Other',
      RCLONE_CONFIG_GW_ACCESS_KEY_ID: ACCESS_KEY,
      RCLONE_CONFIG_GW_SECRET_ACCESS_KEY: SECRET_KEY,
      RCLONE_CONFIG_GW_ENDPOINT: h.url,
      RCLONE_CONFIG_GW_REGION: 'us-east-1',
      RCLONE_CONFIG_GW_FORCE_PATH_STYLE: 'true',
      RCLONE_S3_UPLOAD_CUTOFF: '5M',
      RCLONE_S3_CHUNK_SIZE: '5M',
    };
    delete env.AWS_CA_BUNDLE;
    const rclone = async (...args: string[]) => {
      const r = await run('rclone', args, env);
      assert.equal(r.code, 0, `rclone ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const src = join(work, 'rsrc');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'alpha');
    await writeFile(join(src, 'sub', 'b.txt'), 'beta');
    await writeFile(join(src, 'sub', 'big.bin'), randomBytes(11 * 1024 * 1024));
    await rclone('mkdir', 'gw:rclone-bucket');
    await rclone('copy', src, 'gw:rclone-bucket/data');
    const ls = await rclone('ls', 'gw:rclone-bucket');
    assert.match(ls, /5 data\/a\.txt/);
    assert.match(ls, /4 data\/sub\/b\.txt/);
    assert.match(ls, /11534336 data\/sub\/big\.bin/);
    await rclone('check', src, 'gw:rclone-bucket/data');
    assert.equal(await rclone('cat', 'gw:rclone-bucket/data/sub/b.txt'), 'beta');
    const lsf = await rclone('lsf', 'gw:rclone-bucket/data');
    assert.deepEqual(lsf.trim().split('\n'), ['a.txt', 'sub/']);
    await rclone('delete', 'gw:rclone-bucket/data/sub');
    assert.equal((await rclone('ls', 'gw:rclone-bucket')).trim(), '5 data/a.txt');
    await rclone('purge', 'gw:rclone-bucket');
    assert.doesNotMatch(await rclone('lsd', 'gw:'), /rclone-bucket/);
  });
});
