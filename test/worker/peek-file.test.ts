import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/core/config.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import { tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * peekFile (the S3 gateway's synchronous small-GET path) answers only when status() and
 * readBuffer() would answer the same from memory; everything else is left to them.
 */

/** Reads a file once, the way the gateway's first GET does (status, then the bytes), until cached. */
async function warm(fs: LocalProcess['node']['fs'], path: string): Promise<Buffer> {
  const bytes = await fs.readBuffer(path, { length: 1024 });
  // The page is stored just after its bytes are handed out: wait until status shows it.
  await waitFor(async () => (await fs.status(path)).cachedPercent === 100, { what: `${path} cached` });
  return bytes;
}

describe('WorkerFileSystem.peekFile', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: LocalProcess;
  let origin: string;

  before(async () => {
    tmp = await tempDir('peekfile');
    origin = join(tmp.dir, 'origin');
    await mkdir(join(origin, 'trust'), { recursive: true });
    await mkdir(join(origin, 'check'), { recursive: true });
    await writeFile(join(origin, 'trust', 'small.txt'), 'small file');
    await writeFile(join(origin, 'check', 'small.txt'), 'checked every time');
    const config = await loadServerConfig({
      dataDir: join(tmp.dir, 'data'),
      port: '0',
      s3Port: 'off',
      mounts: [`/t=file://${join(origin, 'trust')}`],
    });
    local = await startLocal(config);
    await local.node.fs.mount('/c', `file://${join(origin, 'check')}`, { syncIntervalMs: 0 });
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  test('a cached small file: the same status and bytes as status() and readBuffer()', async () => {
    const fs = local.node.fs;
    assert.equal(fs.peekFile('/t/small.txt', 1024), undefined, 'nothing is cached yet');
    const bytes = await warm(fs, '/t/small.txt');
    const peeked = fs.peekFile('/t/small.txt', 1024);
    assert.ok(peeked, 'cached and fresh, but not peeked');
    assert.equal(peeked.data.toString(), bytes.toString());
    assert.deepEqual(peeked.info, await fs.status('/t/small.txt'));
    assert.equal(fs.peekFile('/t/small.txt', 4), undefined, 'larger than maxBytes');
    assert.equal(fs.peekFile('/t', 1024), undefined, 'a mount point is a directory');
    assert.equal(fs.peekFile('/t/../t/small.txt', 1024), undefined, 'invalid paths go the slow way');
  });

  test('sync interval 0 (check the store on every access) is never answered from memory', async () => {
    const fs = local.node.fs;
    await warm(fs, '/c/small.txt');
    assert.equal((await fs.status('/c/small.txt')).cachedPercent, 100);
    assert.equal(fs.peekFile('/c/small.txt', 1024), undefined);
  });

  test('freed pages and staged (not yet persisted) files are left to the slow path', async () => {
    const fs = local.node.fs;
    await warm(fs, '/t/small.txt');
    assert.ok(fs.peekFile('/t/small.txt', 1024));
    await fs.free('/t/small.txt');
    assert.equal(fs.peekFile('/t/small.txt', 1024), undefined);
    await fs.write('/t/staged.txt', Readable.from([Buffer.from('staged')]), { writeType: 'MUST_CACHE' });
    assert.equal((await warm(fs, '/t/staged.txt')).toString(), 'staged');
    assert.equal(fs.peekFile('/t/staged.txt', 1024), undefined);
    // A cached file overwritten by a write not yet in the store: never its old bytes.
    await warm(fs, '/t/small.txt');
    assert.equal(fs.peekFile('/t/small.txt', 1024)?.data.toString(), 'small file');
    await fs.write('/t/small.txt', Readable.from([Buffer.from('new bytes')]), { writeType: 'MUST_CACHE' });
    assert.equal((await fs.readBuffer('/t/small.txt', { length: 1024 })).toString(), 'new bytes');
    const after = fs.peekFile('/t/small.txt', 1024);
    assert.ok(after === undefined || after.data.toString() === 'new bytes', `peeked ${after?.data}`);
  });
});
