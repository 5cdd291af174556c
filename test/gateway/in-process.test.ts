import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { ACCESS_KEY, SECRET_KEY } from './harness.js';

/**
 * The gateway inside `strata local` (same process as the worker: no RPC hop), which takes the
 * fast paths — single-buffer small GETs, memoised listings, pre-serialised listing XML — that the
 * RPC-backed harness does not. Checked against what the store holds.
 */

const MiB = 1024 * 1024;

async function bytes(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

describe('S3 gateway inside strata local', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let strata: RunningStrata;
  let s3: S3Client;
  let store: string;

  before(async () => {
    tmp = await tempDir('s3local');
    store = join(tmp.dir, 'store');
    await mkdir(store, { recursive: true });
    strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--mount', `/=file://${store}`], {
      STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
    });
    const url = strata.ready.addresses.s3!;
    s3 = new S3Client({
      endpoint: url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      maxAttempts: 1,
    });
  });

  after(async () => {
    s3?.destroy();
    await strata?.stop();
    await tmp?.cleanup();
  });

  test('ranged and whole small GETs return the stored bytes, within and across pages', async () => {
    await mkdir(join(store, 'rng'), { recursive: true });
    const data = randomBytes(2 * MiB + 12_345);
    await writeFile(join(store, 'rng', 'blob'), data);
    await writeFile(join(store, 'rng', 'empty'), '');
    await writeFile(join(store, 'rng', 'small'), 'hello');
    const ranges: Array<[number, number]> = [
      [0, 4095],
      [MiB - 100, MiB + 100], // crosses a page boundary
      [2 * MiB, 2 * MiB + 12_344], // the short last page
      [5, 5],
    ];
    for (const pass of ['cold', 'warm']) {
      for (const [a, b] of ranges) {
        const r = await s3.send(
          new GetObjectCommand({ Bucket: 'rng', Key: 'blob', Range: `bytes=${a}-${b}` }),
        );
        assert.ok((await bytes(r.Body)).equals(data.subarray(a, b + 1)), `${pass} ${a}-${b}`);
        assert.equal(r.ContentRange, `bytes ${a}-${b}/${data.length}`);
      }
      const small = await s3.send(new GetObjectCommand({ Bucket: 'rng', Key: 'small' }));
      assert.equal((await bytes(small.Body)).toString(), 'hello');
      assert.match(small.$metadata.requestId ?? '', /^[0-9A-F]{16}$/, 'x-amz-request-id on a small GET');
      const empty = await s3.send(new GetObjectCommand({ Bucket: 'rng', Key: 'empty' }));
      assert.equal((await bytes(empty.Body)).length, 0);
    }
  });

  test('a listing of 700 keys pages identically at any page size, with ETags, and sees new keys', async () => {
    // Keys straight in the store (derived ETags) and through the gateway (MD5 ETags), in a flat
    // directory and in nested ones, so pages cut across directories and internal batches.
    const expected = new Map<string, string | undefined>();
    await mkdir(join(store, 'many', 'flat'), { recursive: true });
    for (let i = 0; i < 500; i++) {
      const key = `flat/k${String(i).padStart(4, '0')}`;
      await writeFile(join(store, 'many', key), `v${i}`);
      expected.set(key, undefined);
    }
    for (let d = 0; d < 10; d++) {
      await mkdir(join(store, 'many', 'nest', `d${d}`), { recursive: true });
      for (let i = 0; i < 15; i++) {
        const key = `nest/d${d}/f${i}`;
        await writeFile(join(store, 'many', key), key);
        expected.set(key, undefined);
      }
    }
    for (let i = 0; i < 50; i++) {
      const key = `put/p${i}`;
      await s3.send(new PutObjectCommand({ Bucket: 'many', Key: key, Body: `body ${i}` }));
      expected.set(key, md5(`body ${i}`));
    }
    const sorted = [...expected.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

    const listAll = async (max: number | undefined, prefix?: string) => {
      const out: NonNullable<ListObjectsV2CommandOutput['Contents']> = [];
      let token: string | undefined;
      do {
        const r = await s3.send(
          new ListObjectsV2Command({
            Bucket: 'many',
            MaxKeys: max,
            ContinuationToken: token,
            Prefix: prefix,
          }),
        );
        assert.equal(r.KeyCount, r.Contents?.length ?? 0);
        assert.match(r.$metadata.requestId ?? '', /^[0-9A-F]{16}$/, 'x-amz-request-id on a listing');
        out.push(...(r.Contents ?? []));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out;
    };
    for (const max of [undefined, 1000, 250, 129, 128, 7]) {
      // Twice: the second run is served from the warm listing caches.
      for (const pass of ['first', 'again']) {
        const got = await listAll(max);
        assert.deepEqual(
          got.map((c) => c.Key),
          sorted,
          `max ${max} ${pass}`,
        );
        for (const c of got) {
          const want = expected.get(c.Key!);
          if (want !== undefined) assert.equal(c.ETag, `"${want}"`, c.Key);
          else assert.match(c.ETag!, /^"[0-9a-f]{32}"$/);
        }
      }
    }
    const nest = await listAll(40, 'nest/d3/');
    assert.deepEqual(
      nest.map((c) => c.Key),
      sorted.filter((k) => k.startsWith('nest/d3/')),
    );

    // A key written through the gateway shows up in the next listing (the caches are dropped).
    await s3.send(new PutObjectCommand({ Bucket: 'many', Key: 'flat/k0250a', Body: 'new' }));
    const after = (await listAll(1000)).map((c) => c.Key);
    assert.equal(after.length, sorted.length + 1);
    assert.equal(after[after.indexOf('flat/k0250') + 1], 'flat/k0250a');

    // Overwritten and deleted keys: cached pages never show the old ETag or the gone key.
    await s3.send(new PutObjectCommand({ Bucket: 'many', Key: 'put/p7', Body: 'changed' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'many', Key: 'flat/k0100' }));
    for (const max of [1000, 250]) {
      const got = await listAll(max);
      assert.equal(got.find((c) => c.Key === 'put/p7')?.ETag, `"${md5('changed')}"`, `max ${max}`);
      assert.equal(
        got.some((c) => c.Key === 'flat/k0100'),
        false,
        `max ${max}`,
      );
      assert.equal(got.length, sorted.length);
    }
  });
});

describe("strata local's S3 region (--s3-region, the config's s3.region)", () => {
  async function regionOf(args: string[], config?: string): Promise<{ accepted: string[]; refused: string }> {
    const tmp = await tempDir('s3region');
    const extra: string[] = [];
    if (config !== undefined) {
      await writeFile(join(tmp.dir, 'strata.yaml'), config);
      extra.push('--config', join(tmp.dir, 'strata.yaml'));
    }
    const strata = await startLocal(['--data-dir', join(tmp.dir, 'data'), ...extra, ...args], {
      STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY,
    });
    try {
      const accepted: string[] = [];
      let refused = '';
      for (const region of ['us-east-1', 'eu-west-1', 'ap-south-1']) {
        const s3 = new S3Client({
          endpoint: strata.ready.addresses.s3!,
          region,
          forcePathStyle: true,
          credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
          maxAttempts: 1,
        });
        try {
          await s3.send(new ListObjectsV2Command({ Bucket: 'nope' }));
        } catch (err) {
          const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
          if (e.name === 'NoSuchBucket') accepted.push(region);
          else refused = `${e.$metadata?.httpStatusCode} ${e.name}`;
        } finally {
          s3.destroy();
        }
      }
      return { accepted, refused };
    } finally {
      await strata.stop();
      await tmp.cleanup();
    }
  }

  test('--s3-region sets the region signatures must name (over the config file); others are 400', async () => {
    const r = await regionOf(['--s3-region', 'eu-west-1'], 's3:\n  region: ap-south-1\n');
    assert.deepEqual(r.accepted, ['eu-west-1']);
    assert.equal(r.refused, '400 AuthorizationHeaderMalformed');
  });

  test("the config file's s3.region applies to strata local's gateway", async () => {
    const r = await regionOf([], 's3:\n  region: ap-south-1\n');
    assert.deepEqual(r.accepted, ['ap-south-1']);
  });
});

describe("strata local's anonymous read buckets (the config's s3.anonymousReadBuckets)", () => {
  test('an unsigned GET of an object in a listed bucket is served; another bucket refuses it', async () => {
    const tmp = await tempDir('s3anon');
    const origin = join(tmp.dir, 'origin');
    await mkdir(join(origin, 'pub'), { recursive: true });
    await mkdir(join(origin, 'priv'), { recursive: true });
    await writeFile(join(origin, 'pub', 'hello.txt'), 'open to all');
    await writeFile(join(origin, 'priv', 'hello.txt'), 'not for you');
    await writeFile(join(tmp.dir, 'strata.yaml'), 's3:\n  anonymousReadBuckets: [pub]\n');
    const strata = await startLocal(
      [
        '--data-dir',
        join(tmp.dir, 'data'),
        '--config',
        join(tmp.dir, 'strata.yaml'),
        '--mount',
        `/pub=file://${join(origin, 'pub')}`,
        '--mount',
        `/priv=file://${join(origin, 'priv')}`,
      ],
      { STRATA_S3_ACCESS_KEY_ID: ACCESS_KEY, STRATA_S3_SECRET_ACCESS_KEY: SECRET_KEY },
    );
    try {
      const open = await fetch(`${strata.ready.addresses.s3}/pub/hello.txt`);
      assert.equal(open.status, 200);
      assert.equal(await open.text(), 'open to all');
      const closed = await fetch(`${strata.ready.addresses.s3}/priv/hello.txt`);
      assert.equal(closed.status, 403);
      await closed.arrayBuffer();
    } finally {
      await strata.stop();
      await tmp.cleanup();
    }
  });
});
