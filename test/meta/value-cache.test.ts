import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueCache } from '../../src/meta/value-cache.js';

test('a read that raced a write does not put back the old value', () => {
  const c = new ValueCache(10);
  const token = c.begin(); // a read starts
  c.write('k', 'new'); // a write lands meanwhile
  c.fill('k', 'old', token); // the read returns the old value
  assert.equal(c.get('k'), 'new');
});

test('absences are cached; writes and clears update; capacity is bounded (LRU)', () => {
  const c = new ValueCache(3);
  c.fill('a', undefined, c.begin());
  assert.equal(c.get('a'), null);
  c.write('a', '1');
  assert.equal(c.get('a'), '1');
  c.write('b', '2');
  c.write('c', '3');
  assert.equal(c.get('a'), '1'); // touch a: b is now the oldest
  c.write('d', '4');
  assert.equal(c.get('b'), undefined);
  assert.equal(c.size, 3);
  c.clear();
  assert.equal(c.get('a'), undefined);
});

test('eviction drops the least recently used entry and never the entry just written', () => {
  const c = new ValueCache(3);
  c.write('a', '1');
  c.write('b', '2');
  c.write('c', '3');
  for (const k of ['a', 'b', 'c']) c.get(k); // all recently used
  c.write('d', '4'); // a was read least recently: it goes, d stays
  assert.equal(c.get('d'), '4');
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 3);
  c.get('b');
  c.write('e', '5'); // c was read before d was written and b read again: it goes first
  assert.equal(c.get('c'), undefined);
  assert.equal(c.get('b'), '2');
  assert.equal(c.get('e'), '5');
});

test('a full cache keeps inserting: the oldest entries go, the size stays at its bound', () => {
  // Speed is measured outside tests (docs/libraries.md: the hand-written Map this replaced paid ~39 µs per
  // insert once full); here only what a full cache must do.
  const c = new ValueCache(100_000);
  for (let i = 0; i < 300_000; i++) c.write(`/data/part-${i}.parquet`, 'v');
  assert.equal(c.size, 100_000);
  assert.equal(c.get('/data/part-299999.parquet'), 'v');
  assert.equal(c.get('/data/part-199999.parquet'), undefined);
});

test("admitOnSecondRead: a read is kept from its key's second read on; writes always", () => {
  const c = new ValueCache(10, { admitOnSecondRead: true });
  c.fill('a', '1', c.begin());
  assert.equal(c.get('a'), undefined, 'first read of a: not kept');
  c.fill('a', '1', c.begin());
  assert.equal(c.get('a'), '1', 'second read of a: kept');
  c.write('b', '2');
  assert.equal(c.get('b'), '2');
  // A long scan of distinct keys keeps nothing and evicts nothing.
  for (let i = 0; i < 1000; i++) c.fill(`scan-${i}`, 'x', c.begin());
  assert.equal(c.get('a'), '1');
  assert.equal(c.size, 2);
  // The doorkeeper is cleared after `capacity` first reads: an old first read is forgotten.
  c.fill('c', '3', c.begin());
  for (let i = 0; i < 20; i++) c.fill(`more-${i}`, 'x', c.begin());
  c.fill('c', '3', c.begin());
  assert.equal(c.get('c'), undefined);
});

test('beginWrite/endWrite: no read begun before endWrite fills the cache (it may have seen the store before the write)', () => {
  const c = new ValueCache(10);
  const before = c.begin(); // a read starts before the bulk write
  c.beginWrite();
  const during = c.begin(); // and one while it is under way
  c.fill('k', 'old', during);
  assert.equal(c.get('k'), undefined, 'a fill while the write is under way is refused');
  c.endWrite();
  c.fill('k', 'old', before);
  c.fill('k', 'old', during);
  assert.equal(c.get('k'), undefined, 'reads begun before endWrite are refused after it too');
  c.fill('k', 'new', c.begin());
  assert.equal(c.get('k'), 'new', 'a read begun after endWrite fills as usual');
  assert.equal(c.has('k'), true);
  assert.equal(c.has('other'), false);
});
