import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createScope, getSigningKey } from '@smithy/signature-v4';
import {
  ACCESS_KEY,
  aws,
  type Harness,
  run,
  SECRET_KEY,
  s3Error,
  startHarnessWithBucket,
  stopHarness,
} from './harness.js';
import { presignPath, Sha256 } from './sign.js';

/**
 * The S3 defects a conformance run found (issue 18), each through a real client where the
 * behaviour is about what a client sends: boto3 (defects_boto3.py), the aws CLI, the JS SDK, and
 * hand-signed requests for the bytes on the wire.
 */

const BOTO_SCRIPT = fileURLToPath(new URL('../../../test/gateway/defects_boto3.py', import.meta.url));

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Response header values as bytes (latin1 strings from Node, one char per byte). */
  readonly rawHeaders: string[];
  readonly body: string;
}

/**
 * A header-signed request whose header values are byte strings (one char per byte, as Node
 * writes them): the canonical request is hashed over those bytes, as a client sending UTF-8
 * (botocore, Go, curl) signs them.
 */
async function signedRaw(
  h: Harness,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<Raw> {
  const longDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = longDate.slice(0, 8);
  const payload = createHash('sha256').update(body).digest('hex');
  const all: Record<string, string> = {
    ...headers,
    host: `127.0.0.1:${h.port}`,
    'x-amz-date': longDate,
    'x-amz-content-sha256': payload,
  };
  const names = Object.keys(all)
    .map((n) => n.toLowerCase())
    .sort();
  const lines = names.map((n) => `${n}:${all[n]!.trim()}\n`).join('');
  const canonical = Buffer.concat([
    Buffer.from(`${method}\n${path}\n\n`),
    Buffer.from(lines, 'latin1'),
    Buffer.from(`\n${names.join(';')}\n${payload}`),
  ]);
  const scope = createScope(day, 'us-east-1', 's3');
  const toSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const key = await getSigningKey(
    Sha256,
    { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    day,
    'us-east-1',
    's3',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  all.authorization = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return send(h, method, path, all, body);
}

function send(
  h: Harness,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<Raw> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: h.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        text += d;
      });
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: text }),
      );
    });
    req.on('error', fail);
    // A Buffer: a string body would be written together with the headers, all as UTF-8.
    req.end(Buffer.from(body));
  });
}

const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const elapsed: Record<string, number> = {};

describe('S3 defects from the conformance run (issue 18)', () => {
  let h: Harness;
  let s3: S3Client;
  before(async () => {
    ({ h, s3 } = await startHarnessWithBucket('def'));
  });
  after(async () => {
    await stopHarness(h, s3);
    console.log(`timings (ms): ${JSON.stringify(elapsed)}`);
  });

  test('boto3: unicode metadata, GetObjectAttributes, LocationConstraint, bucket exists, presign, Content-Encoding', async () => {
    const r = await run('/usr/bin/python3', [BOTO_SCRIPT, h.url, ACCESS_KEY, SECRET_KEY], h.env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.meta_put, 'ok');
    // S3 answers a non-ASCII value RFC 2047 encoded (UTF-8, base64); boto3 passes it on as is.
    assert.equal(out.meta_get, `=?UTF-8?B?${Buffer.from('Hello World\u00e9').toString('base64')}?=`);
    assert.deepEqual(out.attr, {
      ETag: createHash('md5').update('hello attributes').digest('hex'),
      Checksum: { ChecksumSHA256: createHash('sha256').update('hello attributes').digest('base64') },
      ObjectSize: 16,
      StorageClass: 'STANDARD',
      ObjectParts: null,
    });
    assert.equal(out.create_loc, 'ok');
    assert.equal(out.create_again, '409 BucketAlreadyOwnedByYou');
    assert.equal(out.presign_100000, 200);
    assert.equal(out.presign_604800, 200);
    assert.equal(out.presign_before_delete, 200);
    assert.equal(out.presign_deleted, 404);
    assert.equal(out.content_encoding, 'deflate, gzip');
  });

  test('PutObject with UTF-8 x-amz-meta-* bytes signed as sent; the value comes back RFC 2047 encoded', async () => {
    const value = 'caf\u00e9 \u65e5\u672c \u{1f600}';
    const put = await signedRaw(h, 'PUT', '/def/utf8', { 'x-amz-meta-word': utf8Bytes(value) }, 'body');
    assert.equal(put.status, 200, put.body);
    const head = await signedRaw(h, 'HEAD', '/def/utf8', {});
    assert.equal(head.headers['x-amz-meta-word'], `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`);
    // An encoded word sent is stored decoded, and an ASCII value is returned as it is.
    const word = `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`;
    assert.equal(
      (await signedRaw(h, 'PUT', '/def/word', { 'x-amz-meta-word': word, 'x-amz-meta-plain': 'a b' }, 'x'))
        .status,
      200,
    );
    const again = await signedRaw(h, 'HEAD', '/def/word', {});
    assert.equal(again.headers['x-amz-meta-word'], word);
    assert.equal(again.headers['x-amz-meta-plain'], 'a b');
    // A wrong signature over the same bytes is still refused.
    const bad = await send(h, 'PUT', '/def/utf8', {
      ...put.headers,
      'x-amz-meta-word': utf8Bytes('other'),
    } as Record<string, string>);
    assert.equal(bad.status, 403);
  });

  test('aws CLI get-object-attributes: ETag, Checksum, ObjectParts, StorageClass, ObjectSize of a multipart object', async () => {
    const part = Buffer.alloc(5 * 1024 * 1024, 7);
    const up = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'def', Key: 'mp-attr', ChecksumAlgorithm: 'CRC32' }),
    );
    const parts = [];
    for (const n of [1, 2]) {
      const body = n === 1 ? part : Buffer.from('tail');
      const p = await s3.send(
        new UploadPartCommand({
          Bucket: 'def',
          Key: 'mp-attr',
          UploadId: up.UploadId,
          PartNumber: n,
          Body: body,
          ChecksumAlgorithm: 'CRC32',
        }),
      );
      parts.push({ PartNumber: n, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'def',
        Key: 'mp-attr',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const r = await aws(h, [
      's3api',
      'get-object-attributes',
      '--bucket',
      'def',
      '--key',
      'mp-attr',
      '--object-attributes',
      'ETag',
      'Checksum',
      'ObjectParts',
      'StorageClass',
      'ObjectSize',
    ]);
    const a = JSON.parse(r.stdout) as {
      ETag: string;
      Checksum: { ChecksumCRC32: string; ChecksumType?: string };
      ObjectParts: {
        TotalPartsCount: number;
        Parts: { PartNumber: number; Size: number; ChecksumCRC32: string }[];
      };
      StorageClass: string;
      ObjectSize: number;
    };
    assert.match(a.ETag, /^[0-9a-f]{32}-2$/);
    assert.match(a.Checksum.ChecksumCRC32, /-2$/);
    assert.equal(a.ObjectParts.TotalPartsCount, 2);
    assert.deepEqual(
      a.ObjectParts.Parts.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32]),
      parts.map((p, i) => [p.PartNumber, i === 0 ? part.length : 4, p.ChecksumCRC32]),
    );
    assert.equal(a.StorageClass, 'STANDARD');
    assert.equal(a.ObjectSize, part.length + 4);
    // Only what was asked for; a missing or unknown attribute is 400 InvalidArgument.
    const size = JSON.parse(
      (
        await aws(h, [
          's3api',
          'get-object-attributes',
          '--bucket',
          'def',
          '--key',
          'mp-attr',
          '--object-attributes',
          'ObjectSize',
        ])
      ).stdout,
    );
    assert.deepEqual(
      Object.keys(size).filter((k) => k !== 'LastModified'),
      ['ObjectSize'],
    );
    const unknown = await aws(
      h,
      [
        's3api',
        'get-object-attributes',
        '--bucket',
        'def',
        '--key',
        'mp-attr',
        '--object-attributes',
        'Colour',
      ],
      true,
    );
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /InvalidArgument/);
    const missing = await aws(
      h,
      ['s3api', 'get-object-attributes', '--bucket', 'def', '--key', 'nope', '--object-attributes', 'ETag'],
      true,
    );
    assert.match(missing.stderr, /NoSuchKey/);
  });

  test('CreateBucket: LocationConstraint accepted, malformed XML 400, an existing bucket 409 BucketAlreadyOwnedByYou with BucketName', async () => {
    const doc = (loc: string) =>
      `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${loc}</LocationConstraint></CreateBucketConfiguration>`;
    assert.equal((await signedRaw(h, 'PUT', '/loc-eu', {}, doc('eu-central-1'))).status, 200);
    assert.equal((await signedRaw(h, 'PUT', '/loc-us', {}, doc('us-east-1'))).status, 200);
    const malformed = await signedRaw(
      h,
      'PUT',
      '/loc-bad',
      {},
      '<CreateBucketConfiguration><LocationConstraint>',
    );
    assert.equal(malformed.status, 400);
    assert.match(malformed.body, /<Code>MalformedXML<\/Code>/);
    const notRegion = await signedRaw(h, 'PUT', '/loc-bad', {}, doc('not a region!'));
    assert.equal(notRegion.status, 400);
    assert.match(notRegion.body, /<Code>InvalidLocationConstraint<\/Code>/);
    const again = await signedRaw(h, 'PUT', '/loc-eu', {}, doc('eu-central-1'));
    assert.equal(again.status, 409);
    assert.match(again.body, /<Code>BucketAlreadyOwnedByYou<\/Code>/);
    assert.match(again.body, /<BucketName>loc-eu<\/BucketName>/);
    const heads = await aws(h, ['s3api', 'list-buckets']);
    const names = (JSON.parse(heads.stdout) as { Buckets: { Name: string }[] }).Buckets.map((b) => b.Name);
    assert.ok(names.includes('loc-eu') && !names.includes('loc-bad'), names.join());
  });

  test('presigned X-Amz-Expires: 0 or negative expired (403), a week valid, over a week or not a number 400', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'def', Key: 'pre', Body: 'presigned' }));
    const get = async (expires: number | string) => {
      const path = await presignPath(h.port, 'GET', '/def/pre', { expires: 1 });
      return send(h, 'GET', path.replace('X-Amz-Expires=1', `X-Amz-Expires=${expires}`), {});
    };
    // presignPath signs the lifetime: re-sign each one properly.
    const signed = async (expires: number) =>
      send(h, 'GET', await presignPath(h.port, 'GET', '/def/pre', { expires }), {});
    const week = await signed(604800);
    assert.equal(week.status, 200, week.body);
    assert.equal(week.body, 'presigned');
    assert.equal((await signed(100000)).status, 200);
    const zero = await signed(0);
    assert.equal(zero.status, 403);
    assert.match(zero.body, /<Code>AccessDenied<\/Code>/);
    const over = await signed(604801);
    assert.equal(over.status, 400, over.body);
    assert.match(over.body, /<Code>AuthorizationQueryParametersError<\/Code>/);
    assert.equal((await signed(-7)).status, 403);
    const word = await get('soon');
    assert.equal(word.status, 400);
    assert.match(word.body, /<Code>AuthorizationQueryParametersError<\/Code>/);
  });

  test('a presigned GET of a deleted object is 404 NoSuchKey', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'def', Key: 'doomed', Body: 'x' }));
    const url = `${h.url}${await presignPath(h.port, 'GET', '/def/doomed', { expires: 300 })}`;
    const first = await fetch(url);
    assert.equal(first.status, 200, `${url}\n${await first.text()}`);
    await s3.send(new DeleteObjectsCommand({ Bucket: 'def', Delete: { Objects: [{ Key: 'doomed' }] } }));
    const gone = await fetch(url);
    assert.equal(gone.status, 404);
    assert.match(await gone.text(), /<Code>NoSuchKey<\/Code>/);
  });

  test('ListObjects with delimiters of special characters and of several characters', async () => {
    const keys = [
      'a%b%c',
      'a%d',
      'x+y+z',
      'x+w',
      'caf\u00e9/\u00e9t\u00e9\u00e9x',
      'multiABCrest',
      'multiABCmore',
      'plain',
    ];
    await Promise.all(
      keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: 'def', Key: `dl/${Key}`, Body: Key }))),
    );
    const cases: [string, string[], string[]][] = [
      [
        '%',
        ['dl/a%'],
        [
          'dl/caf\u00e9/\u00e9t\u00e9\u00e9x',
          'dl/multiABCmore',
          'dl/multiABCrest',
          'dl/plain',
          'dl/x+w',
          'dl/x+y+z',
        ],
      ],
      [
        '+',
        ['dl/x+'],
        [
          'dl/a%b%c',
          'dl/a%d',
          'dl/caf\u00e9/\u00e9t\u00e9\u00e9x',
          'dl/multiABCmore',
          'dl/multiABCrest',
          'dl/plain',
        ],
      ],
      [
        '\u00e9',
        ['dl/caf\u00e9'],
        ['dl/a%b%c', 'dl/a%d', 'dl/multiABCmore', 'dl/multiABCrest', 'dl/plain', 'dl/x+w', 'dl/x+y+z'],
      ],
      [
        'ABC',
        ['dl/multiABC'],
        ['dl/a%b%c', 'dl/a%d', 'dl/caf\u00e9/\u00e9t\u00e9\u00e9x', 'dl/plain', 'dl/x+w', 'dl/x+y+z'],
      ],
    ];
    // s3-tests' odd ones: a newline, a space, a dot, a letter, and one no key contains.
    const all = keys.map((k) => `dl/${k}`).sort();
    cases.push(['\n', [], all], [' ', [], all], ['.', [], all], ['zzz', [], all]);
    cases.push([
      'a',
      ['dl/a', 'dl/ca', 'dl/pla'],
      ['dl/multiABCmore', 'dl/multiABCrest', 'dl/x+w', 'dl/x+y+z'],
    ]);
    for (const [delimiter, prefixes, contents] of cases) {
      const t0 = performance.now();
      const v2 = await s3.send(
        new ListObjectsV2Command({ Bucket: 'def', Prefix: 'dl/', Delimiter: delimiter }),
      );
      const v1 = await s3.send(
        new ListObjectsCommand({ Bucket: 'def', Prefix: 'dl/', Delimiter: delimiter }),
      );
      elapsed[`list delimiter ${delimiter}`] = Math.round(performance.now() - t0);
      for (const page of [v2, v1]) {
        assert.deepEqual(
          (page.CommonPrefixes ?? []).map((p) => p.Prefix),
          prefixes,
          delimiter,
        );
        assert.deepEqual(
          (page.Contents ?? []).map((c) => c.Key),
          contents,
          delimiter,
        );
        // The SDK's XML parser drops a text node that is only a newline.
        assert.equal(page.Delimiter, delimiter === '\n' ? '' : delimiter);
      }
    }
  });

  test('DeleteObjects of 1,000 keys deletes all of them', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk/${i % 10}/k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(
        keys.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket: 'def', Key, Body: 'x' }))),
      );
    const t0 = performance.now();
    const r = await s3.send(
      new DeleteObjectsCommand({ Bucket: 'def', Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    elapsed['DeleteObjects 1000'] = Math.round(performance.now() - t0);
    assert.equal(r.Errors?.length ?? 0, 0);
    assert.equal(r.Deleted?.length, 1000);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: 'def', Prefix: 'bulk/' }));
    assert.equal(left.KeyCount, 0);
  });

  test('GET by partNumber of a large multipart object returns that part', async () => {
    const PART = 5 * 1024 * 1024;
    const COUNT = 12;
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'def', Key: 'big-mp' }));
    const parts = [];
    for (let n = 1; n <= COUNT; n++) {
      const p = await s3.send(
        new UploadPartCommand({
          Bucket: 'def',
          Key: 'big-mp',
          UploadId: up.UploadId,
          PartNumber: n,
          Body: Buffer.alloc(PART, n),
        }),
      );
      parts.push({ PartNumber: n, ETag: p.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'def',
        Key: 'big-mp',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const t0 = performance.now();
    const beyond = await s3Error(
      s3.send(new GetObjectCommand({ Bucket: 'def', Key: 'big-mp', PartNumber: COUNT + 1 })),
    );
    elapsed[`GET partNumber=${COUNT + 1}`] = Math.round(performance.now() - t0);
    assert.deepEqual(beyond, { name: 'InvalidPart', status: 400 });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'def', Key: 'big-mp', PartNumber: 3 }));
    assert.equal(head.ContentLength, PART);
    for (const n of [1, 7, COUNT]) {
      const t0 = performance.now();
      const g = await s3.send(new GetObjectCommand({ Bucket: 'def', Key: 'big-mp', PartNumber: n }));
      const body = Buffer.from(
        await (g.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
      elapsed[`GET partNumber=${n}`] = Math.round(performance.now() - t0);
      assert.equal(g.PartsCount, COUNT);
      assert.equal(g.ContentRange, `bytes ${(n - 1) * PART}-${n * PART - 1}/${COUNT * PART}`);
      assert.equal(body.length, PART);
      assert.ok(
        body.every((b) => b === n),
        `part ${n} bytes`,
      );
    }
  });
});
