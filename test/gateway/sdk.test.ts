import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { type Harness, s3Error, sdkClient, startHarness } from './harness.js';

const MIN_PART = 64 * 1024;

const client = sdkClient;

async function text(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

describe('S3 gateway with @aws-sdk/client-s3', () => {
  let h: Harness;
  let s3: S3Client;
  before(async () => {
    h = await startHarness({ minPartBytes: MIN_PART });
    s3 = client(h);
    await s3.send(new CreateBucketCommand({ Bucket: 'sdk' }));
  });
  after(async () => {
    s3?.destroy();
    await h?.stop();
  });

  test('buckets: list, head, location, create twice, delete non-empty', async () => {
    const list = await s3.send(new ListBucketsCommand({}));
    assert.ok(list.Buckets?.some((b) => b.Name === 'sdk'));
    await s3.send(new HeadBucketCommand({ Bucket: 'sdk' }));
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'sdk' }));
    assert.equal(loc.LocationConstraint ?? '', '');
    assert.equal(
      (await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'sdk' })))).name,
      'BucketAlreadyOwnedByYou',
    );
    assert.equal((await s3Error(s3.send(new HeadBucketCommand({ Bucket: 'nope-bucket' })))).status, 404);
    assert.equal(
      (await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).name,
      'InvalidBucketName',
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'tmp-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'tmp-bucket', Key: 'x', Body: 'x' }));
    assert.equal(
      (await s3Error(s3.send(new DeleteBucketCommand({ Bucket: 'tmp-bucket' })))).name,
      'BucketNotEmpty',
    );
    await s3.send(new DeleteObjectCommand({ Bucket: 'tmp-bucket', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'tmp-bucket' }));
    assert.equal((await s3Error(s3.send(new HeadBucketCommand({ Bucket: 'tmp-bucket' })))).status, 404);
  });

  test('put/get with metadata, content-type, ETag = MD5, unicode keys', async () => {
    const key = 'docs/ünïcødé 文件 + more.txt';
    const body = 'hello strata\n';
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: 'sdk',
        Key: key,
        Body: body,
        ContentType: 'text/x-strata',
        Metadata: { color: 'blue', owner: 'me' },
        CacheControl: 'max-age=60',
      }),
    );
    const md5 = createHash('md5').update(body).digest('hex');
    assert.equal(put.ETag, `"${md5}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: key }));
    assert.equal(await text(got.Body), body);
    assert.equal(got.ContentType, 'text/x-strata');
    assert.equal(got.CacheControl, 'max-age=60');
    assert.deepEqual(got.Metadata, { color: 'blue', owner: 'me' });
    assert.equal(got.ETag, `"${md5}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: key }));
    assert.equal(head.ContentLength, body.length);
    const over = await s3.send(
      new GetObjectCommand({
        Bucket: 'sdk',
        Key: key,
        ResponseContentType: 'application/json',
        ResponseContentDisposition: 'attachment',
      }),
    );
    assert.equal(over.ContentType, 'application/json');
    assert.equal(over.ContentDisposition, 'attachment');
    await over.Body?.transformToString();
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'missing' })))).name,
      'NoSuchKey',
    );
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'no-such-bkt', Key: 'a' })))).name,
      'NoSuchBucket',
    );
  });

  test('any key of 1 to 1,024 bytes is an object, including ones a path cannot name', async () => {
    assert.equal(
      (await s3Error(s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'k'.repeat(1025), Body: 'x' }))))
        .name,
      'KeyTooLongError',
    );
    // Empty, "." and ".." segments, a segment over 255 bytes, a NUL and the gateway's own folder
    // name are all S3 keys: kept in the overflow folder, read, listed (in order) and deleted.
    const odd = [
      'odd/a//b',
      'odd//lead',
      'odd/./dot',
      'odd/../up',
      `odd/${'s'.repeat(300)}/x`,
      'odd/nul\u0000byte',
      'odd/.strata-s3/x',
      'odd/trailing//',
    ];
    for (const [i, Key] of odd.entries())
      await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key, Body: `body ${i}` }));
    for (const [i, Key] of odd.entries())
      assert.equal(
        await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key }))).Body),
        `body ${i}`,
      );
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: 'sdk', Prefix: 'odd/', EncodingType: 'url' }),
    );
    const keys = (listed.Contents ?? []).map((c) => decodeURIComponent(c.Key!));
    assert.deepEqual(
      keys,
      [...odd].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    const top = await s3.send(new ListObjectsV2Command({ Bucket: 'sdk', Prefix: 'odd/', Delimiter: '/' }));
    assert.ok(
      (top.CommonPrefixes ?? []).some((p) => p.Prefix === 'odd//'),
      `CommonPrefixes: ${JSON.stringify(top.CommonPrefixes)}`,
    );
    for (const Key of odd) await s3.send(new DeleteObjectCommand({ Bucket: 'sdk', Key }));
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'odd/a//b' })))).name,
      'NoSuchKey',
    );
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'sdk', Prefix: 'odd/' }));
    assert.equal(after.KeyCount, 0);
    // An object can also be a prefix of other objects (as in S3), whichever comes first.
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'conf/a', Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'conf/a/b', Body: 'y' }));
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'conf', Body: 'z' }));
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'conf/a' }))).Body),
      'x',
    );
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'conf/a/b' }))).Body),
      'y',
    );
    assert.equal(await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'conf' }))).Body), 'z');
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'conf/a/c' })))).name,
      'NoSuchKey',
    );
    for (const Key of ['conf', 'conf/a', 'conf/a/b'])
      await s3.send(new DeleteObjectCommand({ Bucket: 'sdk', Key }));
    // A 1,024-byte key made of 4 segments of 255 bytes works.
    const long = ['a', 'b', 'c', 'd'].map((c) => c.repeat(255)).join('/');
    assert.equal(Buffer.byteLength(long), 1023);
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: long, Body: 'long' }));
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: long }))).Body),
      'long',
    );
    await s3.send(new DeleteObjectCommand({ Bucket: 'sdk', Key: long }));
  });

  test('ranges: plain, open, suffix, unsatisfiable', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'range.bin', Body: '0123456789' }));
    const get = async (Range: string) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'range.bin', Range }));
      return { body: await text(r.Body), cr: r.ContentRange };
    };
    assert.deepEqual(await get('bytes=2-4'), { body: '234', cr: 'bytes 2-4/10' });
    assert.deepEqual(await get('bytes=7-'), { body: '789', cr: 'bytes 7-9/10' });
    assert.deepEqual(await get('bytes=-3'), { body: '789', cr: 'bytes 7-9/10' });
    assert.deepEqual(await get('bytes=5-100'), { body: '56789', cr: 'bytes 5-9/10' });
    const bad = await s3Error(
      s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'range.bin', Range: 'bytes=10-20' })),
    );
    assert.deepEqual(bad, { name: 'InvalidRange', status: 416 });
  });

  test('conditional GETs', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', Body: 'c' }));
    const etag = put.ETag!;
    const ok = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfMatch: etag }));
    assert.equal(await text(ok.Body), 'c');
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfMatch: '"0000"' }))))
        .status,
      412,
    );
    assert.equal(
      (await s3Error(s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfNoneMatch: etag }))))
        .status,
      304,
    );
    const future = new Date(Date.now() + 3600_000);
    const past = new Date(Date.now() - 3600_000);
    assert.equal(
      (
        await s3Error(
          s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfModifiedSince: future })),
        )
      ).status,
      304,
    );
    assert.equal(
      (
        await s3Error(
          s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfUnmodifiedSince: past })),
        )
      ).status,
      412,
    );
    const mod = await s3.send(
      new GetObjectCommand({ Bucket: 'sdk', Key: 'cond.txt', IfModifiedSince: past }),
    );
    assert.equal(await text(mod.Body), 'c');
  });

  test('Content-MD5 mismatch is BadDigest and leaves the old object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'md5.txt', Body: 'original' }));
    const wrong = createHash('md5').update('something else').digest('base64');
    const err = await s3Error(
      s3.send(
        new PutObjectCommand({ Bucket: 'sdk', Key: 'md5.txt', Body: 'replacement', ContentMD5: wrong }),
      ),
    );
    assert.deepEqual(err, { name: 'BadDigest', status: 400 });
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'md5.txt' }))).Body),
      'original',
    );
    const right = createHash('md5').update('replacement').digest('base64');
    await s3.send(
      new PutObjectCommand({ Bucket: 'sdk', Key: 'md5.txt', Body: 'replacement', ContentMD5: right }),
    );
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'md5.txt' }))).Body),
      'replacement',
    );
  });

  test('listing: prefix, delimiter, pagination over 30 keys (V1 and V2), start-after, url encoding', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lst' }));
    const keys: string[] = [];
    for (let i = 0; i < 10; i++) keys.push(`top-${String(i).padStart(2, '0')}`);
    for (let i = 0; i < 10; i++) keys.push(`dir/a/${String(i).padStart(2, '0')}`);
    for (let i = 0; i < 5; i++) keys.push(`dir/b/${i}`);
    for (let i = 0; i < 5; i++) keys.push(`dir-x/${i}`);
    keys.push('dir/c d+e');
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: 'lst', Key, Body: Key }))));
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

    // Flat V2 pagination, 7 at a time.
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(
        new ListObjectsV2Command({ Bucket: 'lst', MaxKeys: 7, ContinuationToken: token }),
      );
      pages++;
      assert.ok((r.KeyCount ?? 0) <= 7);
      seen.push(...(r.Contents ?? []).map((c) => c.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    assert.deepEqual(seen, sorted);
    assert.equal(pages, Math.ceil(sorted.length / 7));

    // Delimiter at the root.
    const root = await s3.send(new ListObjectsV2Command({ Bucket: 'lst', Delimiter: '/' }));
    assert.deepEqual(
      (root.CommonPrefixes ?? []).map((p) => p.Prefix),
      ['dir-x/', 'dir/'],
    );
    assert.equal(root.Contents?.length, 10);

    // Prefix + delimiter.
    const dir = await s3.send(new ListObjectsV2Command({ Bucket: 'lst', Prefix: 'dir/', Delimiter: '/' }));
    assert.deepEqual(
      (dir.CommonPrefixes ?? []).map((p) => p.Prefix),
      ['dir/a/', 'dir/b/'],
    );
    assert.deepEqual(
      (dir.Contents ?? []).map((c) => c.Key),
      ['dir/c d+e'],
    );

    // Partial-name prefix spans directories.
    const part = await s3.send(new ListObjectsV2Command({ Bucket: 'lst', Prefix: 'dir', Delimiter: '/' }));
    assert.deepEqual(
      (part.CommonPrefixes ?? []).map((p) => p.Prefix),
      ['dir-x/', 'dir/'],
    );

    // Pagination mixing keys and common prefixes (V1 markers).
    const v1seen: string[] = [];
    let marker: string | undefined;
    do {
      const r = await s3.send(
        new ListObjectsCommand({ Bucket: 'lst', MaxKeys: 3, Delimiter: '/', Marker: marker }),
      );
      const items = [
        ...(r.Contents ?? []).map((c) => c.Key!),
        ...(r.CommonPrefixes ?? []).map((p) => p.Prefix!),
      ];
      v1seen.push(...items);
      marker = r.IsTruncated ? r.NextMarker : undefined;
    } while (marker);
    assert.deepEqual(v1seen.sort(), [...keys.filter((k) => k.startsWith('top-')), 'dir-x/', 'dir/'].sort());

    // start-after and max-keys 0.
    const sa = await s3.send(new ListObjectsV2Command({ Bucket: 'lst', StartAfter: 'dir/b/4' }));
    assert.equal(sa.Contents?.[0]?.Key, 'dir/c d+e');
    const zero = await s3.send(new ListObjectsV2Command({ Bucket: 'lst', MaxKeys: 0 }));
    assert.equal(zero.KeyCount, 0);
    assert.equal(zero.IsTruncated, false);

    // encoding-type=url: the SDK decodes the keys again.
    const enc = await s3.send(
      new ListObjectsV2Command({ Bucket: 'lst', Prefix: 'dir/c', EncodingType: 'url' }),
    );
    // (The JS SDK does not decode them; botocore does — see the boto3 test.)
    assert.equal(enc.Contents?.[0]?.Key, 'dir/c%20d%2Be');
    assert.equal(enc.EncodingType, 'url');
    // fetch-owner
    const own = await s3.send(
      new ListObjectsV2Command({ Bucket: 'lst', Prefix: 'top-00', FetchOwner: true }),
    );
    assert.equal(own.Contents?.[0]?.Owner?.ID, 'strata');
    assert.equal(own.Contents?.[0]?.ETag, `"${createHash('md5').update('top-00').digest('hex')}"`);
  });

  test('copy: COPY and REPLACE directives, copy-source conditions, self-copy rules', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: 'sdk',
        Key: 'src.txt',
        Body: 'source',
        ContentType: 'text/plain',
        Metadata: { a: '1' },
      }),
    );
    const c1 = await s3.send(
      new CopyObjectCommand({ Bucket: 'sdk', Key: 'copy1.txt', CopySource: 'sdk/src.txt' }),
    );
    assert.equal(c1.CopyObjectResult?.ETag, `"${createHash('md5').update('source').digest('hex')}"`);
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'copy1.txt' }));
    assert.deepEqual(h1.Metadata, { a: '1' });
    assert.equal(h1.ContentType, 'text/plain');
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'sdk',
        Key: 'copy2.txt',
        CopySource: 'sdk/src.txt',
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
        ContentType: 'text/other',
      }),
    );
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'copy2.txt' }));
    assert.deepEqual(h2.Metadata, { b: '2' });
    assert.equal(h2.ContentType, 'text/other');
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'copy2.txt' }))).Body),
      'source',
    );
    assert.equal(
      (
        await s3Error(
          s3.send(
            new CopyObjectCommand({
              Bucket: 'sdk',
              Key: 'c3',
              CopySource: 'sdk/src.txt',
              CopySourceIfMatch: '"nope"',
            }),
          ),
        )
      ).status,
      412,
    );
    assert.equal(
      (
        await s3Error(
          s3.send(new CopyObjectCommand({ Bucket: 'sdk', Key: 'src.txt', CopySource: 'sdk/src.txt' })),
        )
      ).name,
      'InvalidRequest',
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'sdk',
        Key: 'src.txt',
        CopySource: 'sdk/src.txt',
        MetadataDirective: 'REPLACE',
        Metadata: { c: '3' },
      }),
    );
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: 'sdk', Key: 'src.txt' }))).Metadata, {
      c: '3',
    });
  });

  test('delete: idempotent DeleteObject, DeleteObjects with Quiet', async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: 'sdk', Key: 'never-existed' }));
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'del/1', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'del/2', Body: '2' }));
    const r = await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'sdk',
        Delete: { Objects: [{ Key: 'del/1' }, { Key: 'del/2' }, { Key: 'del/3' }] },
      }),
    );
    assert.deepEqual((r.Deleted ?? []).map((d) => d.Key).sort(), ['del/1', 'del/2', 'del/3']);
    const q = await s3.send(
      new DeleteObjectsCommand({ Bucket: 'sdk', Delete: { Objects: [{ Key: 'x' }], Quiet: true } }),
    );
    assert.equal(q.Deleted, undefined);
    const l = await s3.send(new ListObjectsV2Command({ Bucket: 'sdk', Prefix: 'del/' }));
    assert.equal(l.KeyCount, 0);
  });

  test('tagging get/put/delete', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'sdk', Key: 'tag.txt', Body: 't', Tagging: 'a=1&b=two' }));
    const t0 = await s3.send(new GetObjectTaggingCommand({ Bucket: 'sdk', Key: 'tag.txt' }));
    assert.deepEqual(t0.TagSet, [
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two' },
    ]);
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: 'sdk',
        Key: 'tag.txt',
        Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] },
      }),
    );
    const t1 = await s3.send(new GetObjectTaggingCommand({ Bucket: 'sdk', Key: 'tag.txt' }));
    assert.deepEqual(t1.TagSet, [{ Key: 'k', Value: 'v' }]);
    const head = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'tag.txt' }));
    assert.equal(head.TagCount, 1);
    await head.Body?.transformToString();
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'sdk', Key: 'tag.txt' }));
    assert.deepEqual(
      (await s3.send(new GetObjectTaggingCommand({ Bucket: 'sdk', Key: 'tag.txt' }))).TagSet ?? [],
      [],
    );
  });

  test('multipart: upload, copy part with range, list parts/uploads, order and size checks, abort', async () => {
    const a = Buffer.alloc(MIN_PART, 'a');
    const b = Buffer.alloc(MIN_PART, 'b');
    const c = Buffer.from('tail');
    await s3.send(
      new PutObjectCommand({ Bucket: 'sdk', Key: 'mp-src', Body: Buffer.concat([b, Buffer.from('xyz')]) }),
    );
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: 'sdk',
        Key: 'mp/obj',
        ContentType: 'application/x-mp',
        Metadata: { m: 'p' },
      }),
    );
    assert.ok(UploadId);
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/obj', UploadId, PartNumber: 1, Body: a }),
    );
    const p2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: 'sdk',
        Key: 'mp/obj',
        UploadId,
        PartNumber: 2,
        CopySource: 'sdk/mp-src',
        CopySourceRange: `bytes=0-${MIN_PART - 1}`,
      }),
    );
    const p3 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/obj', UploadId, PartNumber: 3, Body: c }),
    );
    const parts = await s3.send(new ListPartsCommand({ Bucket: 'sdk', Key: 'mp/obj', UploadId }));
    assert.deepEqual(
      (parts.Parts ?? []).map((p) => [p.PartNumber, p.Size]),
      [
        [1, MIN_PART],
        [2, MIN_PART],
        [3, 4],
      ],
    );
    const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'sdk' }));
    assert.ok((ups.Uploads ?? []).some((u) => u.UploadId === UploadId && u.Key === 'mp/obj'));
    const order = await s3Error(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sdk',
          Key: 'mp/obj',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 2, ETag: p2.CopyPartResult!.ETag! },
              { PartNumber: 1, ETag: p1.ETag! },
            ],
          },
        }),
      ),
    );
    assert.equal(order.name, 'InvalidPartOrder');
    const wrong = await s3Error(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sdk',
          Key: 'mp/obj',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"deadbeef"' }] },
        }),
      ),
    );
    assert.equal(wrong.name, 'InvalidPart');
    // The last part may be small: completing with only part 3 succeeds.
    const small = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'sdk',
        Key: 'mp/obj',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 3, ETag: p3.ETag! }] },
      }),
    );
    assert.match(small.ETag ?? '', /-1"$/);
    assert.equal(
      await text((await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'mp/obj' }))).Body),
      'tail',
    );
    // That completed the upload with just part 3; start again to test EntityTooSmall.
    const { UploadId: u2 } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'sdk', Key: 'mp/obj2' }),
    );
    const s1 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/obj2', UploadId: u2, PartNumber: 1, Body: c }),
    );
    const s2 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/obj2', UploadId: u2, PartNumber: 2, Body: c }),
    );
    const tooSmall = await s3Error(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sdk',
          Key: 'mp/obj2',
          UploadId: u2,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: s1.ETag! },
              { PartNumber: 2, ETag: s2.ETag! },
            ],
          },
        }),
      ),
    );
    assert.equal(tooSmall.name, 'EntityTooSmall');
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'sdk', Key: 'mp/obj2', UploadId: u2 }));
    assert.equal(
      (await s3Error(s3.send(new ListPartsCommand({ Bucket: 'sdk', Key: 'mp/obj2', UploadId: u2 })))).name,
      'NoSuchUpload',
    );

    // A full three-part upload: ETag is md5-of-md5s-3.
    const { UploadId: u3 } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'sdk', Key: 'mp/full', ContentType: 'application/x-mp' }),
    );
    const q1 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/full', UploadId: u3, PartNumber: 1, Body: a }),
    );
    const q2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: 'sdk',
        Key: 'mp/full',
        UploadId: u3,
        PartNumber: 2,
        CopySource: 'sdk/mp-src',
        CopySourceRange: `bytes=0-${MIN_PART - 1}`,
      }),
    );
    const q3 = await s3.send(
      new UploadPartCommand({ Bucket: 'sdk', Key: 'mp/full', UploadId: u3, PartNumber: 3, Body: c }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'sdk',
        Key: 'mp/full',
        UploadId: u3,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: q1.ETag! },
            { PartNumber: 2, ETag: q2.CopyPartResult!.ETag! },
            { PartNumber: 3, ETag: q3.ETag! },
          ],
        },
      }),
    );
    const md5s = Buffer.concat([a, b, c].map((x) => createHash('md5').update(x).digest()));
    assert.equal(done.ETag, `"${createHash('md5').update(md5s).digest('hex')}-3"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk', Key: 'mp/full' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.ok(bytes.equals(Buffer.concat([a, b, c])));
    assert.equal(got.ContentType, 'application/x-mp');
    assert.equal(got.ETag, done.ETag);
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'sdk' }));
    assert.ok(!(after.Uploads ?? []).some((u) => u.UploadId === u3));
  });

  test('a wrong secret is SignatureDoesNotMatch; an unknown key is InvalidAccessKeyId', async () => {
    const bad = client(h, 'not-the-secret');
    assert.deepEqual(await s3Error(bad.send(new ListBucketsCommand({}))), {
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    bad.destroy();
    const unknown = new S3Client({
      endpoint: h.url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' },
    });
    assert.deepEqual(await s3Error(unknown.send(new ListBucketsCommand({}))), {
      name: 'InvalidAccessKeyId',
      status: 403,
    });
    unknown.destroy();
  });
});
