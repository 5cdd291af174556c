import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { loadServerConfig } from '../../src/core/config.js';
import { listPages } from '../../src/core/list-pages.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { tempDir } from '../helpers/local-process.js';

/**
 * The worker's listPage merges what is not in the store's listing — files staged with MUST_CACHE
 * (never persisted) and mount points — into the page their name falls in, and reads the store's
 * listing from the metadata store as a key range once it is stored.
 */

let tmp: Awaited<ReturnType<typeof tempDir>>;
let local: LocalProcess;

before(async () => {
  tmp = await tempDir('listpage');
  const origin = join(tmp.dir, 'origin');
  await mkdir(join(origin, 'dir'), { recursive: true });
  await mkdir(join(tmp.dir, 'other'), { recursive: true });
  for (let i = 0; i < 30; i++) await writeFile(join(origin, 'dir', `f${String(i).padStart(2, '0')}`), `${i}`);
  const config = await loadServerConfig({
    dataDir: join(tmp.dir, 'data'),
    port: '0',
    s3Port: 'off',
    mounts: [`/m=file://${origin}`, `/m/dir/f10-point=file://${join(tmp.dir, 'other')}`],
  });
  local = await startLocal(config);
});

after(async () => {
  await local?.stop();
  await tmp?.cleanup();
});

async function walk(limit: number): Promise<string[]> {
  const out: string[] = [];
  for await (const page of listPages(local.node.fs, '/m/dir', { limit })) {
    assert.ok(page.length <= limit);
    out.push(...page.map((e) => e.name));
  }
  return out;
}

test('staged files and mount points show in the page their name falls in, each once', async () => {
  const fs = local.node.fs;
  for (const n of ['f05-staged', 'f29-staged', 'a-first', 'sub/deep'])
    await fs.write(`/m/dir/${n}`, Readable.from([Buffer.from(n)]), { writeType: 'MUST_CACHE' });
  const whole = (await fs.list('/m/dir')).map((e) => e.name);
  assert.ok(whole.includes('f05-staged') && whole.includes('f10-point') && whole.includes('sub'));
  for (const limit of [1, 3, 7, 1000]) assert.deepEqual(await walk(limit), whole, `limit ${limit}`);
  const page = await fs.listPage('/m/dir', { startAfter: 'f10', limit: 2 });
  assert.deepEqual(
    page.entries.map((e) => [e.name, e.type, e.mount]),
    [
      ['f10-point', 'directory', '/m/dir/f10-point'],
      ['f11', 'file', '/m'],
    ],
  );
  assert.equal(page.nextStartAfter, 'f11');
});
