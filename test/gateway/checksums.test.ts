import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  type ChecksumAlgorithm as SdkAlgorithm,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import {
  type ChecksumAlgorithm,
  checksumOf,
  compositeChecksum,
  crc32c,
  newHasher,
  requestChecksum,
  validChecksumValue,
} from '../../src/gateway/s3/checksums.js';
import { type Harness, SECRET_KEY, s3Error, sdkClient, startHarness } from './harness.js';
import { signedHeaders } from './sign.js';

const MIN_PART = 64 * 1024;
const B = 'cks';

describe('checksum algorithms', () => {
  const check = Buffer.from('123456789');

  test('CRC test vectors ("123456789")', () => {
    assert.equal(crc32c(check), 0xe3069283);
    assert.equal(checksumOf('crc32c', check), Buffer.from('e3069283', 'hex').toString('base64'));
    assert.equal(checksumOf('crc64nvme', check), Buffer.from('ae8b14860a799888', 'hex').toString('base64'));
    assert.equal(checksumOf('crc32', check), Buffer.from('cbf43926', 'hex').toString('base64'));
    assert.equal(checksumOf('crc32c', Buffer.alloc(0)), 'AAAAAA==');
    assert.equal(checksumOf('crc64nvme', Buffer.alloc(0)), 'AAAAAAAAAAA=');
    // CRC-32C of 32 zero bytes (RFC 3720 B.4).
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    assert.equal(checksumOf('sha256', check), createHash('sha256').update(check).digest('base64'));
  });

  test('streaming in odd pieces gives the one-shot digest', () => {
    const data = randomBytes(100_003);
    for (const alg of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as ChecksumAlgorithm[]) {
      const h = newHasher(alg);
      for (let i = 0; i < data.length; i += 997) h.update(data.subarray(i, i + 997));
      assert.equal(h.digest().toString('base64'), checksumOf(alg, data), alg);
    }
  });

  test('composite checksums and header validation', () => {
    const a = checksumOf('sha256', Buffer.from('a'));
    const b = checksumOf('sha256', Buffer.from('b'));
    const want = createHash('sha256')
      .update(Buffer.concat([Buffer.from(a, 'base64'), Buffer.from(b, 'base64')]))
      .digest('base64');
    assert.equal(compositeChecksum('sha256', [a, b]), `${want}-2`);
    assert.ok(validChecksumValue('crc32', 'AAAAAA=='));
    assert.ok(!validChecksumValue('crc32', 'AAAAAAAA'));
    assert.ok(!validChecksumValue('sha256', 'not base64!'));
    assert.deepEqual(requestChecksum({ 'x-amz-checksum-crc32': 'AAAAAA==' }), {
      alg: 'crc32',
      value: 'AAAAAA==',
    });
    assert.deepEqual(requestChecksum({ 'x-amz-trailer': 'x-amz-checksum-crc64nvme' }), {
      alg: 'crc64nvme',
      trailer: true,
    });
    assert.throws(() => requestChecksum({ 'x-amz-checksum-crc32': 'AAAA' }), /InvalidRequest|invalid/);
    assert.throws(() =>
      requestChecksum({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'AAAAAA==' }),
    );
    assert.throws(() => requestChecksum({ 'x-amz-sdk-checksum-algorithm': 'CRC32' }));
    assert.throws(() =>
      requestChecksum({ 'x-amz-sdk-checksum-algorithm': 'SHA1', 'x-amz-checksum-crc32': 'AAAAAA==' }),
    );
  });
});

function client(h: Harness, validation: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' = 'WHEN_SUPPORTED'): S3Client {
  return sdkClient(h, SECRET_KEY, { responseChecksumValidation: validation });
}

const SDK: Record<ChecksumAlgorithm, SdkAlgorithm> = {
  crc32: 'CRC32',
  crc32c: 'CRC32C',
  crc64nvme: 'CRC64NVME',
  sha1: 'SHA1',
  sha256: 'SHA256',
};
const FIELD = {
  crc32: 'ChecksumCRC32',
  crc32c: 'ChecksumCRC32C',
  crc64nvme: 'ChecksumCRC64NVME',
  sha1: 'ChecksumSHA1',
  sha256: 'ChecksumSHA256',
} as const;

describe('S3 gateway additional checksums (@aws-sdk/client-s3)', () => {
  let h: Harness;
  let s3: S3Client;
  let plain: S3Client;
  before(async () => {
    h = await startHarness({ minPartBytes: MIN_PART });
    s3 = client(h);
    plain = client(h, 'WHEN_REQUIRED');
    await s3.send(new CreateBucketCommand({ Bucket: B }));
  });
  after(async () => {
    s3?.destroy();
    plain?.destroy();
    await h?.stop();
  });

  test('PutObject with each algorithm (trailer): stored, answered, returned with checksum mode', async () => {
    const body = randomBytes(70_001);
    for (const alg of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as ChecksumAlgorithm[]) {
      const Key = `put-${alg}`;
      const want = checksumOf(alg, body);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: B, Key, Body: body, ChecksumAlgorithm: SDK[alg] }),
      );
      assert.equal(put[FIELD[alg]], want, `${alg} PUT answer`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key, ChecksumMode: 'ENABLED' }));
      assert.equal(head[FIELD[alg]], want, `${alg} HEAD`);
      assert.equal(head.ChecksumType, 'FULL_OBJECT');
      const get = await s3.send(new GetObjectCommand({ Bucket: B, Key, ChecksumMode: 'ENABLED' }));
      assert.equal(get[FIELD[alg]], want, `${alg} GET`);
      assert.ok(Buffer.from(await get.Body!.transformToByteArray()).equals(body));
      // Without checksum mode, or for a range: no checksum.
      const h2 = await plain.send(new HeadObjectCommand({ Bucket: B, Key }));
      assert.equal(h2[FIELD[alg]], undefined);
      const ranged = await s3.send(
        new GetObjectCommand({ Bucket: B, Key, Range: 'bytes=0-9', ChecksumMode: 'ENABLED' }),
      );
      assert.equal(ranged[FIELD[alg]], undefined);
      await ranged.Body!.transformToByteArray();
    }
  });

  test('PutObject with the checksum in a header (value given) and the default CRC32', async () => {
    const body = Buffer.from('header checksum');
    const value = checksumOf('sha1', body);
    const put = await s3.send(
      new PutObjectCommand({ Bucket: B, Key: 'hdr', Body: body, ChecksumSHA1: value }),
    );
    assert.equal(put.ChecksumSHA1, value);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'hdr', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumSHA1, value);
    // The SDK's default (CRC32 trailer) is stored as well.
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'dflt', Body: body }));
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'dflt', ChecksumMode: 'ENABLED' }));
    assert.equal(h2.ChecksumCRC32, checksumOf('crc32', body));
  });

  test('a wrong checksum is 400 BadDigest and nothing is stored; a malformed one InvalidRequest', async () => {
    const body = Buffer.from('the real bytes');
    for (const alg of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as ChecksumAlgorithm[]) {
      const wrong = checksumOf(alg, Buffer.from('other bytes'));
      const Key = `bad-${alg}`;
      const e = await s3Error(
        s3.send(new PutObjectCommand({ Bucket: B, Key, Body: body, [FIELD[alg]]: wrong })),
      );
      assert.deepEqual(e, { name: 'BadDigest', status: 400 }, alg);
      assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: B, Key })))).status, 404);
    }
    // An existing object stays as it was.
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'keep', Body: 'old' }));
    await s3Error(
      s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: 'keep',
          Body: 'new',
          ChecksumSHA256: checksumOf('sha256', body),
        }),
      ),
    );
    const kept = await s3.send(new GetObjectCommand({ Bucket: B, Key: 'keep' }));
    assert.equal(await kept.Body!.transformToString(), 'old');
    const bad = await s3Error(
      s3.send(new PutObjectCommand({ Bucket: B, Key: 'malformed', Body: body, ChecksumCRC32: 'AAAA' })),
    );
    assert.deepEqual(bad, { name: 'InvalidRequest', status: 400 });
  });

  test('trailer checksums over raw aws-chunked bodies: a wrong trailer is BadDigest', async () => {
    const data = Buffer.from('trailer body bytes');
    const send = async (key: string, alg: ChecksumAlgorithm, value: string) => {
      const url = `${h.url}/${B}/${key}`;
      const chunked = Buffer.concat([
        Buffer.from(`${data.length.toString(16)}\r\n`),
        data,
        Buffer.from(`\r\n0\r\nx-amz-checksum-${alg}:${value}\r\n\r\n`),
      ]);
      const headers = await signedHeaders(url, 'PUT', {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': `x-amz-checksum-${alg}`,
        'content-length': String(chunked.length),
      });
      return new Promise<{ status: number; text: string; checksum: unknown }>((ok, fail) => {
        const req = request(url, { method: 'PUT', headers }, (res) => {
          const got: Buffer[] = [];
          res.on('data', (d: Buffer) => got.push(d));
          res.on('end', () =>
            ok({
              status: res.statusCode ?? 0,
              text: Buffer.concat(got).toString(),
              checksum: res.headers[`x-amz-checksum-${alg}`],
            }),
          );
        });
        req.on('error', fail);
        req.end(chunked);
      });
    };
    const good = await send('tr-good', 'crc64nvme', checksumOf('crc64nvme', data));
    assert.equal(good.status, 200, good.text);
    assert.equal(good.checksum, checksumOf('crc64nvme', data));
    const bad = await send('tr-bad', 'sha256', checksumOf('sha256', Buffer.from('x')));
    assert.equal(bad.status, 400);
    assert.match(bad.text, /<Code>BadDigest<\/Code>/);
    assert.match(bad.text, /The SHA256 you specified did not match the calculated checksum/);
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: B, Key: 'tr-bad' })))).status, 404);
  });

  test('multipart COMPOSITE (SHA256): part checksums, ListParts, Complete, HEAD, partNumber', async () => {
    const parts = [randomBytes(MIN_PART), randomBytes(1000)];
    const Key = 'mp-sha256';
    const up = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key, ChecksumAlgorithm: 'SHA256' }),
    );
    assert.equal(up.ChecksumAlgorithm, 'SHA256');
    const UploadId = up.UploadId!;
    const done: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = [];
    for (const [i, Body] of parts.entries()) {
      const r = await s3.send(
        new UploadPartCommand({
          Bucket: B,
          Key,
          UploadId,
          PartNumber: i + 1,
          Body,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      assert.equal(r.ChecksumSHA256, checksumOf('sha256', Body));
      done.push({ PartNumber: i + 1, ETag: r.ETag!, ChecksumSHA256: r.ChecksumSHA256! });
    }
    // A part of another algorithm than the upload's is refused.
    assert.equal(
      (
        await s3Error(
          s3.send(
            new UploadPartCommand({
              Bucket: B,
              Key,
              UploadId,
              PartNumber: 3,
              Body: 'x',
              ChecksumAlgorithm: 'CRC32',
            }),
          ),
        )
      ).name,
      'InvalidRequest',
    );
    const listed = await s3.send(new ListPartsCommand({ Bucket: B, Key, UploadId }));
    assert.deepEqual(
      listed.Parts?.map((p) => p.ChecksumSHA256),
      done.map((p) => p.ChecksumSHA256),
    );
    // A wrong part checksum in Complete is InvalidPart; a missing one InvalidRequest.
    const wrong = done.map((p, i) =>
      i === 0 ? { ...p, ChecksumSHA256: checksumOf('sha256', Buffer.from('no')) } : p,
    );
    assert.equal(
      (
        await s3Error(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: B,
              Key,
              UploadId,
              MultipartUpload: { Parts: wrong },
            }),
          ),
        )
      ).name,
      'InvalidPart',
    );
    const missing = done.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    assert.equal(
      (
        await s3Error(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: B,
              Key,
              UploadId,
              MultipartUpload: { Parts: missing },
            }),
          ),
        )
      ).name,
      'InvalidRequest',
    );
    const complete = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: B, Key, UploadId, MultipartUpload: { Parts: done } }),
    );
    const composite = compositeChecksum(
      'sha256',
      done.map((p) => p.ChecksumSHA256),
    );
    assert.ok(composite.endsWith('-2'));
    assert.equal(complete.ChecksumSHA256, composite);
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumSHA256, composite);
    assert.equal(head.ChecksumType, 'COMPOSITE');
    const part2 = await s3.send(
      new HeadObjectCommand({ Bucket: B, Key, PartNumber: 2, ChecksumMode: 'ENABLED' }),
    );
    assert.equal(part2.ChecksumSHA256, done[1]!.ChecksumSHA256);
    const get = await s3.send(new GetObjectCommand({ Bucket: B, Key, ChecksumMode: 'ENABLED' }));
    assert.ok(Buffer.from(await get.Body!.transformToByteArray()).equals(Buffer.concat(parts)));
    // CopyObject keeps the checksum; with ChecksumAlgorithm it computes a new full-object one.
    const kept = await s3.send(
      new CopyObjectCommand({ Bucket: B, Key: 'mp-copy', CopySource: `${B}/${Key}` }),
    );
    assert.equal(kept.CopyObjectResult?.ChecksumSHA256, composite);
    const fresh = await s3.send(
      new CopyObjectCommand({
        Bucket: B,
        Key: 'mp-copy2',
        CopySource: `${B}/${Key}`,
        ChecksumAlgorithm: 'CRC32C',
      }),
    );
    assert.equal(fresh.CopyObjectResult?.ChecksumCRC32C, checksumOf('crc32c', Buffer.concat(parts)));
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'mp-copy2', ChecksumMode: 'ENABLED' }));
    assert.equal(h2.ChecksumCRC32C, checksumOf('crc32c', Buffer.concat(parts)));
    assert.equal(h2.ChecksumType, 'FULL_OBJECT');
  });

  test('multipart FULL_OBJECT (CRC64NVME) and COMPOSITE CRC32 with UploadPartCopy', async () => {
    const parts = [randomBytes(MIN_PART), randomBytes(777)];
    const whole = Buffer.concat(parts);
    const Key = 'mp-crc64';
    const up = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key, ChecksumAlgorithm: 'CRC64NVME' }),
    );
    assert.equal(up.ChecksumType, 'FULL_OBJECT');
    const done = [];
    for (const [i, Body] of parts.entries()) {
      const r = await s3.send(
        new UploadPartCommand({
          Bucket: B,
          Key,
          UploadId: up.UploadId!,
          PartNumber: i + 1,
          Body,
          ChecksumAlgorithm: 'CRC64NVME',
        }),
      );
      done.push({ PartNumber: i + 1, ETag: r.ETag!, ChecksumCRC64NVME: r.ChecksumCRC64NVME! });
    }
    const complete = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key,
        UploadId: up.UploadId!,
        MultipartUpload: { Parts: done },
      }),
    );
    assert.equal(complete.ChecksumCRC64NVME, checksumOf('crc64nvme', whole));
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumCRC64NVME, checksumOf('crc64nvme', whole));
    assert.equal(head.ChecksumType, 'FULL_OBJECT');

    // COMPOSITE CRC32, the first part copied from an object.
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'src', Body: parts[0]! }));
    const K2 = 'mp-crc32';
    const up2 = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: B, Key: K2, ChecksumAlgorithm: 'CRC32' }),
    );
    const c1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: B,
        Key: K2,
        UploadId: up2.UploadId!,
        PartNumber: 1,
        CopySource: `${B}/src`,
      }),
    );
    assert.equal(c1.CopyPartResult?.ChecksumCRC32, checksumOf('crc32', parts[0]!));
    const p2 = await s3.send(
      new UploadPartCommand({
        Bucket: B,
        Key: K2,
        UploadId: up2.UploadId!,
        PartNumber: 2,
        Body: parts[1]!,
        ChecksumAlgorithm: 'CRC32',
      }),
    );
    const c = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: K2,
        UploadId: up2.UploadId!,
        MultipartUpload: {
          Parts: [
            {
              PartNumber: 1,
              ETag: c1.CopyPartResult!.ETag!,
              ChecksumCRC32: c1.CopyPartResult!.ChecksumCRC32!,
            },
            { PartNumber: 2, ETag: p2.ETag!, ChecksumCRC32: p2.ChecksumCRC32! },
          ],
        },
      }),
    );
    const want = Buffer.alloc(4);
    want.writeUInt32BE(
      crc32(
        Buffer.concat([
          Buffer.from(checksumOf('crc32', parts[0]!), 'base64'),
          Buffer.from(p2.ChecksumCRC32!, 'base64'),
        ]),
      ) >>> 0,
    );
    assert.equal(c.ChecksumCRC32, `${want.toString('base64')}-2`);
  });
});
