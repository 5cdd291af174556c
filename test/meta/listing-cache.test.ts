import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { LevelMetaStore } from '../../src/meta/level-meta-store.js';
import type { FileRecord, Listing } from '../../src/meta/meta-store.js';

const rec = (path: string, size: number): FileRecord => ({
  path,
  type: 'file',
  size,
  mtimeMs: 1,
  fingerprint: `${size}:1:`,
  syncedAtMs: 1,
});

/**
 * Counts every read LevelMetaStore can make of LevelDB (point reads, iterators, snapshots), by
 * spying on classic-level's methods for the rest of the test. A listing served from memory makes
 * none; without the in-memory listing cache every getListing makes at least a snapshot, a get of
 * the marker and an iterator over the children.
 */
function countDbReads(t: TestContext): () => number {
  const methods = ['get', 'getMany', 'iterator', 'keys', 'values', 'snapshot'] as const;
  const spies = methods.map((m) => t.mock.method(ClassicLevel.prototype, m));
  return () => spies.reduce((n, s) => n + s.mock.callCount(), 0);
}

/** getListing, asserting it was answered from memory: no LevelDB read, the very same object. */
async function fromMemory(
  store: LevelMetaStore,
  reads: () => number,
  dir: string,
): Promise<Listing | undefined> {
  const first = await store.getListing(dir);
  const before = reads();
  const again = await store.getListing(dir);
  assert.equal(reads() - before, 0, `a repeated getListing(${dir}) read LevelDB`);
  assert.equal(again, first, `a repeated getListing(${dir}) built a new Listing`);
  return again;
}

test('a repeated getListing is served from memory: no LevelDB read, the same Listing object', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-listcache-'));
  const reads = countDbReads(t);
  let store = new LevelMetaStore(dir);
  await store.open();
  try {
    await store.putListing('/d', [rec('/d/a', 1), rec('/d/b', 2)], 10);
    // Kept in memory by putListing itself: not even the first read touches LevelDB.
    const before = reads();
    const listing = await fromMemory(store, reads, '/d');
    assert.equal(reads(), before, 'the listing written by putListing was read back from LevelDB');
    assert.deepEqual(
      listing?.entries.map((e) => e.size),
      [1, 2],
    );
    await store.close();
    // A new store has nothing in memory: its first getListing reads LevelDB (which also shows
    // the spies count real reads), and only that one.
    store = new LevelMetaStore(dir);
    await store.open();
    const cold = reads();
    const read = await store.getListing('/d');
    assert.ok(reads() > cold, 'a cold getListing did not read LevelDB: the spies count nothing');
    assert.deepEqual(read, listing);
    assert.equal(await fromMemory(store, reads, '/d'), read);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a listing served from memory follows every change to the directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-listcache-'));
  const reads = countDbReads(t);
  const store = new LevelMetaStore(dir);
  await store.open();
  try {
    await store.putListing('/d', [rec('/d/a', 1), rec('/d/b', 2)], 10);
    assert.deepEqual(
      (await fromMemory(store, reads, '/d'))?.entries.map((e) => e.size),
      [1, 2],
    );
    await store.putStatus(rec('/d/a', 5)); // a child changes
    assert.deepEqual(
      (await fromMemory(store, reads, '/d'))?.entries.map((e) => e.size),
      [5, 2],
    );
    await store.putListing('/d', [rec('/d/b', 2)], 20); // a child goes away
    assert.deepEqual(
      (await fromMemory(store, reads, '/d'))?.entries.map((e) => e.path),
      ['/d/b'],
    );
    await store.invalidate('/d/b'); // the listing is no longer complete
    assert.equal(await store.getListing('/d'), undefined);
    await store.putListing('/d', [rec('/d/c', 3)], 30);
    assert.equal((await fromMemory(store, reads, '/d'))?.syncedAtMs, 30);
    await store.deleteTree('/d');
    assert.equal(await store.getListing('/d'), undefined);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the listing kept in memory after putListing is what a read from disk returns (order included)', async (t) => {
  const reads = countDbReads(t);
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
    const before = reads();
    const fromMemory = await store.getListing('/d');
    assert.equal(reads(), before, 'the listing was not kept in memory by putListing');
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
