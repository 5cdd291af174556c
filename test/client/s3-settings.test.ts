import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  bucketSettingsPath,
  loadBucketSettings,
  saveBucketSettings,
  updateBucketSettings,
} from '../../src/client/s3-settings.js';
import type { StrataFileSystem } from '../../src/core/file-system.js';
import { MemoryFileSystem } from '../rpc/memory-file-system.js';

/** A file system that counts the reads of each path (the settings cache should spare them). */
function counting(fs: StrataFileSystem): { fs: StrataFileSystem; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(fs, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'read' && typeof v === 'function')
        return (...args: unknown[]) => {
          reads++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { fs: wrapped, reads: () => reads };
}

test('bucket settings are read once while the file is unchanged, and a change by anyone is seen', async () => {
  const base = new MemoryFileSystem();
  await base.mkdir('/b');
  const { fs, reads } = counting(base);
  assert.deepEqual(await loadBucketSettings(fs, 'b'), {}, 'no settings file: none');

  await saveBucketSettings(fs, 'b', { owner: 'alice', tags: { a: '1' } });
  assert.equal((await loadBucketSettings(fs, 'b')).owner, 'alice');
  const before = reads();
  for (let i = 0; i < 5; i++) assert.equal((await loadBucketSettings(fs, 'b')).owner, 'alice');
  assert.equal(reads(), before, 'unchanged settings are not read again');
  assert.ok(Object.isFrozen(await loadBucketSettings(fs, 'b')), 'shared settings are frozen');

  // Another gateway (here: a write beside this module) rewrites the file.
  const other = Buffer.from(JSON.stringify({ owner: 'bob' }));
  await base.write(bucketSettingsPath('b'), Readable.from([other]), { size: other.length });
  assert.equal((await loadBucketSettings(fs, 'b')).owner, 'bob', 'a rewrite elsewhere is seen at once');

  const merged = await updateBucketSettings(fs, 'b', { anonymousRead: true });
  assert.deepEqual(merged, { owner: 'bob', anonymousRead: true });
  assert.deepEqual(await loadBucketSettings(fs, 'b'), { owner: 'bob', anonymousRead: true });

  await base.delete(bucketSettingsPath('b'));
  assert.deepEqual(await loadBucketSettings(fs, 'b'), {}, 'a deleted settings file: none');

  const bad = Buffer.from('{not json');
  await base.write(bucketSettingsPath('b'), Readable.from([bad]), { size: bad.length });
  assert.deepEqual(await loadBucketSettings(fs, 'b'), {}, 'a damaged file counts as none');
});
