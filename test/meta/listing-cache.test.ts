import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import type { FileRecord } from '../../src/meta/meta-store.js';

const rec = (path: string, size: number): FileRecord => ({
  path,
  type: 'file',
  size,
  mtimeMs: 1,
  fingerprint: `${size}:1:`,
  syncedAtMs: 1,
});

test('a listing served from memory follows every change to the directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-listcache-'));
  const store = new LevelMetaStore(dir);
  await store.open();
  try {
    await store.putListing('/d', [rec('/d/a', 1), rec('/d/b', 2)], 10);
    assert.deepEqual(
      (await store.getListing('/d'))?.entries.map((e) => e.size),
      [1, 2],
    );
    await store.putStatus(rec('/d/a', 5)); // a child changes
    assert.deepEqual(
      (await store.getListing('/d'))?.entries.map((e) => e.size),
      [5, 2],
    );
    await store.putListing('/d', [rec('/d/b', 2)], 20); // a child goes away
    assert.deepEqual(
      (await store.getListing('/d'))?.entries.map((e) => e.path),
      ['/d/b'],
    );
    await store.invalidate('/d/b'); // the listing is no longer complete
    assert.equal(await store.getListing('/d'), undefined);
    await store.putListing('/d', [rec('/d/c', 3)], 30);
    assert.equal((await store.getListing('/d'))?.syncedAtMs, 30);
    await store.deleteTree('/d');
    assert.equal(await store.getListing('/d'), undefined);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the listing kept in memory after putListing is what a read from disk returns (order included)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-listcache-'));
  // Names whose UTF-16 order differs from UTF-8 byte order (astral vs U+FFxx), and plain ones.
  const names = ['b', 'a', '\u{1F600}', '\uFF5E', 'a b', 'A', '\u00e9'];
  let store = new LevelMetaStore(dir);
  await store.open();
  try {
    await store.putListing(
      '/d',
      names.map((n, i) => rec(`/d/${n}`, i)),
      40,
    );
    const fromMemory = await store.getListing('/d');
    await store.close();
    store = new LevelMetaStore(dir); // nothing in memory: read back from LevelDB
    await store.open();
    const fromDisk = await store.getListing('/d');
    assert.deepEqual(
      fromMemory?.entries.map((e) => [e.path, e.size]),
      fromDisk?.entries.map((e) => [e.path, e.size]),
    );
    assert.equal(fromMemory?.syncedAtMs, fromDisk?.syncedAtMs);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
