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

test('eviction gives recently read entries a second chance and never drops the entry just written', () => {
  const c = new ValueCache(3);
  c.write('a', '1');
  c.write('b', '2');
  c.write('c', '3');
  for (const k of ['a', 'b', 'c']) c.get(k); // all recently used
  c.write('d', '4'); // every entry had its chance: the oldest (a) goes, d stays
  assert.equal(c.get('d'), '4');
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 3);
  c.get('b');
  c.write('e', '5'); // c was not read since its second chance: it goes before b
  assert.equal(c.get('c'), undefined);
  assert.equal(c.get('b'), '2');
  assert.equal(c.get('e'), '5');
});
