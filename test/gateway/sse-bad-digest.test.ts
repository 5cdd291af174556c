import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { ACCESS_KEY, type Harness, SECRET_KEY, s3Error, startHarness } from './harness.js';

/**
 * An encrypted PutObject (SSE-S3: the gateway seals the body on its way to the file system) whose
 * Content-MD5 or x-amz-checksum-* is wrong is refused with 400 BadDigest and stores nothing: a new
 * key stays absent, an existing one keeps its old bytes. The sealed body streams to the file
 * system while its digest is still being computed, so the refusal must reach the write before
 * its last sealed chunk does — in `strata local` (gateway and worker in one process) and with a
 * gateway in front of a worker over the RPC (where the body crosses a process boundary).
 */

const B = 'ssebad';
/** One byte short of nothing, one under a seal chunk (64 KiB), and several chunks plus a tail. */
const SIZES = [10, 60 * 1024, 3 * 64 * 1024 + 5];
const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  });
}

async function storedNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, '');
  return out;
}

/** The checks, against one endpoint whose file:// store is `store`. */
async function badDigestRefused(s3: S3Client, store: string, label: string): Promise<void> {
  for (const size of SIZES) {
    const good = randomBytes(size);
    const other = randomBytes(size);
    const fresh = `new-${size}`;
    const kept = `kept-${size}`;
    await s3.send(new PutObjectCommand({ Bucket: B, Key: kept, Body: good, ServerSideEncryption: 'AES256' }));
    // A wrong Content-MD5 (the digest of other bytes of the same length).
    for (const Key of [fresh, kept]) {
      const e = await s3Error(
        s3.send(
          new PutObjectCommand({
            Bucket: B,
            Key,
            Body: other,
            ContentMD5: md5(good.subarray(1)),
            ServerSideEncryption: 'AES256',
          }),
        ),
      );
      assert.deepEqual(e, { name: 'BadDigest', status: 400 }, `${label}: ${Key} Content-MD5`);
    }
    // A wrong additional checksum.
    const wrongSha = createHash('sha256').update(good).digest('base64');
    const e = await s3Error(
      s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: kept,
          Body: other,
          ChecksumSHA256: wrongSha,
          ServerSideEncryption: 'AES256',
        }),
      ),
    );
    assert.deepEqual(e, { name: 'BadDigest', status: 400 }, `${label}: ${kept} x-amz-checksum-sha256`);
    const missing = await s3Error(s3.send(new GetObjectCommand({ Bucket: B, Key: fresh })));
    assert.deepEqual(missing, { name: 'NoSuchKey', status: 404 }, `${label}: ${fresh} was stored`);
    const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: kept }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.ok(bytes.equals(good), `${label}: ${kept} lost its old bytes (${bytes.length} bytes read)`);
    // The store holds sealed bytes (the gateway's own SSE, the path under test), never the plaintext.
    const sealed = await readFile(join(store, B, kept));
    assert.ok(sealed.length > size && !sealed.includes(good.subarray(0, 8)), `${label}: ${kept} not sealed`);
    const names = await storedNames(join(store, B));
    assert.ok(
      !names.some((n) => n === fresh || n.endsWith(`/${fresh}`)),
      `${label}: ${fresh} in the store: ${names}`,
    );
  }
}

describe('an SSE PutObject with a wrong digest stores nothing', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  let local: RunningStrata | undefined;
  let h: Harness | undefined;
  const clients: S3Client[] = [];

  before(async () => {
    tmp = await tempDir('sse-bad-digest');
    await mkdir(join(tmp.dir, 'store'));
    local = await startLocal(
      ['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${join(tmp.dir, 'store')}`],
      { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
    );
    h = await startHarness();
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await h?.stop();
    await local?.stop();
    await tmp?.cleanup();
  });

  test('strata local (gateway and worker in one process)', async () => {
    const s3 = client(local!.ready.addresses.s3!);
    clients.push(s3);
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await badDigestRefused(s3, join(tmp!.dir, 'store'), 'local');
  });

  test('a gateway in front of a worker (over the RPC)', async () => {
    const s3 = client(h!.url);
    clients.push(s3);
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    await badDigestRefused(s3, h!.store, 'gateway + worker');
  });
});
