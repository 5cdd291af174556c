import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { newSealKeyText } from '../../src/core/seal.js';
import { localS3Args, type RunningStrata, startLocal, tempDir } from '../helpers/local-process.js';
import { localS3Client } from '../helpers/s3-client.js';

/**
 * Replacing the SSE-S3 master key (`--s3-sse-key-file`): with the old key gone from the file its
 * objects answer a 400 naming the missing key id (never a 500 or wrong bytes); kept on a line
 * below the new key it still opens them, while new objects are written under the new one.
 */

const ACCESS = 'AKIAROTATE';
const SECRET = 'rotate-secret';

test('SSE-S3 master key replacement: the old key kept below the new one still opens its objects; without it a clear 400', async () => {
  const tmp = await tempDir('sse-rotate');
  let local: RunningStrata | undefined;
  const keyFile = join(tmp.dir, 'sse.key');
  const start = async (keys: string) => {
    await writeFile(keyFile, keys, { mode: 0o600 });
    local = await startLocal([...localS3Args(tmp.dir), '--s3-sse-key-file', keyFile], {
      STRATA_S3_ACCESS_KEY_ID: ACCESS,
      STRATA_S3_SECRET_ACCESS_KEY: SECRET,
    });
    return localS3Client(local, ACCESS, SECRET);
  };
  const stop = async (s3: S3Client) => {
    s3.destroy();
    await local?.stop();
    local = undefined;
  };
  const get = async (s3: S3Client, key: string) => {
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'enc', Key: key }));
      return { text: await r.Body!.transformToString(), sse: r.ServerSideEncryption };
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      return { error: `${e.$metadata?.httpStatusCode} ${e.name}: ${e.message}` };
    }
  };
  const put = (s3: S3Client, key: string, body: string) =>
    s3.send(new PutObjectCommand({ Bucket: 'enc', Key: key, Body: body, ServerSideEncryption: 'AES256' }));
  try {
    await mkdir(join(tmp.dir, 'store'), { recursive: true });
    const oldKey = newSealKeyText();
    const newKey = newSealKeyText();

    let s3 = await start(`${oldKey}\n`);
    await s3.send(new CreateBucketCommand({ Bucket: 'enc' }));
    await put(s3, 'old.txt', 'sealed under the old key');
    assert.deepEqual(await get(s3, 'old.txt'), { text: 'sealed under the old key', sse: 'AES256' });
    await stop(s3);

    // The old key replaced outright: its objects are refused with a 400 that says why.
    s3 = await start(`${newKey}\n`);
    const refused = await get(s3, 'old.txt');
    assert.ok('error' in refused, 'the object does not open');
    assert.match(
      refused.error!,
      /^400 InvalidRequest: .*master key \S+, which is not in this gateway's key file/,
    );
    await put(s3, 'new.txt', 'sealed under the new key');
    await stop(s3);

    // The new key first, the old one kept below it (comments allowed): both objects open, and a
    // new write is under the new key (it still opens once the old key is dropped).
    s3 = await start(`# current\n${newKey}\n# retired\n${oldKey}\n`);
    assert.deepEqual(await get(s3, 'old.txt'), { text: 'sealed under the old key', sse: 'AES256' });
    assert.deepEqual(await get(s3, 'new.txt'), { text: 'sealed under the new key', sse: 'AES256' });
    await put(s3, 'newer.txt', 'written after the rotation');
    await stop(s3);

    s3 = await start(`${newKey}\n`);
    assert.deepEqual(await get(s3, 'newer.txt'), { text: 'written after the rotation', sse: 'AES256' });
    assert.ok('error' in (await get(s3, 'old.txt')));
    await stop(s3);
  } finally {
    await local?.stop();
    await tmp.cleanup();
  }
});
