import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionOf, decide } from '../../src/gateway/s3/authorize.js';
import { resolveOperation, S3_OPERATION_NAMES } from '../../src/gateway/s3/operations.js';

/** Which operation the browser requests resolve to, and the IAM action each is authorised as. */

const q = (...keys: string[]) => new Map(keys.map((k) => [k, '']));
const form = { 'content-type': 'multipart/form-data; boundary=x' };

test('CORS and POST uploads resolve to their operations; cors on an object stays 501', () => {
  const cases: Array<[string, string, string, Map<string, string>, Record<string, string>, string]> = [
    ['GET', 'b', '', q('cors'), {}, 'GetBucketCors'],
    ['PUT', 'b', '', q('cors'), {}, 'PutBucketCors'],
    ['DELETE', 'b', '', q('cors'), {}, 'DeleteBucketCors'],
    ['OPTIONS', 'b', '', q(), {}, 'CorsPreflight'],
    ['OPTIONS', 'b', 'some/key', q(), {}, 'CorsPreflight'],
    ['OPTIONS', '', '', q(), {}, 'Unknown'],
    ['POST', 'b', '', q(), form, 'PostObject'],
    ['POST', 'b', '', q(), { 'content-type': 'Multipart/Form-Data; boundary=x' }, 'PostObject'],
    ['POST', 'b', '', q('delete'), form, 'DeleteObjects'],
    ['POST', 'b', '', q(), { 'content-type': 'text/plain' }, 'Unknown'],
    ['POST', 'b', 'k', q(), form, 'Unknown'],
    ['GET', 'b', 'k', q('cors'), {}, 'Unknown'],
  ];
  for (const [method, bucket, key, query, headers, name] of cases)
    assert.equal(
      resolveOperation(method, bucket, key, query, headers).name,
      name,
      `${method} ${bucket}/${key}`,
    );
  for (const name of ['GetBucketCors', 'PutBucketCors', 'DeleteBucketCors', 'CorsPreflight', 'PostObject'])
    assert.ok(S3_OPERATION_NAMES.includes(name), name);
});

test('CORS configuration needs the IAM CORS actions, a POST upload s3:PutObject', () => {
  assert.equal(actionOf('GetBucketCors', 'b'), 's3:GetBucketCORS');
  assert.equal(actionOf('PutBucketCors', 'b'), 's3:PutBucketCORS');
  assert.equal(actionOf('DeleteBucketCors', 'b'), 's3:PutBucketCORS');
  // Bucket default encryption has IAM actions of its own (was s3:*, i.e. owner only).
  assert.equal(actionOf('GetBucketEncryption', 'b'), 's3:GetEncryptionConfiguration');
  assert.equal(actionOf('PutBucketEncryption', 'b'), 's3:PutEncryptionConfiguration');
  assert.equal(actionOf('DeleteBucketEncryption', 'b'), 's3:PutEncryptionConfiguration');
  assert.equal(actionOf('PostObject', 'b'), 's3:PutObject');
});

test("only the bucket's owner (or root) may put, get or delete its CORS rules; anyone else is refused", () => {
  const bucket = { owner: 'ana', anonymousRead: true };
  const ask = (user: string | undefined, operation: string) =>
    decide(
      {
        principal: user === undefined ? undefined : { name: user, root: user === 'strata' },
        action: actionOf(operation, 'photos'),
        bucket: 'photos',
        key: '',
      },
      bucket,
    ).allow;
  for (const op of ['GetBucketCors', 'PutBucketCors', 'DeleteBucketCors']) {
    assert.equal(ask('ana', op), true, `owner ${op}`);
    assert.equal(ask('strata', op), true, `root ${op}`);
    assert.equal(ask('bob', op), false, `other user ${op}`);
    // Anonymous read of the bucket does not extend to its CORS configuration.
    assert.equal(ask(undefined, op), false, `anonymous ${op}`);
  }
});
