import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { isStrataError, type StrataError } from '../../src/core/errors.js';
import { patternBytes } from '../../src/ufs/contract.js';
import { createUnderStore, type UfsOptions } from '../../src/ufs/factory.js';
import { fingerprintOf, type UnderStore } from '../../src/ufs/under-store.js';
import { createBucket, type SwiftS3, startSwiftS3, testS3Client } from '../helpers/swift.js';
import { describeUfsContract } from '../helpers/ufs-contract.js';

/** One Swift (s3api) for the whole file; the contract runs at the bucket root and under a prefix. */

const BUCKET = 'strata-test';
let swift: SwiftS3 | undefined;
let starting: Promise<SwiftS3> | undefined;

async function getSwift(): Promise<SwiftS3> {
  starting ??= startSwiftS3().then(async (s) => {
    swift = s;
    console.log(`# Swift s3api up in ${s.startupMs} ms at ${s.endpoint}`);
    await createBucket(s, BUCKET);
    return s;
  });
  return starting;
}

function optionsFor(s: SwiftS3, extra: UfsOptions = {}): UfsOptions {
  return {
    endpoint: s.endpoint,
    region: s.region,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    ...extra,
  };
}

async function open(uri: string, extra: UfsOptions = {}): Promise<UnderStore> {
  return createUnderStore(uri, optionsFor(await getSwift(), extra));
}

async function codeOf(fn: () => Promise<unknown>): Promise<StrataError> {
  try {
    const v = await fn();
    if (v instanceof Readable) await buffer(v);
  } catch (err) {
    assert.ok(isStrataError(err), `expected a StrataError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

/** Every string reachable from an error: message, details, cause chain messages, JSON. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    if (e instanceof Error) parts.push(e.message, String(e.stack));
    if (isStrataError(e)) parts.push(JSON.stringify(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}

after(async () => {
  await swift?.stop();
});

describeUfsContract('s3 (Swift s3api), bucket root', async () => ({ store: await open(`s3://${BUCKET}`) }));
describeUfsContract('s3 (Swift s3api), under a prefix', async () => ({
  store: await open(`s3://${BUCKET}/some/prefix`),
}));
describeUfsContract('s3 (Swift s3api), tiny parts and multipart copies', async () => ({
  // 5 MiB parts (Swift's minimum) make the 5 MiB contract stream a 2-part upload; copySingleMax
  // makes every rename of a non-empty file go through UploadPartCopy.
  store: await open(`s3://${BUCKET}/mp`, { partSize: String(5 * 1024 * 1024), copySingleMax: '1' }),
}));

describe('s3 connector specifics (Swift s3api)', () => {
  let store: UnderStore;
  before(async () => {
    store = await open(`s3://${BUCKET}/specific`);
  });
  after(async () => {
    for (const e of await store.listAll('/').catch(() => []))
      await store.delete(e.path, { recursive: true }).catch(() => undefined);
    await store?.close();
  });

  test('the prefix confines keys: data written under a prefix is invisible at another', async () => {
    await store.write('/confined.txt', Readable.from([Buffer.from('x')]));
    const s = await getSwift();
    const client = testS3Client(s);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'specific/confined.txt' }));
      assert.equal(head.ContentLength, 1);
    } finally {
      client.destroy();
    }
    const other = await open(`s3://${BUCKET}/elsewhere`);
    assert.equal((await codeOf(() => other.status('/confined.txt'))).code, 'NOT_FOUND');
    await other.close();
  });

  test('a wrong secret is PERMISSION_DENIED and the secret never shows up', async () => {
    const secret = 'wrong-secret-Zq9xK2';
    const bad = await open(`s3://${BUCKET}`, { secretAccessKey: secret, maxAttempts: '1' });
    const errs = [
      await codeOf(() => bad.status('/')),
      await codeOf(() => bad.status('/anything.txt')),
      await codeOf(() => bad.list('/')),
      await codeOf(() => bad.read('/anything.txt')),
      await codeOf(() => bad.write('/w.txt', Readable.from([Buffer.from('data')]))),
    ];
    for (const err of errs) {
      assert.equal(err.code, 'PERMISSION_DENIED', `${err.code}: ${err.message}`);
      const text = errorText(err);
      assert.ok(!text.includes(secret), 'secret leaked into an error');
      assert.ok(!text.includes('testing'), 'a real secret leaked into an error');
    }
    await bad.close();
  });

  test('a missing bucket is NOT_FOUND with a clear message', async () => {
    const missing = await open('s3://no-such-bucket-here/x', { maxAttempts: '1' });
    const root = await codeOf(() => missing.status('/'));
    assert.equal(root.code, 'NOT_FOUND');
    assert.match(root.message, /bucket does not exist/);
    const list = await codeOf(() => missing.list('/'));
    assert.equal(list.code, 'NOT_FOUND');
    assert.match(list.message, /bucket does not exist/);
    assert.equal(
      (await codeOf(() => missing.write('/a.txt', Readable.from([Buffer.from('a')])))).code,
      'NOT_FOUND',
    );
    await missing.close();
  });

  test('an unreachable endpoint is UFS_UNAVAILABLE', async () => {
    const dead = await createUnderStore(`s3://${BUCKET}`, {
      endpoint: 'http://127.0.0.1:9',
      accessKeyId: 'k',
      secretAccessKey: 's3cr3t-unreachable',
      maxAttempts: '1',
    });
    const err = await codeOf(() => dead.status('/x'));
    assert.equal(err.code, 'UFS_UNAVAILABLE');
    assert.ok(!errorText(err).includes('s3cr3t-unreachable'));
    await dead.close();
  });

  test('credentials in the URI are refused without echoing them', async () => {
    const err = await codeOf(() => open(`s3://AKIAX:hunter2@${BUCKET}/p`));
    assert.equal(err.code, 'INVALID_URI');
    assert.ok(!err.message.includes('hunter2'));
  });

  test('a 20 MiB streamed write goes multipart (8 MiB parts) and reads back identical', async () => {
    const data = patternBytes(20 * 1024 * 1024 + 5, 1234);
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += 256 * 1024) chunks.push(data.subarray(i, i + 256 * 1024));
    const st = await store.write('/big/20mib.bin', Readable.from(chunks));
    assert.equal(st.size, data.length);
    assert.match(st.etag ?? '', /^[0-9a-f]{32}-3$/, `etag ${st.etag}`);
    const again = await store.status('/big/20mib.bin');
    assert.equal(again.etag, st.etag);
    assert.equal(again.mtimeMs, st.mtimeMs);
    // Listing and HEAD must agree, or a cache keyed by fingerprint would see phantom changes.
    const listed = (await store.listAll('/big')).find((e) => e.path === '/big/20mib.bin');
    assert.ok(listed);
    assert.equal(fingerprintOf(listed), fingerprintOf(st));
    const back = await buffer(await store.read('/big/20mib.bin'));
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    const mid = await buffer(await store.read('/big/20mib.bin', { offset: 8 * 1024 * 1024 - 3, length: 10 }));
    assert.ok(mid.equals(data.subarray(8 * 1024 * 1024 - 3, 8 * 1024 * 1024 + 7)));
  });

  test('exactly one part (8 MiB) is a single PUT; a size mismatch aborts the upload', async () => {
    const one = patternBytes(8 * 1024 * 1024, 5);
    const st = await store.write(
      '/big/8mib.bin',
      Readable.from([one.subarray(0, 3 * 1024 * 1024), one.subarray(3 * 1024 * 1024)]),
    );
    assert.match(st.etag ?? '', /^[0-9a-f]{32}$/, `etag ${st.etag}`);
    assert.equal(st.etag, createHash('md5').update(one).digest('hex'));

    const lying = patternBytes(9 * 1024 * 1024, 6);
    const err = await codeOf(() => store.write('/big/lie.bin', Readable.from([lying]), { size: 100 }));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.equal((await codeOf(() => store.status('/big/lie.bin'))).code, 'NOT_FOUND');
  });

  test('a failing source aborts the multipart upload (no upload left behind)', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield patternBytes(9 * 1024 * 1024, 8);
      yield patternBytes(1024, 9);
      throw new Error('source broke');
    }
    const err = await codeOf(() => store.write('/big/broken.bin', Readable.from(failing())));
    assert.match(err.message, /source broke/);
    assert.equal((await codeOf(() => store.status('/big/broken.bin'))).code, 'NOT_FOUND');
    const client = testS3Client(await getSwift());
    try {
      const uploads = await client.send(
        new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'specific/big/broken' }),
      );
      assert.equal(uploads.Uploads?.length ?? 0, 0, JSON.stringify(uploads.Uploads));
    } finally {
      client.destroy();
    }
  });

  test('mkdir makes an empty directory that lists and deletes; files block mkdir', async () => {
    await store.mkdir('/empty/dir');
    assert.deepEqual(await store.listAll('/empty/dir'), []);
    assert.equal((await store.status('/empty')).type, 'directory');
    const names = (await store.listAll('/empty')).map((e) => `${e.path}:${e.type}`);
    assert.deepEqual(names, ['/empty/dir:directory']);
    await store.delete('/empty/dir');
    assert.equal((await codeOf(() => store.status('/empty/dir'))).code, 'NOT_FOUND');
    await store.write('/plain.txt', Readable.from([Buffer.from('p')]));
    assert.equal((await codeOf(() => store.mkdir('/plain.txt/sub'))).code, 'NOT_A_DIRECTORY');
    assert.equal((await codeOf(() => store.read('/big'))).code, 'IS_A_DIRECTORY');
  });

  test('rename refuses an existing target and recursive delete removes many keys in batches', async () => {
    await store.write('/r/a.txt', Readable.from([Buffer.from('a')]));
    await store.write('/r/b.txt', Readable.from([Buffer.from('b')]));
    assert.equal((await codeOf(() => store.rename('/r/a.txt', '/r/b.txt'))).code, 'ALREADY_EXISTS');
    for (let i = 0; i < 25; i++)
      await store.write(`/many/f${i}.txt`, Readable.from([Buffer.from(String(i))]));
    await store.delete('/many', { recursive: true });
    assert.equal((await codeOf(() => store.status('/many'))).code, 'NOT_FOUND');
  });

  test('an aborted signal cancels a call', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await codeOf(() => store.status('/plain.txt', { signal: ac.signal }));
    assert.equal(err.code, 'CANCELLED');
  });
});
