import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect as tcp } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ACCESS_KEY, aws, type Harness, run, SECRET_KEY, startHarness } from './harness.js';
import { signedHeaders } from './sign.js';

/**
 * The rest of the object API users meet (issue 18): bucket tagging through the aws CLI,
 * GetObjectAttributes paging of a multipart object's parts, and PUTs in `Transfer-Encoding: chunked` framing without a
 * Content-Length (PutObject and UploadPart): raw signed requests (UNSIGNED-PAYLOAD, and a signed
 * payload hash) and curl's own SigV4 signing of a stdin upload.
 */

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A signed request whose body goes out in chunks, with no Content-Length (node frames it chunked). */
async function chunkedPut(
  h: Harness,
  path: string,
  chunks: Buffer[],
  payloadHash = 'UNSIGNED-PAYLOAD',
): Promise<Answer> {
  const url = `${h.url}${path}`;
  const headers = await signedHeaders(url, 'PUT', { 'x-amz-content-sha256': payloadHash });
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request(
      { host: u.hostname, port: u.port, method: 'PUT', path: `${u.pathname}${u.search}`, headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', fail);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** What the gateway answers a signed PUT with neither Content-Length nor chunked framing. */
async function lengthlessPut(h: Harness, path: string): Promise<string> {
  const headers = await signedHeaders(`${h.url}${path}`, 'PUT');
  const head = `PUT ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}connection: close\r\n\r\n`;
  return new Promise((ok, fail) => {
    const s = tcp(h.port, '127.0.0.1', () => s.write(head));
    let text = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    s.on('end', () => ok(text));
    s.on('error', fail);
  });
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('bucket tagging, GetObjectAttributes parts, chunked PUTs', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await aws(h, ['s3', 'mb', 's3://tagged']);
  });
  after(async () => {
    await h?.stop();
  });

  test('aws CLI: put/get/delete-bucket-tagging; NoSuchTagSet; InvalidTag for duplicates, 51 tags, long keys, aws: keys', async () => {
    const none = await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'tagged'], true);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /NoSuchTagSet/);
    await aws(h, [
      's3api',
      'put-bucket-tagging',
      '--bucket',
      'tagged',
      '--tagging',
      JSON.stringify({
        TagSet: [
          { Key: 'team', Value: 'data' },
          { Key: 'cost-center', Value: '42' },
          { Key: 'empty', Value: '' },
        ],
      }),
    ]);
    const got = JSON.parse((await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'tagged'])).stdout) as {
      TagSet: { Key: string; Value: string }[];
    };
    assert.deepEqual(got.TagSet, [
      { Key: 'cost-center', Value: '42' },
      { Key: 'empty', Value: '' },
      { Key: 'team', Value: 'data' },
    ]);
    // A Put replaces the whole set.
    await aws(h, [
      's3api',
      'put-bucket-tagging',
      '--bucket',
      'tagged',
      '--tagging',
      JSON.stringify({ TagSet: [{ Key: 'team', Value: 'ml' }] }),
    ]);
    assert.deepEqual(
      (
        JSON.parse((await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'tagged'])).stdout) as {
          TagSet: unknown[];
        }
      ).TagSet,
      [{ Key: 'team', Value: 'ml' }],
    );
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    await aws(h, [
      's3api',
      'put-bucket-tagging',
      '--bucket',
      'tagged',
      '--tagging',
      JSON.stringify({ TagSet: fifty }),
    ]);
    const refused: { TagSet: { Key: string; Value: string }[] }[] = [
      { TagSet: [...fifty, { Key: 'k50', Value: 'one too many' }] },
      {
        TagSet: [
          { Key: 'a', Value: '1' },
          { Key: 'a', Value: '2' },
        ],
      },
      { TagSet: [{ Key: 'x'.repeat(129), Value: '1' }] },
      { TagSet: [{ Key: 'k', Value: 'v'.repeat(257) }] },
      { TagSet: [{ Key: 'aws:createdBy', Value: 'me' }] },
    ];
    for (const tagging of refused) {
      const r = await aws(
        h,
        ['s3api', 'put-bucket-tagging', '--bucket', 'tagged', '--tagging', JSON.stringify(tagging)],
        true,
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /InvalidTag/, JSON.stringify(tagging).slice(0, 80));
    }
    // The refused puts changed nothing.
    assert.equal(
      (
        JSON.parse((await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'tagged'])).stdout) as {
          TagSet: unknown[];
        }
      ).TagSet.length,
      50,
    );
    await aws(h, ['s3api', 'delete-bucket-tagging', '--bucket', 'tagged']);
    assert.match(
      (await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'tagged'], true)).stderr,
      /NoSuchTagSet/,
    );
    // DELETE ?tagging is not DeleteBucket: the (empty) bucket is still there.
    await aws(h, ['s3api', 'head-bucket', '--bucket', 'tagged']);
    const missing = await aws(h, ['s3api', 'get-bucket-tagging', '--bucket', 'no-such-bucket'], true);
    assert.match(missing.stderr, /NoSuchBucket/);
  });

  test('PutObject with Transfer-Encoding: chunked and no Content-Length: stored whole (UNSIGNED-PAYLOAD and a signed hash)', async () => {
    const parts = [randomBytes(100_000), randomBytes(1), randomBytes(700_000)];
    const whole = Buffer.concat(parts);
    const put = await chunkedPut(h, '/tagged/chunked.bin', parts);
    assert.equal(put.status, 200, put.body);
    assert.equal(put.headers.etag, `"${md5(whole)}"`);
    const head = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'tagged', '--key', 'chunked.bin'])).stdout,
    ) as {
      ContentLength: number;
      ETag: string;
    };
    assert.equal(head.ContentLength, whole.length);
    const url = `${h.url}/tagged/chunked.bin`;
    const back = Buffer.from(
      await (await fetch(url, { headers: await signedHeaders(url, 'GET') })).arrayBuffer(),
    );
    assert.equal(md5(back), md5(whole));
    // An empty chunked body is an empty object.
    assert.equal((await chunkedPut(h, '/tagged/empty.bin', [])).status, 200);
    // The payload's signed SHA-256 is checked at the end of the framing: a wrong one stores nothing.
    const hash = createHash('sha256').update(whole).digest('hex');
    assert.equal((await chunkedPut(h, '/tagged/hashed.bin', parts, hash)).status, 200);
    const bad = await chunkedPut(h, '/tagged/chunked.bin', [Buffer.from('not what was signed')], hash);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /XAmzContentSHA256Mismatch/);
    const still = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'tagged', '--key', 'chunked.bin'])).stdout,
    ) as {
      ContentLength: number;
    };
    assert.equal(still.ContentLength, whole.length, 'the refused PUT left the object as it was');
    // Neither a length nor chunked framing: 411 MissingContentLength, as S3.
    const lengthless = await lengthlessPut(h, '/tagged/lengthless.bin');
    assert.match(lengthless, /^HTTP\/1\.1 411/);
    assert.match(lengthless, /<Code>MissingContentLength<\/Code>/);
  });

  test('curl -T - (a stdin upload, chunked) signed by curl itself', async () => {
    const data = randomBytes(300_000).toString('base64');
    const r = await run(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--aws-sigv4',
        'aws:amz:us-east-1:s3',
        '--user',
        `${ACCESS_KEY}:${SECRET_KEY}`,
        '-H',
        'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        '-T',
        '-',
        `${h.url}/tagged/from-stdin.txt`,
      ],
      h.env,
      data,
    );
    assert.equal(r.stdout, '200', r.stderr);
    assert.equal((await aws(h, ['s3', 'cp', 's3://tagged/from-stdin.txt', '-'])).stdout, data);
  });

  test('UploadPart with chunked framing: the multipart object is whole', async () => {
    const up = JSON.parse(
      (await aws(h, ['s3api', 'create-multipart-upload', '--bucket', 'tagged', '--key', 'mp.bin'])).stdout,
    ) as {
      UploadId: string;
    };
    const one = randomBytes(5 * 1024 * 1024);
    const two = randomBytes(1234);
    const etags: string[] = [];
    for (const [n, body] of [one, two].entries()) {
      const r = await chunkedPut(
        h,
        `/tagged/mp.bin?partNumber=${n + 1}&uploadId=${encodeURIComponent(up.UploadId)}`,
        [body.subarray(0, 1000), body.subarray(1000)],
      );
      assert.equal(r.status, 200, r.body);
      etags.push(String(r.headers.etag));
    }
    const parts = JSON.stringify({ Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) });
    await aws(h, [
      's3api',
      'complete-multipart-upload',
      '--bucket',
      'tagged',
      '--key',
      'mp.bin',
      '--upload-id',
      up.UploadId,
      '--multipart-upload',
      parts,
    ]);
    const head = JSON.parse(
      (await aws(h, ['s3api', 'head-object', '--bucket', 'tagged', '--key', 'mp.bin'])).stdout,
    ) as {
      ContentLength: number;
      ETag: string;
    };
    assert.equal(head.ContentLength, one.length + two.length);
    assert.match(head.ETag, /-2"$/);
  });

  test('aws CLI get-object-attributes: parts paged by --max-parts / --part-number-marker, with their SHA-256s', async () => {
    const create = JSON.parse(
      (
        await aws(h, [
          's3api',
          'create-multipart-upload',
          '--bucket',
          'tagged',
          '--key',
          'attrs.bin',
          '--checksum-algorithm',
          'SHA256',
        ])
      ).stdout,
    ) as { UploadId: string };
    const bodies = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(77)];
    const parts: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = [];
    for (const [i, body] of bodies.entries()) {
      const file = `${h.home}/part-${i + 1}`;
      await writeFile(file, body);
      const r = JSON.parse(
        (
          await aws(h, [
            's3api',
            'upload-part',
            '--bucket',
            'tagged',
            '--key',
            'attrs.bin',
            '--upload-id',
            create.UploadId,
            '--part-number',
            String(i + 1),
            '--body',
            file,
            '--checksum-algorithm',
            'SHA256',
          ])
        ).stdout,
      ) as { ETag: string; ChecksumSHA256: string };
      assert.equal(r.ChecksumSHA256, createHash('sha256').update(body).digest('base64'));
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 });
    }
    await aws(h, [
      's3api',
      'complete-multipart-upload',
      '--bucket',
      'tagged',
      '--key',
      'attrs.bin',
      '--upload-id',
      create.UploadId,
      '--multipart-upload',
      JSON.stringify({ Parts: parts }),
    ]);
    type Attrs = {
      ObjectSize: number;
      Checksum: { ChecksumSHA256: string; ChecksumType: string };
      ObjectParts: {
        TotalPartsCount: number;
        PartNumberMarker: number;
        NextPartNumberMarker?: number;
        MaxParts: number;
        IsTruncated: boolean;
        Parts: { PartNumber: number; Size: number; ChecksumSHA256: string }[];
      };
    };
    const attrs = async (...extra: string[]) =>
      JSON.parse(
        (
          await aws(h, [
            's3api',
            'get-object-attributes',
            '--bucket',
            'tagged',
            '--key',
            'attrs.bin',
            '--object-attributes',
            'ObjectParts',
            'Checksum',
            'ObjectSize',
            ...extra,
          ])
        ).stdout,
      ) as Attrs;
    const first = await attrs('--max-parts', '2');
    assert.equal(
      first.ObjectSize,
      bodies.reduce((n, b) => n + b.length, 0),
    );
    assert.equal(first.Checksum.ChecksumType, 'COMPOSITE');
    assert.match(first.Checksum.ChecksumSHA256, /-3$/);
    assert.equal(first.ObjectParts.TotalPartsCount, 3);
    assert.equal(first.ObjectParts.IsTruncated, true);
    assert.equal(first.ObjectParts.NextPartNumberMarker, 2);
    assert.deepEqual(
      first.ObjectParts.Parts.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]),
      parts.slice(0, 2).map((p, i) => [p.PartNumber, bodies[i]!.length, p.ChecksumSHA256]),
    );
    const rest = await attrs('--max-parts', '2', '--part-number-marker', '2');
    assert.equal(rest.ObjectParts.IsTruncated, false);
    assert.equal(rest.ObjectParts.PartNumberMarker, 2);
    assert.deepEqual(
      rest.ObjectParts.Parts.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256]),
      [[3, 77, parts[2]!.ChecksumSHA256]],
    );
    const bad = await aws(
      h,
      [
        's3api',
        'get-object-attributes',
        '--bucket',
        'tagged',
        '--key',
        'attrs.bin',
        '--object-attributes',
        'ObjectParts',
        '--max-parts',
        '1001',
      ],
      true,
    );
    assert.match(bad.stderr, /InvalidArgument/);
  });
});
