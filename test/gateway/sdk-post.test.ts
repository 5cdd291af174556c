import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { type Harness, sdkClient, startHarnessWithBucket, stopHarness } from './harness.js';

/**
 * Browser POST uploads as a web application's server makes them with the JS SDK's
 * createPresignedPost (a signed SigV4 policy with conditions), sent as multipart/form-data by
 * Node's own fetch: accepted within the policy, refused outside it, and the object is the file.
 */

/** S3's placeholder for the uploaded file's name in a form's key. */
const FILENAME = '$' + '{filename}';

const client = sdkClient;

async function postForm(
  post: { url: string; fields: Record<string, string> },
  file: Buffer,
  overrides: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...post.fields, ...overrides })) form.append(k, v);
  form.append('file', new Blob([file]), 'upload.bin'); // the file is the form's last field
  const res = await fetch(post.url, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

describe('POST uploads signed by @aws-sdk/s3-presigned-post createPresignedPost', () => {
  let h: Harness;
  let s3: S3Client;
  before(async () => {
    ({ h, s3 } = await startHarnessWithBucket('forms'));
  });
  after(() => stopHarness(h, s3));

  const sign = (key: string, extra: { secret?: string } = {}) => {
    const signer = extra.secret ? client(h, extra.secret) : s3;
    return createPresignedPost(signer, {
      Bucket: 'forms',
      Key: key,
      Conditions: [
        ['content-length-range', 1, 64 * 1024],
        ['starts-with', '$key', 'uploads/'],
        ['eq', '$Content-Type', 'application/octet-stream'],
      ],
      Fields: { success_action_status: '201', 'Content-Type': 'application/octet-stream' },
      Expires: 600,
    }).finally(() => {
      if (signer !== s3) signer.destroy();
    });
  };

  test('a file within the policy is stored as sent; the answer is the 201 PostResponse', async () => {
    const post = await sign(`uploads/${FILENAME}`);
    assert.match(post.url, /\/forms\/?$/, 'path-style URL of the bucket');
    const file = randomBytes(40_000);
    const r = await postForm(post, file);
    assert.equal(r.status, 201, r.body);
    assert.match(r.body, /<PostResponse>/);
    assert.match(r.body, /<Key>uploads\/upload\.bin<\/Key>/, `the ${FILENAME} placeholder is the file name`);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'uploads/upload.bin' }));
    assert.equal(got.ContentType, 'application/octet-stream');
    assert.ok(
      Buffer.from(await got.Body!.transformToByteArray()).equals(file),
      'the stored bytes are the file',
    );
  });

  test('outside the policy: too large, a key outside the prefix, another content type — refused, nothing stored', async () => {
    const post = await sign('uploads/big.bin');
    const big = await postForm(post, randomBytes(64 * 1024 + 1));
    assert.equal(big.status, 400, big.body);
    assert.match(big.body, /<Code>EntityTooLarge<\/Code>/);

    const wrongKey = await postForm(await sign('uploads/k.bin'), randomBytes(10), { key: 'elsewhere/k.bin' });
    assert.equal(wrongKey.status, 403, wrongKey.body);
    assert.match(wrongKey.body, /<Code>AccessDenied<\/Code>/);

    const wrongType = await postForm(await sign('uploads/t.bin'), randomBytes(10), {
      'Content-Type': 'text/html',
    });
    assert.equal(wrongType.status, 403, wrongType.body);

    for (const key of ['uploads/big.bin', 'elsewhere/k.bin', 'uploads/t.bin']) {
      const err = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: key })).then(
        () => undefined,
        (e: unknown) => e as { name?: string },
      );
      assert.equal(err?.name, 'NoSuchKey', `${key} was not stored`);
    }
  });

  test('a policy signed with a wrong secret is SignatureDoesNotMatch (403)', async () => {
    const post = await sign('uploads/forged.bin', { secret: 'not-the-secret-not-the-secret-00000000' });
    const r = await postForm(post, randomBytes(10));
    assert.equal(r.status, 403, r.body);
    assert.match(r.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  });
});
