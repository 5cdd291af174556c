import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import { loadServerConfig } from '../../src/core/config.js';
import { isStrataError, StrataError } from '../../src/core/errors.js';
import { encryptionFromQuery, encryptionQuery } from '../../src/core/store-encryption.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { sseOfHead, sseRefusal, sseRequestFields } from '../../src/ufs/s3/s3-sse.js';
import { tempDir } from '../helpers/local-process.js';

/**
 * The pieces of SSE pass-through below the gateway: the RPC encoding of a write's store
 * encryption, the S3 request fields, and the refusals (a store that cannot encrypt, a write type
 * that would stage plaintext) — in process and over the RPC, against a real `strata local`.
 */

describe('store encryption as RPC parameters', () => {
  const back = (q: Record<string, string>) => encryptionFromQuery((n) => q[n]);

  test('round trip of every mode and field', () => {
    for (const enc of [
      { mode: 'AES256' as const },
      { mode: 'aws:kms' as const },
      {
        mode: 'aws:kms' as const,
        kmsKeyId: 'arn:aws:kms:us-east-1:1:key/abc',
        context: 'e30=',
        bucketKeyEnabled: true,
      },
      { mode: 'aws:kms:dsse' as const, kmsKeyId: 'k' },
    ])
      assert.deepEqual(back(encryptionQuery(enc)), enc);
    assert.deepEqual(encryptionQuery(undefined), {});
    assert.equal(back({}), undefined);
  });

  test('bad parameters are INVALID_ARGUMENT', () => {
    for (const q of [
      { sse: 'rot13' },
      { sseKmsKeyId: 'k' },
      { sse: 'AES256', sseKmsKeyId: 'k' },
      { sse: 'aws:kms', sseBucketKey: 'yes' },
    ])
      assert.throws(
        () => back(q),
        (err: unknown) => isStrataError(err, 'INVALID_ARGUMENT'),
        JSON.stringify(q),
      );
  });
});

describe('S3 request fields of store encryption', () => {
  test('SSE-S3 and SSE-KMS map to the SDK fields; a HEAD maps back', () => {
    assert.deepEqual(sseRequestFields(undefined), {});
    assert.deepEqual(sseRequestFields({ mode: 'AES256' }), { ServerSideEncryption: 'AES256' });
    const kms = { mode: 'aws:kms' as const, kmsKeyId: 'k1', context: 'e30=', bucketKeyEnabled: true };
    assert.deepEqual(sseRequestFields(kms), {
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'k1',
      SSEKMSEncryptionContext: 'e30=',
      BucketKeyEnabled: true,
    });
    assert.deepEqual(sseOfHead({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'k1' }), {
      mode: 'aws:kms',
      kmsKeyId: 'k1',
    });
    assert.deepEqual(sseOfHead({ ServerSideEncryption: 'AES256' }), { mode: 'AES256' });
    assert.equal(sseOfHead({}), undefined);
  });

  test("a 501 to an encrypted write is UNSUPPORTED; other errors, or a plain write's, are kept", () => {
    const notImpl = new StrataError('UFS_UNAVAILABLE', 'PutObject b/k: NotImplemented (HTTP 501)', {
      details: { s3Code: 'NotImplemented', httpStatus: 501 },
    });
    assert.equal(sseRefusal(notImpl, { mode: 'AES256' }).code, 'UNSUPPORTED');
    assert.equal(sseRefusal(notImpl, undefined), notImpl);
    const down = new StrataError('UFS_UNAVAILABLE', 'x', { details: { s3Code: 'ServiceUnavailable' } });
    assert.equal(sseRefusal(down, { mode: 'AES256' }), down);
  });
});

describe('a write asking for store encryption where it cannot be had', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: LocalProcess;
  const body = () => Readable.from([Buffer.from('secret plaintext')]);

  before(async () => {
    tmp = await tempDir('ssepass-units');
    const store = join(tmp.dir, 'store');
    await mkdir(store, { recursive: true });
    const config = await loadServerConfig({ dataDir: join(tmp.dir, 'data'), port: '0', s3Port: 'off' });
    local = await startLocal(config);
    await local.node.fs.mount('/f', `file://${store}`);
  });
  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  test('a file:// store refuses it (UNSUPPORTED) and nothing is written, in process and over the RPC', async () => {
    const remote = new RemoteFileSystem(local.ready.addresses.worker!);
    try {
      for (const [fs, path] of [
        [local.node.fs, '/f/in-process.txt'],
        [remote, '/f/over-rpc.txt'],
      ] as const) {
        for (const writeType of ['THROUGH', 'CACHE_THROUGH'] as const)
          await assert.rejects(
            fs.write(path, body(), { writeType, encryption: { mode: 'AES256' } }),
            (err: unknown) => isStrataError(err, 'UNSUPPORTED'),
            `${path} ${writeType}`,
          );
        await assert.rejects(fs.status(path), (err: unknown) => isStrataError(err, 'NOT_FOUND'));
        // The same write without encryption goes through: the refusal is the encryption's.
        assert.equal((await fs.write(path, body(), { writeType: 'THROUGH' })).size, 16);
      }
    } finally {
      await remote.close();
    }
  });

  test('ASYNC_THROUGH and MUST_CACHE writes refuse it (INVALID_ARGUMENT): they would stage the plaintext', async () => {
    for (const writeType of ['ASYNC_THROUGH', 'MUST_CACHE'] as const)
      await assert.rejects(
        local.node.fs.write('/f/staged.txt', body(), {
          writeType,
          encryption: { mode: 'aws:kms', kmsKeyId: 'k' },
        }),
        (err: unknown) =>
          isStrataError(err, 'INVALID_ARGUMENT') && /THROUGH or CACHE_THROUGH/.test(String(err)),
      );
    await assert.rejects(local.node.fs.status('/f/staged.txt'), (err: unknown) =>
      isStrataError(err, 'NOT_FOUND'),
    );
  });
});
