import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { loadServerConfig } from '../../src/core/config.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { tempDir } from '../helpers/local-process.js';

/**
 * A warm relist hands out the same FileInfo[] (callers such as the S3 gateway key their own
 * caches on it), including the first relist after the listing was read from the store.
 */

let tmp: Awaited<ReturnType<typeof tempDir>>;
let local: LocalProcess;

before(async () => {
  tmp = await tempDir('listmemo');
  const origin = join(tmp.dir, 'origin');
  await mkdir(join(origin, 'dir'), { recursive: true });
  for (const name of ['a', 'b', 'c']) await writeFile(join(origin, 'dir', name), name);
  const config = await loadServerConfig({
    dataDir: join(tmp.dir, 'data'),
    port: '0',
    s3Port: 'off',
    mounts: [`/m=file://${origin}`],
  });
  local = await startLocal(config);
});

after(async () => {
  await local?.stop();
  await tmp?.cleanup();
});

test('the listing read from the store and every warm relist after it are the same array', async () => {
  const fs = local.node.fs;
  const cold = await fs.list('/m/dir'); // from the store
  const warm = await fs.list('/m/dir');
  assert.deepEqual(
    cold.map((e) => e.name),
    ['a', 'b', 'c'],
  );
  assert.equal(warm, cold, 'the first warm relist rebuilt the listing');
  assert.equal(await fs.list('/m/dir'), cold);
  await fs.write('/m/dir/d', Readable.from([Buffer.from('d')]));
  const changed = await fs.list('/m/dir');
  assert.notEqual(changed, cold);
  assert.deepEqual(
    changed.map((e) => e.name),
    ['a', 'b', 'c', 'd'],
  );
  assert.equal(await fs.list('/m/dir'), changed);
});
