import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/core/config.js';
import { type LocalProcess, startLocal } from '../../src/server/local.js';
import type { UnderStore } from '../../src/ufs/under-store.js';
import { cacheIdOf } from '../../src/worker/records.js';
import { tempDir } from '../helpers/local-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A read that located a file's old version and reaches the store only after an overwrite has
 * committed gets the new version's bytes: those must not be cached under the old version's cache
 * id (it used to be: readers still holding the old record then read new bytes from the cache).
 * The store read is held back by a wrapper around the mount's store, so the order is fixed.
 */

describe('a read racing an overwrite', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let local: LocalProcess;
  const origin = () => join(tmp.dir, 'origin');

  before(async () => {
    tmp = await tempDir('stale-recache');
    await mkdir(origin(), { recursive: true });
    const config = await loadServerConfig({
      dataDir: join(tmp.dir, 'data'),
      port: '0',
      s3Port: 'off',
      mounts: [`/m=file://${origin()}`],
    });
    local = await startLocal(config);
  });

  after(async () => {
    await local?.stop();
    await tmp?.cleanup();
  });

  /** Holds the next read() of the mount's store until released; resolves `entered` when it is held. */
  function holdNextRead(store: UnderStore) {
    const original = store.read.bind(store);
    let release!: () => void;
    let entered!: () => void;
    const released = new Promise<void>((ok) => {
      release = ok;
    });
    const held = new Promise<void>((ok) => {
      entered = ok;
    });
    let armed = true;
    (store as { read: UnderStore['read'] }).read = async (path, options) => {
      if (armed) {
        armed = false;
        entered();
        await released;
      }
      return original(path, options);
    };
    return { held, release, restore: () => ((store as { read: UnderStore['read'] }).read = original) };
  }

  for (const writeType of ['THROUGH', 'CACHE_THROUGH'] as const) {
    test(`${writeType} overwrite: the new bytes are not cached under the old version's id`, async () => {
      const { fs, pages, meta, mounts } = local.node;
      const mount = mounts.get('/m')!;
      const path = `/m/raced-${writeType}.bin`;
      const ps = pages.pageSize;
      // Different sizes and bytes: the old version two pages, the new one three.
      const v1 = Buffer.alloc(ps + 1000, 1);
      const v2 = Buffer.alloc(2 * ps + 5000, 2);
      await writeFile(join(origin(), `raced-${writeType}.bin`), v1);

      const gate = holdNextRead(mount.store);
      try {
        const reading = fs.read(path); // locates v1, misses the cache, reads the store: held
        await gate.held;
        const old = await meta.getStatus(path);
        assert.equal(old?.size, v1.length, 'the reader located the old version');
        const oldId = old.cacheId ?? cacheIdOf(mount, path, old.fingerprint);

        await fs.write(path, Readable.from([v2]), { size: v2.length, writeType });
        gate.release();
        const stream = await reading;
        // The store had changed under the read: it gets v2's first bytes (a store read cannot be
        // made conditional); what matters here is what it leaves in the cache for others.
        for await (const _ of stream);
        await waitFor(() => fs.reader.inflightPages === 0, { what: 'the pages the read fetched, stored' });

        assert.deepEqual(pages.cachedPages(oldId), [], 'no page cached under the old version id');
        const now = await meta.getStatus(path);
        assert.equal(now?.size, v2.length, 'the overwrite committed');
        // A fresh read is the new version, whole.
        const again: Buffer[] = [];
        for await (const c of await fs.read(path)) again.push(c as Buffer);
        assert.ok(Buffer.concat(again).equals(v2), 'a read after the overwrite returns the new version');
      } finally {
        gate.restore();
      }
    });
  }
});
