import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newSealKeyText } from '../../src/core/seal.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { run } from './harness.js';

/**
 * Server-side encryption end to end: a real `strata local` with a file:// store, its S3 gateway,
 * an encrypted disk tier and a "KMS" key file; the aws CLI and Debian's boto3 as clients. The
 * bytes in the store and in the disk tier must never be the plaintext.
 */

const BOTO_SCRIPT = fileURLToPath(new URL('../../../test/gateway/sse_boto3.py', import.meta.url));
const ACCESS = 'AKIASSETEST';
const SECRET = 'sse-test-secret';
const KMS_KEY = 'key-one';

/** Files under `dir` (recursively) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await readFile(p)).includes(needle)) hits.push(p);
    }
  };
  await walk(dir);
  return hits;
}

describe('S3 server-side encryption (aws CLI, boto3) over a file:// store and an encrypted disk tier', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let local: RunningStrata;
  let url: string;
  let store: string;
  let data: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const aws = async (args: string[], expectFail = false) => {
    const r = await run('aws', ['--endpoint-url', url, ...args], env);
    if (!expectFail && r.code !== 0) throw new Error(`aws ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };

  before(async () => {
    tmp = await tempDir('sse');
    store = join(tmp.dir, 'store');
    data = join(tmp.dir, 'data');
    work = join(tmp.dir, 'work');
    const home = join(tmp.dir, 'home');
    await mkdir(store, { recursive: true });
    await mkdir(work, { recursive: true });
    await mkdir(join(home, '.aws'), { recursive: true });
    const diskKey = join(tmp.dir, 'disk.key');
    await writeFile(diskKey, `${newSealKeyText()}\n`, { mode: 0o600 });
    const kmsKeys = join(tmp.dir, 'kms.keys');
    await writeFile(
      kmsKeys,
      `# test keys\n${KMS_KEY} ${newSealKeyText()}\nalias/second ${newSealKeyText()}\n`,
    );
    local = await startLocal(
      [
        '--data-dir',
        data,
        '--mount',
        `/=file://${store}`,
        '--s3-port',
        '0',
        '--disk-encryption-key-file',
        diskKey,
        '--s3-kms-key-file',
        kmsKeys,
      ],
      { STRATA_S3_ACCESS_KEY_ID: ACCESS, STRATA_S3_SECRET_ACCESS_KEY: SECRET },
    );
    url = local.ready.addresses.s3!;
    await writeFile(
      join(home, '.aws', 'config'),
      '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n',
    );
    env = {
      ...process.env,
      HOME: home,
      AWS_CONFIG_FILE: join(home, '.aws', 'config'),
      AWS_ACCESS_KEY_ID: ACCESS,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    };
    await aws(['s3', 'mb', 's3://enc']);
  });
  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  test('SSE-S3 (--sse AES256): answered and reported, MD5 ETag, plaintext size listed, ciphertext in the store', async () => {
    const body = Buffer.from('SSE-S3-PLAINTEXT-MARKER '.repeat(4000)); // 96,000 bytes
    const f = join(work, 's3.txt');
    await writeFile(f, body);
    await aws(['s3', 'cp', f, 's3://enc/s3/obj.txt', '--sse', 'AES256']);
    const head = JSON.parse(
      (await aws(['s3api', 'head-object', '--bucket', 'enc', '--key', 's3/obj.txt'])).stdout,
    );
    assert.equal(head.ServerSideEncryption, 'AES256');
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, `"${createHash('md5').update(body).digest('hex')}"`, 'SSE-S3 ETag is the MD5');
    const back = join(work, 's3.back');
    await aws(['s3', 'cp', 's3://enc/s3/obj.txt', back]);
    assert.ok((await readFile(back)).equals(body));
    const ls = await aws(['s3', 'ls', 's3://enc/s3/']);
    assert.match(ls.stdout, new RegExp(`${body.length} obj\\.txt`), 'ListObjects shows the plaintext size');
    const stored = await readFile(join(store, 'enc', 's3', 'obj.txt'));
    assert.ok(stored.length > body.length, 'chunk tags make the stored file larger');
    assert.equal(stored.indexOf('SSE-S3-PLAINTEXT-MARKER'), -1, 'the store holds ciphertext');
    // A range across the first chunk boundary (64 KiB).
    const part = join(work, 's3.range');
    await aws([
      's3api',
      'get-object',
      '--bucket',
      'enc',
      '--key',
      's3/obj.txt',
      '--range',
      'bytes=65500-65599',
      part,
    ]);
    assert.ok((await readFile(part)).equals(body.subarray(65500, 65600)));
  });

  test('SSE-KMS (--sse aws:kms --sse-kms-key-id): key id reported, ETag not the MD5; an unknown key id is 400 KMS.NotFoundException', async () => {
    const body = Buffer.from('SSE-KMS-PLAINTEXT-MARKER\n'.repeat(100));
    const f = join(work, 'kms.txt');
    await writeFile(f, body);
    await aws(['s3', 'cp', f, 's3://enc/kms/obj.txt', '--sse', 'aws:kms', '--sse-kms-key-id', KMS_KEY]);
    const head = JSON.parse(
      (await aws(['s3api', 'head-object', '--bucket', 'enc', '--key', 'kms/obj.txt'])).stdout,
    );
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, KMS_KEY);
    assert.notEqual(head.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
    const back = join(work, 'kms.back');
    await aws(['s3', 'cp', 's3://enc/kms/obj.txt', back]);
    assert.ok((await readFile(back)).equals(body));
    // The default key (first in the file) when no key id is given; an ARN naming an alias works.
    await aws(['s3', 'cp', f, 's3://enc/kms/default.txt', '--sse', 'aws:kms']);
    const h2 = JSON.parse(
      (await aws(['s3api', 'head-object', '--bucket', 'enc', '--key', 'kms/default.txt'])).stdout,
    );
    assert.equal(h2.SSEKMSKeyId, KMS_KEY);
    await aws([
      's3',
      'cp',
      f,
      's3://enc/kms/arn.txt',
      '--sse',
      'aws:kms',
      '--sse-kms-key-id',
      'arn:aws:kms:us-east-1:123456789012:alias/second',
    ]);
    const h3 = JSON.parse(
      (await aws(['s3api', 'head-object', '--bucket', 'enc', '--key', 'kms/arn.txt'])).stdout,
    );
    assert.equal(h3.SSEKMSKeyId, 'alias/second');
    const bad = await aws(
      ['s3', 'cp', f, 's3://enc/kms/bad.txt', '--sse', 'aws:kms', '--sse-kms-key-id', 'no-such-key'],
      true,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /KMS\.NotFoundException/);
    assert.equal(
      (await readFile(join(store, 'enc', 'kms', 'obj.txt'))).indexOf('SSE-KMS-PLAINTEXT-MARKER'),
      -1,
    );
  });

  test('SSE-C with the aws CLI: a 12 MiB multipart upload, download with the key; without it 400, a wrong key 403', async () => {
    const key = join(work, 'ssec.key');
    const keyBytes = randomBytes(32);
    await writeFile(key, keyBytes);
    const marker = Buffer.from('SSE-C-MULTIPART-MARKER-');
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i + marker.length <= body.length; i += 4096) marker.copy(body, i);
    const f = join(work, 'big.bin');
    await writeFile(f, body);
    const ssec = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${key}`];
    await aws(['s3', 'cp', f, 's3://enc/c/big.bin', ...ssec]);
    const head = JSON.parse(
      (
        await aws([
          's3api',
          'head-object',
          '--bucket',
          'enc',
          '--key',
          'c/big.bin',
          '--sse-customer-algorithm',
          'AES256',
          '--sse-customer-key',
          `fileb://${key}`,
        ])
      ).stdout,
    );
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.SSECustomerAlgorithm, 'AES256');
    assert.match(head.ETag, /-\d+"$/, 'uploaded in parts');
    const back = join(work, 'big.back');
    await aws(['s3', 'cp', 's3://enc/c/big.bin', back, ...ssec]);
    assert.ok((await readFile(back)).equals(body));
    const noKey = await aws(['s3api', 'head-object', '--bucket', 'enc', '--key', 'c/big.bin'], true);
    assert.match(noKey.stderr, /\(400\)/);
    const other = join(work, 'other.key');
    await writeFile(other, randomBytes(32));
    const wrong = await aws(
      [
        's3',
        'cp',
        's3://enc/c/big.bin',
        join(work, 'never'),
        '--sse-c',
        'AES256',
        '--sse-c-key',
        `fileb://${other}`,
      ],
      true,
    );
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /403/);
    const stored = await readFile(join(store, 'enc', 'c', 'big.bin'));
    assert.equal(stored.indexOf(marker), -1, 'the store holds ciphertext');
    assert.equal(stored.indexOf(keyBytes), -1);
    // The key itself is kept nowhere: not in the store (sidecars included), not in the data dir.
    assert.deepEqual(await filesContaining(store, keyBytes), []);
    assert.deepEqual(await filesContaining(store, Buffer.from(keyBytes.toString('base64'))), []);
    assert.deepEqual(await filesContaining(data, Buffer.from(keyBytes.toString('base64'))), []);
  });

  test('boto3: SSE-C put/get/head/ranges, copies between modes, multipart, wrong keys, bucket default encryption', async () => {
    await aws(['s3', 'mb', 's3://boto']);
    const r = await run('/usr/bin/python3', [BOTO_SCRIPT, url, ACCESS, SECRET, 'boto', KMS_KEY], env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.put_alg, 'AES256');
    assert.equal(out.put_key_md5, out.key1_md5);
    assert.equal(out.put_etag_is_md5, false, 'an SSE-C ETag is not the MD5');
    assert.equal(out.get_equal, true);
    assert.equal(out.get_alg, 'AES256');
    assert.equal(out.head_length, 160000);
    assert.equal(out.head_key_md5, out.key1_md5);
    assert.equal(out.range_equal, true);
    assert.equal(out.range_header, 'bytes 65530-65545/160000');
    assert.equal(out.suffix_equal, true);
    assert.equal(out.get_no_key, '400 InvalidRequest');
    assert.match(String(out.head_no_key), /^400/);
    assert.equal(out.get_wrong_key, '403 AccessDenied');
    assert.match(String(out.head_wrong_key), /^403/);
    assert.equal(out.copy_no_source_key, '400 InvalidRequest');
    assert.equal(out.copy_c2_alg, 'AES256');
    assert.equal(out.copy_c2_equal, true);
    assert.match(String(out.copy_c2_old_key), /^403/);
    assert.equal(out.copy_s3_sse, 'AES256');
    assert.equal(out.copy_s3_equal, true);
    assert.equal(out.copy_s3_get_sse, 'AES256');
    assert.equal(out.copy_s3_etag_is_md5, true);
    assert.equal(out.copy_kms_sse, 'aws:kms');
    assert.equal(out.copy_kms_key, KMS_KEY);
    assert.equal(out.copy_kms_head_key, KMS_KEY);
    assert.equal(out.copy_kms_etag_is_md5, false);
    assert.equal(out.copy_plain_equal, true);
    assert.equal(out.copy_plain_sse, null);
    assert.equal(out.plain_to_c_equal, true);
    assert.equal(out.rotate_new_key, true);
    assert.match(String(out.rotate_old_key), /^403/);
    assert.equal(out.bad_key_length, '400 InvalidArgument');
    assert.equal(out.unknown_kms_key, '400 KMS.NotFoundException');
    assert.equal(out.bad_algorithm, '400 InvalidArgument');
    assert.equal(out.ssec_on_plain, '400 InvalidRequest');
    assert.equal(out.mp_create_alg, 'AES256');
    assert.match(String(out.part_no_key), /^400/);
    assert.deepEqual(out.mp_list_sizes, [5 * 1024 * 1024, 1000]);
    assert.equal(out.mp_equal, true);
    assert.equal(out.mp_range_across_parts, true);
    assert.equal(out.mp_part2, true);
    assert.equal(out.mpcopy_create_sse, 'AES256');
    assert.equal(out.mpcopy_no_source_key, '400 InvalidRequest');
    assert.equal(out.mpcopy_equal, true);
    assert.equal(out.mpcopy_sse, 'AES256');
    assert.equal(out.enc_none, '404 ServerSideEncryptionConfigurationNotFoundError');
    assert.deepEqual(out.enc_rule, { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: KMS_KEY });
    assert.equal(out.default_put_sse, 'aws:kms');
    assert.equal(out.default_put_key, KMS_KEY);
    assert.equal(out.default_get_equal, true);
    assert.equal(out.enc_unknown_key, '400 KMS.NotFoundException');
    assert.equal(out.enc_deleted, '404 ServerSideEncryptionConfigurationNotFoundError');
    assert.equal(out.after_delete_sse, null);
    assert.equal((out.list_sizes as Record<string, number>)['c/obj'], 160000);
    assert.equal((out.list_sizes as Record<string, number>)['c/mp'], 5 * 1024 * 1024 + 1000);
    assert.equal((out.list_sizes as Record<string, number>)['c/mpcopy'], 5 * 1024 * 1024 + 70000);
    const stored = await readFile(join(store, 'boto', 'c', 'obj'));
    assert.equal(stored.indexOf('SSE-C-PLAINTEXT-'), -1);
    assert.equal((await readFile(join(store, 'boto', 'd', 'default'))).indexOf('DEFAULT-ENCRYPTED-BODY'), -1);
  });

  test('the encrypted disk tier: the cached pages hold none of the plaintext either', async () => {
    const pages = join(data, 'pages');
    assert.ok((await stat(pages)).isDirectory());
    // A plain object read through the cache: its pages are sealed on disk too.
    const body = Buffer.from('PLAIN-OBJECT-IN-SEALED-PAGES '.repeat(2000));
    const f = join(work, 'plain.txt');
    await writeFile(f, body);
    await aws(['s3', 'cp', f, 's3://enc/plain/obj.txt']);
    await aws(['s3', 'cp', 's3://enc/plain/obj.txt', join(work, 'plain.back')]);
    assert.ok((await readFile(join(work, 'plain.back'))).equals(body));
    assert.notEqual(
      (await readFile(join(store, 'enc', 'plain', 'obj.txt'))).indexOf('PLAIN-OBJECT-IN-SEALED-PAGES'),
      -1,
      'a plain object is plain in the store',
    );
    const sealedHits = await filesContaining(pages, Buffer.from('PLAIN-OBJECT-IN-SEALED-PAGES'));
    assert.deepEqual(sealedHits, [], 'but not in the page files');
    const names = await readdir(pages, { recursive: true });
    assert.ok(
      names.some((n) => String(n).endsWith('.page')),
      'pages were written',
    );
    for (const marker of ['SSE-S3-PLAINTEXT-MARKER', 'SSE-KMS-PLAINTEXT-MARKER', 'SSE-C-MULTIPART-MARKER-'])
      assert.deepEqual(await filesContaining(pages, Buffer.from(marker)), [], marker);
  });
});

describe('encryption key files at start', () => {
  test('a missing disk key, a short one, a malformed KMS key file: strata local exits non-zero saying which', async () => {
    const tmp = await tempDir('sse-keys');
    try {
      const short = join(tmp.dir, 'short.key');
      await writeFile(short, 'c2hvcnQ');
      const kms = join(tmp.dir, 'kms.keys');
      await writeFile(kms, 'only-an-id\n');
      const cases: [string[], RegExp][] = [
        [
          ['--disk-encryption-key-file', join(tmp.dir, 'absent.key')],
          /cannot read the disk encryption key file/,
        ],
        [['--disk-encryption-key-file', short], /32 bytes/],
        [['--s3-port', '0', '--s3-kms-key-file', kms], /kms\.keys:1: expected "KEY_ID KEY"/],
      ];
      for (const [i, [args, message]] of cases.entries()) {
        const r = await runCli([
          'local',
          '--port',
          '0',
          '--s3-port',
          'off',
          '--data-dir',
          join(tmp.dir, `d${i}`),
          ...args,
        ]);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.match(r.stderr, message);
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
