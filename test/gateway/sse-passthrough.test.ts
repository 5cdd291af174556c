import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { newSealKeyText } from '../../src/core/seal.js';
import { CONTRACT_CASES } from '../../src/ufs/contract.js';
import { createUnderStore } from '../../src/ufs/factory.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../helpers/local-process.js';
import { run } from './harness.js';

/**
 * SSE over an `s3://` store is passed on to the store. Two real `strata local`: the origin (a
 * file:// store, its S3 gateway with SSE-S3 and a KMS key file: a real S3 implementation that
 * honours SSE headers and reports them on HEAD) and the front, whose bucket `lake` is an s3://
 * mount of the origin's. The aws CLI writes through the front; a plain S3 client of the origin
 * must read the plaintext and see the encryption on HEAD; the front answers the SSE headers; no
 * plaintext lands in the front's data dir (pages, staging) nor in the origin's store files.
 */

const ACCESS = 'AKIAPASSTEST';
const SECRET = 'sse-passthrough-secret';
const KMS_KEY = 'origin-key';

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

/** `size` bytes of a repeated marker with a random tag, so no other file can contain it. */
function markedBody(name: string, size: number): { body: Buffer; marker: Buffer } {
  const marker = Buffer.from(`${name}-${randomBytes(6).toString('hex')}-PLAINTEXT;`);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += marker.length) marker.copy(body, i, 0, Math.min(marker.length, size - i));
  return { body, marker };
}

describe('SSE passed on to an s3:// store (a second Strata as the origin S3 store)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let origin: RunningStrata;
  let front: RunningStrata;
  let originStore: string;
  let frontData: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const awsAt = async (url: string, args: string[], expectFail = false) => {
    const r = await run('aws', ['--endpoint-url', url, ...args], env);
    if (!expectFail && r.code !== 0) throw new Error(`aws ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };
  const viaFront = (args: string[], expectFail = false) => awsAt(front.ready.addresses.s3!, args, expectFail);
  const viaOrigin = (args: string[]) => awsAt(origin.ready.addresses.s3!, args);
  /** The front's bucket `lake` is the origin's `lake/front/` (see the mount in before()). */
  const originKey = (key: string) => `front/${key}`;
  const head = async (at: typeof viaFront, key: string) =>
    JSON.parse(
      (
        await at([
          ...['s3api', 'head-object', '--bucket', 'lake'],
          ...['--key', at === viaFront ? key : originKey(key)],
        ])
      ).stdout,
    ) as Record<string, unknown>;
  /** Uploads `body` through the front, then checks both sides and the bytes at rest. */
  const checkBothSides = async (key: string, body: Buffer, marker: Buffer) => {
    const back = join(work, `${key.replaceAll('/', '_')}.back`);
    await viaFront(['s3', 'cp', `s3://lake/${key}`, back]);
    assert.ok((await readFile(back)).equals(body), `${key}: the front reads the plaintext`);
    const plainClient = join(work, `${key.replaceAll('/', '_')}.origin`);
    await viaOrigin(['s3', 'cp', `s3://lake/${originKey(key)}`, plainClient]);
    assert.ok(
      (await readFile(plainClient)).equals(body),
      `${key}: a plain client of the origin reads the plaintext`,
    );
    assert.deepEqual(
      await filesContaining(originStore, marker),
      [],
      `${key}: the origin's store holds ciphertext`,
    );
    assert.deepEqual(
      await filesContaining(frontData, marker),
      [],
      `${key}: no plaintext in the front's pages or staging`,
    );
  };

  before(async () => {
    tmp = await tempDir('ssepass');
    originStore = join(tmp.dir, 'origin-store');
    frontData = join(tmp.dir, 'front-data');
    work = join(tmp.dir, 'work');
    const home = join(tmp.dir, 'home');
    for (const d of [originStore, work, join(home, '.aws'), join(tmp.dir, 'front-root')])
      await mkdir(d, { recursive: true });
    const kmsKeys = join(tmp.dir, 'kms.keys');
    await writeFile(kmsKeys, `${KMS_KEY} ${newSealKeyText()}\n`);
    const creds = { STRATA_S3_ACCESS_KEY_ID: ACCESS, STRATA_S3_SECRET_ACCESS_KEY: SECRET };
    origin = await startLocal(
      [
        ...['--data-dir', join(tmp.dir, 'origin-data'), '--mount', `/=file://${originStore}`],
        ...['--s3-port', '0', '--s3-kms-key-file', kmsKeys],
      ],
      creds,
    );
    // The front has no KMS key file: the key id names a key of the origin's.
    front = await startLocal(
      ['--data-dir', frontData, '--mount', `/=file://${join(tmp.dir, 'front-root')}`, '--s3-port', '0'],
      creds,
    );
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
    await viaOrigin(['s3', 'mb', 's3://lake']);
    // Under a prefix: at the bucket root the front's sidecar keys (".strata-s3/…") would fall in
    // the origin gateway's own reserved folder and not be listed back (a Strata-on-Strata issue
    // of its own, seen with plain x-amz-meta-* too; not what this file tests).
    const mount = await runCli(
      [
        ...['fs', 'mount', '/lake', 's3://lake/front', '--option', `endpoint=${origin.ready.addresses.s3}`],
        ...['--option', `accessKeyId=${ACCESS}`, '--option', `secretAccessKey=${SECRET}`],
      ],
      { registry: front.registry },
    );
    assert.equal(mount.code, 0, mount.stderr);
  });

  after(async () => {
    await front?.stop();
    await origin?.stop();
    await tmp?.cleanup();
  });

  test('SSE-S3 (--sse AES256): the origin holds the plaintext object encrypted by itself; both sides report AES256', async () => {
    const { body, marker } = markedBody('SSE-S3', 200_000);
    const f = join(work, 's3.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://lake/s3/obj.bin', '--sse', 'AES256']);
    const atFront = await head(viaFront, 's3/obj.bin');
    assert.equal(atFront.ServerSideEncryption, 'AES256');
    assert.equal(atFront.ContentLength, body.length);
    assert.equal(atFront.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
    const atOrigin = await head(viaOrigin, 's3/obj.bin');
    assert.equal(atOrigin.ServerSideEncryption, 'AES256', 'the encryption was asked of the origin');
    assert.equal(
      atOrigin.ContentLength,
      body.length,
      'the origin stores the plaintext size, not a sealed one',
    );
    await checkBothSides('s3/obj.bin', body, marker);
    // A ranged GET through the front (the store's bytes are the plaintext: no segment maths).
    const part = join(work, 'range.part');
    await viaFront([
      's3api',
      'get-object',
      '--bucket',
      'lake',
      '--key',
      's3/obj.bin',
      '--range',
      'bytes=1000-1999',
      part,
    ]);
    assert.ok((await readFile(part)).equals(body.subarray(1000, 2000)));
    // SSE-C headers on an object the store encrypts are refused as on a plain object.
    const key = join(work, 'x.key');
    await writeFile(key, randomBytes(32));
    const ssec = await viaFront(
      [
        ...['s3api', 'head-object', '--bucket', 'lake', '--key', 's3/obj.bin'],
        ...['--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${key}`],
      ],
      true,
    );
    assert.match(ssec.stderr, /\(400\)/);
  });

  test('SSE-KMS with a key id of the origin KMS: reported on both sides; an id the origin does not have is refused and nothing is stored', async () => {
    const { body, marker } = markedBody('SSE-KMS', 70_000);
    const f = join(work, 'kms.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://lake/kms/obj.bin', '--sse', 'aws:kms', '--sse-kms-key-id', KMS_KEY]);
    for (const at of [viaFront, viaOrigin]) {
      const h = await head(at, 'kms/obj.bin');
      assert.equal(h.ServerSideEncryption, 'aws:kms');
      assert.equal(h.SSEKMSKeyId, KMS_KEY);
    }
    await checkBothSides('kms/obj.bin', body, marker);
    const bad = await viaFront(
      ['s3', 'cp', f, 's3://lake/kms/bad.bin', '--sse', 'aws:kms', '--sse-kms-key-id', 'no-such-key'],
      true,
    );
    assert.notEqual(bad.code, 0, 'an unknown origin key is refused');
    const gone = await viaFront(['s3api', 'head-object', '--bucket', 'lake', '--key', 'kms/bad.bin'], true);
    assert.match(gone.stderr, /\(404\)/);
  });

  test('a 12 MiB multipart upload with --sse AES256: passed on to the origin, which reports it', async () => {
    const { body, marker } = markedBody('MULTIPART', 12 * 1024 * 1024);
    const f = join(work, 'big.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://lake/mp/big.bin', '--sse', 'AES256']);
    const atFront = await head(viaFront, 'mp/big.bin');
    assert.equal(atFront.ServerSideEncryption, 'AES256');
    assert.match(String(atFront.ETag), /-2"$/, 'uploaded to the front in two parts');
    const atOrigin = await head(viaOrigin, 'mp/big.bin');
    assert.equal(atOrigin.ServerSideEncryption, 'AES256');
    assert.equal(atOrigin.ContentLength, body.length);
    await checkBothSides('mp/big.bin', body, marker);
  });

  test('copies between modes: plain → SSE-S3 → SSE-KMS → plain, each reported by the front and the origin', async () => {
    const { body, marker } = markedBody('COPY', 50_000);
    const f = join(work, 'copy.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://lake/copy/plain.bin']);
    assert.equal((await head(viaOrigin, 'copy/plain.bin')).ServerSideEncryption, undefined);
    await viaFront(['s3', 'cp', 's3://lake/copy/plain.bin', 's3://lake/copy/s3.bin', '--sse', 'AES256']);
    await viaFront([
      ...['s3', 'cp', 's3://lake/copy/s3.bin', 's3://lake/copy/kms.bin'],
      ...['--sse', 'aws:kms', '--sse-kms-key-id', KMS_KEY],
    ]);
    await viaFront(['s3', 'cp', 's3://lake/copy/kms.bin', 's3://lake/copy/back.bin']);
    const want: Array<[string, string | undefined]> = [
      ['copy/s3.bin', 'AES256'],
      ['copy/kms.bin', 'aws:kms'],
      ['copy/back.bin', undefined],
    ];
    for (const [key, mode] of want) {
      assert.equal((await head(viaFront, key)).ServerSideEncryption, mode, `${key} at the front`);
      assert.equal((await head(viaOrigin, key)).ServerSideEncryption, mode, `${key} at the origin`);
      const back = join(work, 'copy.back');
      await viaOrigin(['s3', 'cp', `s3://lake/${originKey(key)}`, back]);
      assert.ok((await readFile(back)).equals(body), `${key}: the origin serves the plaintext`);
    }
    // The encrypted copies are ciphertext at rest at the origin; the plain ones are not (a check
    // that the marker search would find plaintext if it were there).
    const hits = await filesContaining(originStore, marker);
    assert.ok(
      hits.length >= 1 && hits.every((p) => p.endsWith('plain.bin') || p.endsWith('back.bin')),
      hits.join(),
    );
    // The plain objects are cached as usual; once their pages are dropped, none is left of the others.
    assert.ok(
      (await filesContaining(frontData, marker)).length > 0,
      'plain objects are cached (the search works)',
    );
    for (const plain of ['/lake/copy/plain.bin', '/lake/copy/back.bin']) {
      const r = await runCli(['fs', 'free', plain], { registry: front.registry });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(await filesContaining(frontData, marker), [], 'no page of the encrypted copies');
    // A copy onto itself changing the encryption (S3 allows it): SSE-S3 → SSE-KMS in place.
    await viaFront([
      ...[
        's3api',
        'copy-object',
        '--bucket',
        'lake',
        '--key',
        'copy/s3.bin',
        '--copy-source',
        'lake/copy/s3.bin',
      ],
      ...['--server-side-encryption', 'aws:kms', '--ssekms-key-id', KMS_KEY],
    ]);
    assert.equal((await head(viaOrigin, 'copy/s3.bin')).ServerSideEncryption, 'aws:kms');
    assert.equal((await head(viaFront, 'copy/s3.bin')).SSEKMSKeyId, KMS_KEY);
  });

  test("the front bucket's default encryption is passed on to writes that ask for none", async () => {
    await viaFront([
      ...['s3api', 'put-bucket-encryption', '--bucket', 'lake'],
      ...[
        '--server-side-encryption-configuration',
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}',
      ],
    ]);
    try {
      const { body, marker } = markedBody('DEFAULT', 30_000);
      const f = join(work, 'default.bin');
      await writeFile(f, body);
      await viaFront(['s3', 'cp', f, 's3://lake/default/obj.bin']);
      assert.equal((await head(viaFront, 'default/obj.bin')).ServerSideEncryption, 'AES256');
      assert.equal((await head(viaOrigin, 'default/obj.bin')).ServerSideEncryption, 'AES256');
      await checkBothSides('default/obj.bin', body, marker);
    } finally {
      await viaFront(['s3api', 'delete-bucket-encryption', '--bucket', 'lake']);
    }
  });

  test('SSE-C over an s3:// store stays sealed by the front (the key never reaches the origin)', async () => {
    const keyFile = join(work, 'c.key');
    const keyBytes = randomBytes(32);
    await writeFile(keyFile, keyBytes);
    const { body, marker } = markedBody('SSE-C', 40_000);
    const f = join(work, 'c.bin');
    await writeFile(f, body);
    const ssec = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`];
    await viaFront(['s3', 'cp', f, 's3://lake/c/obj.bin', ...ssec]);
    const back = join(work, 'c.back');
    await viaFront(['s3', 'cp', 's3://lake/c/obj.bin', back, ...ssec]);
    assert.ok((await readFile(back)).equals(body));
    const atOrigin = await head(viaOrigin, 'c/obj.bin');
    assert.equal(atOrigin.ServerSideEncryption, undefined, 'the origin was not asked to encrypt');
    assert.ok(Number(atOrigin.ContentLength) > body.length, 'the origin holds the sealed (larger) bytes');
    assert.deepEqual(await filesContaining(originStore, marker), []);
    assert.deepEqual(await filesContaining(originStore, keyBytes), []);
  });

  test('a key below an encrypted key ("a" and "a/b" side by side in the store): both keep their sidecars, nothing is cached', async () => {
    const { body, marker } = markedBody('DISPLACED', 20_000);
    const f = join(work, 'disp.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://lake/disp', '--sse', 'AES256']);
    await viaFront(['s3', 'cp', f, 's3://lake/disp/child', '--sse', 'AES256', '--metadata', 'k=v']);
    for (const key of ['disp', 'disp/child']) {
      const h = await head(viaFront, key);
      assert.equal(h.ServerSideEncryption, 'AES256', key);
      assert.equal(h.ContentLength, body.length, key);
      if (key === 'disp/child') assert.deepEqual(h.Metadata, { k: 'v' }, 'the sidecar below a file is found');
      const back = join(work, 'disp.back');
      await viaFront(['s3', 'cp', `s3://lake/${key}`, back]);
      assert.ok((await readFile(back)).equals(body), key);
    }
    assert.deepEqual(await filesContaining(originStore, marker), [], 'both are ciphertext at the origin');
    assert.deepEqual(await filesContaining(frontData, marker), []);
  });

  test('a MUST_CACHE s3:// mount (nothing reaches the store): the front seals SSE-S3 itself', async () => {
    const mount = await runCli(
      [
        ...['fs', 'mount', '--write-type', 'MUST_CACHE', '/cached', 's3://lake/cached'],
        ...['--option', `endpoint=${origin.ready.addresses.s3}`],
        ...['--option', `accessKeyId=${ACCESS}`, '--option', `secretAccessKey=${SECRET}`],
      ],
      { registry: front.registry },
    );
    assert.equal(mount.code, 0, mount.stderr);
    const { body, marker } = markedBody('MUST-CACHE', 30_000);
    const f = join(work, 'mc.bin');
    await writeFile(f, body);
    await viaFront(['s3', 'cp', f, 's3://cached/obj.bin', '--sse', 'AES256']);
    const h = JSON.parse(
      (await viaFront(['s3api', 'head-object', '--bucket', 'cached', '--key', 'obj.bin'])).stdout,
    ) as Record<string, unknown>;
    assert.equal(h.ServerSideEncryption, 'AES256');
    const back = join(work, 'mc.back');
    await viaFront(['s3', 'cp', 's3://cached/obj.bin', back]);
    assert.ok((await readFile(back)).equals(body));
    const atOrigin = await viaOrigin([
      's3api',
      'head-object',
      '--bucket',
      'lake',
      '--key',
      'cached/obj.bin',
    ]).catch((err: unknown) => err);
    assert.ok(atOrigin instanceof Error && /\(404\)/.test(atOrigin.message), 'nothing at the origin');
    assert.deepEqual(await filesContaining(frontData, marker), [], 'sealed in the front cache and staging');
  });

  test('ufs contract: an encrypted write to the s3 connector over the origin is done and reads back', async () => {
    const store = await createUnderStore('s3://lake/contract', {
      endpoint: origin.ready.addresses.s3!,
      accessKeyId: ACCESS,
      secretAccessKey: SECRET,
    });
    try {
      const c = CONTRACT_CASES.find((x) => x.name.startsWith('write with server-side encryption'));
      assert.ok(c);
      await c.run({ store, dir: '/scratch', fixtureDir: '/scratch' });
      // The store does encrypt (so the case above took its "done" branch): the origin reports it.
      await store.write('/scratch/probe', Readable.from([Buffer.from('probe')]), {
        size: 5,
        encryption: { mode: 'AES256' },
      });
      const probe = await viaOrigin([
        's3api',
        'head-object',
        '--bucket',
        'lake',
        '--key',
        'contract/scratch/probe',
      ]);
      assert.equal(JSON.parse(probe.stdout).ServerSideEncryption, 'AES256');
    } finally {
      await store.delete('/scratch', { recursive: true }).catch(() => undefined);
      await store.close();
    }
  });
});
