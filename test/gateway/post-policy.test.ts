import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { S3Error } from '../../src/gateway/s3/errors.js';
import {
  checkPostPolicy,
  isSignedForm,
  parsePostPolicy,
  verifyPostSignature,
} from '../../src/gateway/s3/post-policy.js';

/** The POST policy: its document, its conditions against a form's fields, and its signature. */

const NOW = Date.parse('2026-12-02T12:00:00Z');
const b64 = (doc: unknown) => Buffer.from(JSON.stringify(doc)).toString('base64');

async function s3Failure(p: () => unknown): Promise<string> {
  try {
    await p();
  } catch (err) {
    assert.ok(err instanceof S3Error, String(err));
    return `${err.code}: ${err.message}`;
  }
  assert.fail('expected an S3 error');
}

const policy = (conditions: unknown[], expiration = '2026-12-02T13:00:00Z') =>
  parsePostPolicy(b64({ expiration, conditions }));

const fields = (o: Record<string, string>) => new Map(Object.entries(o));

test('every condition form holds against matching fields; the length range is returned', () => {
  const p = policy([
    { bucket: 'photos' },
    ['starts-with', '$key', 'uploads/'],
    ['eq', '$success_action_status', '201'],
    { 'x-amz-meta-owner': 'ana' },
    ['starts-with', '$Content-Type', 'image/'],
    ['starts-with', '$x-amz-meta-note', ''],
    ['content-length-range', 1, '1048576'],
  ]);
  const range = checkPostPolicy(
    p,
    fields({
      key: 'uploads/photo.png',
      success_action_status: '201',
      'x-amz-meta-owner': 'ana',
      'content-type': 'image/png',
      'x-amz-meta-note': 'anything',
      policy: 'ignored',
      'x-amz-signature': 'ignored',
      'x-ignore-tracking': 'ignored',
    }),
    'photos',
    NOW,
  );
  assert.deepEqual(range, { min: 1, max: 1048576 });
});

test('a failed condition, an uncovered field and an expired policy are AccessDenied as S3 words them', async () => {
  const p = policy([{ bucket: 'photos' }, ['starts-with', '$key', 'uploads/'], ['eq', '$acl', 'private']]);
  const ok = { key: 'uploads/a', acl: 'private' };
  assert.equal(checkPostPolicy(p, fields(ok), 'photos', NOW), undefined);
  assert.equal(
    await s3Failure(() => checkPostPolicy(p, fields({ ...ok, key: 'other/a' }), 'photos', NOW)),
    'AccessDenied: Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]',
  );
  assert.equal(
    await s3Failure(() => checkPostPolicy(p, fields(ok), 'videos', NOW)),
    'AccessDenied: Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "photos"]',
  );
  assert.equal(
    await s3Failure(() => checkPostPolicy(p, fields({ key: 'uploads/a' }), 'photos', NOW)),
    'AccessDenied: Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "private"]',
  );
  assert.equal(
    await s3Failure(() =>
      checkPostPolicy(p, fields({ ...ok, 'x-amz-meta-extra': '1', 'content-type': 'a' }), 'photos', NOW),
    ),
    'AccessDenied: Invalid according to Policy: Extra input fields: x-amz-meta-extra, content-type',
  );
  assert.equal(
    await s3Failure(() => checkPostPolicy(p, fields(ok), 'photos', Date.parse('2026-12-02T13:00:01Z'))),
    'AccessDenied: Invalid according to Policy: Policy expired.',
  );
  // A policy must name the bucket (it is an input of the upload too).
  const noBucket = policy([['starts-with', '$key', '']]);
  assert.equal(
    await s3Failure(() => checkPostPolicy(noBucket, fields({ key: 'k' }), 'photos', NOW)),
    'AccessDenied: Invalid according to Policy: Extra input fields: bucket',
  );
  // A form's own bucket field is covered by the bucket condition (and must match the URL's).
  assert.equal(checkPostPolicy(p, fields({ ...ok, bucket: 'photos' }), 'photos', NOW), undefined);
  // A Content-Type of several values: each must start with the prefix.
  const ct = policy([{ bucket: 'b' }, ['starts-with', '$content-type', 'image/']]);
  assert.equal(checkPostPolicy(ct, fields({ 'content-type': 'image/png, image/jpeg' }), 'b', NOW), undefined);
  assert.match(
    await s3Failure(() => checkPostPolicy(ct, fields({ 'content-type': 'image/png, text/html' }), 'b', NOW)),
    /Policy Condition failed/,
  );
});

test('a policy that is not base64 JSON with expiration and conditions is InvalidPolicyDocument', async () => {
  const cases: Array<[string, RegExp]> = [
    ['%%%', /Invalid base64/],
    [Buffer.from('{not json').toString('base64'), /Invalid JSON/],
    [b64({ conditions: [] }), /Policy missing expiration/],
    [b64({ expiration: 'tomorrow', conditions: [] }), /expiration/],
    [b64({ expiration: '2026-12-02T13:00:00Z' }), /Policy missing conditions/],
    [b64({ expiration: '2026-12-02T13:00:00Z', conditions: {} }), /must be an array/],
    [b64({ expiration: '2026-12-02T13:00:00Z', conditions: [['eq', 'key', 'x']] }), /Invalid Condition/],
    [
      b64({ expiration: '2026-12-02T13:00:00Z', conditions: [['between', '$key', 'x']] }),
      /Invalid Condition/,
    ],
    [
      b64({ expiration: '2026-12-02T13:00:00Z', conditions: [{ a: '1', b: '2' }] }),
      /Invalid Simple-Condition/,
    ],
    [b64({ expiration: '2026-12-02T13:00:00Z', conditions: [['content-length-range', 10, 1]] }), /minimum/],
    [b64({ expiration: '2026-12-02T13:00:00Z', conditions: [['content-length-range', -1, 1]] }), /bounds/],
  ];
  for (const [text, why] of cases) {
    const got = await s3Failure(() => parsePostPolicy(text));
    assert.match(got, /^InvalidPolicyDocument: Invalid Policy: /, text);
    assert.match(got, why, text);
  }
  assert.equal(policy([], '2026-12-02T13:00:00.000Z').expirationMs, Date.parse('2026-12-02T13:00:00Z'));
});

/** The SigV4 POST signature by hand, as AWS documents it (independent of the gateway's code). */
function sign(secret: string, date: string, region: string, text: string): string {
  const h = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
  const key = h(h(h(h(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  return createHmac('sha256', key).update(text).digest('hex');
}

test('the form signature (SigV4: the policy HMAC with the credential scope key; V2: HMAC-SHA1 with the secret); anything else is refused', async () => {
  const credentials = new Map([['AKIDPOST', 'post-secret']]);
  const text = b64({ expiration: '2026-12-02T13:00:00Z', conditions: [] });
  const form = {
    policy: text,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': 'AKIDPOST/20261202/us-east-1/s3/aws4_request',
    'x-amz-date': '20261202T120000Z',
    'x-amz-signature': sign('post-secret', '20261202', 'us-east-1', text),
  };
  assert.ok(isSignedForm(fields(form)));
  assert.ok(!isSignedForm(fields({ key: 'a' })));
  assert.equal(await verifyPostSignature(fields(form), { credentials }), 'AKIDPOST');
  const fail = (f: Record<string, string>) =>
    s3Failure(() => verifyPostSignature(fields(f), { credentials }));
  assert.match(
    await fail({ ...form, 'x-amz-signature': sign('wrong', '20261202', 'us-east-1', text) }),
    /^SignatureDoesNotMatch/,
  );
  assert.match(
    await fail({ ...form, policy: b64({ expiration: '2030-01-01T00:00:00Z', conditions: [] }) }),
    /^SignatureDoesNotMatch/,
  );
  assert.match(
    await fail({ ...form, 'x-amz-credential': 'NOBODY/20261202/us-east-1/s3/aws4_request' }),
    /^InvalidAccessKeyId/,
  );
  assert.match(
    await fail({ ...form, 'x-amz-credential': 'AKIDPOST/20261202/eu-west-1/s3/aws4_request' }),
    /^InvalidArgument: .*region 'eu-west-1' is wrong; expecting 'us-east-1'/,
  );
  assert.match(await fail({ ...form, 'x-amz-date': '20261203T000000Z' }), /^InvalidArgument: .*date/);
  assert.match(await fail({ ...form, 'x-amz-algorithm': 'AWS4-ECDSA-P256-SHA256' }), /^InvalidArgument/);
  const { 'x-amz-signature': _s, ...unsigned } = form;
  assert.match(
    await fail(unsigned),
    /^InvalidArgument: Bucket POST must contain a field named 'x-amz-signature'/,
  );
  // Signature Version 2 (base64 HMAC-SHA1 of the policy), as ceph's s3-tests sign forms.
  const v2 = createHmac('sha1', 'post-secret').update(text).digest('base64');
  assert.ok(isSignedForm(fields({ awsaccesskeyid: 'AKIDPOST' })));
  assert.equal(
    await verifyPostSignature(fields({ awsaccesskeyid: 'AKIDPOST', signature: v2, policy: text }), {
      credentials,
    }),
    'AKIDPOST',
  );
  assert.match(
    await fail({ awsaccesskeyid: 'AKIDPOST', signature: [...v2].reverse().join(''), policy: text }),
    /^SignatureDoesNotMatch/,
  );
  assert.match(await fail({ awsaccesskeyid: 'NOBODY', signature: v2, policy: text }), /^InvalidAccessKeyId/);
  assert.match(
    await fail({ awsaccesskeyid: 'AKIDPOST', policy: text }),
    /^InvalidArgument: Bucket POST must contain a field named 'signature'/,
  );
});
