import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import { type Change, ChangeFeed, observedMetaStore } from '../../src/worker/change-feed.js';
import { tempDir, waitFor } from '../helpers/local-process.js';

const file = (path: string, fingerprint = 'v1') => ({
  path,
  type: 'file' as const,
  size: 1,
  mtimeMs: 1,
  fingerprint,
  syncedAtMs: Date.now(),
  cacheId: 'c1',
});

/** The worker's change feed over a real LevelDB metadata store. */
describe('change feed of the worker metadata', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let store: LevelMetaStore;

  before(async () => {
    tmp = await tempDir('change-feed');
    store = new LevelMetaStore(join(tmp.dir, 'meta'));
    await store.open();
  });

  after(async () => {
    await store?.close();
    await tmp?.cleanup();
  });

  test('status and attribute writes are reported after the store applied them, numbered, one batch per turn', async () => {
    const feed = new ChangeFeed();
    const meta = observedMetaStore(store, feed);
    const heard: { seq: number; changes: readonly Change[] }[] = [];
    const off = feed.subscribe((seq, changes) => {
      heard.push({ seq, changes });
    });
    await meta.putStatus(file('/a/f'));
    await meta.setAttrs('/a/f', { pinned: true });
    await waitFor('a batch', async () => heard.length > 0);
    await meta.deleteTree('/a');
    await waitFor('the tree change', async () => heard.some((h) => h.changes.some((c) => c.tree)));
    assert.deepEqual(
      heard.flatMap((h) => h.changes),
      [
        { path: '/a/f', tree: false },
        { path: '/a/f', tree: false },
        { path: '/a', tree: true },
      ],
    );
    assert.equal(feed.seq, 3);
    assert.equal(heard[heard.length - 1]!.seq, 3);
    off();
    // Nobody listening: the counter still moves (answers stamped with it stay comparable).
    await meta.invalidate('/b');
    assert.equal(feed.seq, 4);
    assert.equal(feed.subscribers, 0);
  });

  test('reads and optional methods are the store’s own', async () => {
    const meta = observedMetaStore(store, new ChangeFeed());
    await meta.putStatus(file('/c/g', 'v2'));
    assert.equal((await meta.getStatus('/c/g'))?.fingerprint, 'v2');
    assert.equal(typeof meta.peekStatus, typeof store.peekStatus);
    assert.equal(typeof meta.listingToken, typeof store.listingToken);
    assert.equal(meta.peekStatus, meta.peekStatus, 'one wrapper per method');
  });
});
