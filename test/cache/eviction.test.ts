import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createEvictionPolicy } from '../../src/cache/eviction.js';

describe('eviction policies', () => {
  test('LRU evicts the least recently used', () => {
    const p = createEvictionPolicy('LRU');
    for (const k of ['a', 'b', 'c', 'd']) p.onInsert(k);
    p.onAccess('a');
    p.onAccess('b');
    assert.deepEqual([...p.victims()], ['c', 'd', 'a', 'b']);
    p.onRemove('c');
    assert.equal(p.victim(), 'd');
    assert.equal(p.size, 3);
  });

  test('FIFO ignores reads', () => {
    const p = createEvictionPolicy('FIFO');
    for (const k of ['a', 'b', 'c']) p.onInsert(k);
    p.onAccess('a');
    p.onInsert('a');
    assert.deepEqual([...p.victims()], ['a', 'b', 'c']);
  });

  test('LFU evicts the least frequently used, older first on ties', () => {
    const p = createEvictionPolicy('LFU');
    for (const k of ['a', 'b', 'c', 'd']) p.onInsert(k);
    for (let i = 0; i < 3; i++) p.onAccess('a');
    p.onAccess('b');
    p.onAccess('d');
    // freq: a=4, b=2, c=1, d=2
    assert.deepEqual([...p.victims()], ['c', 'b', 'd', 'a']);
    p.onRemove('c');
    assert.equal(p.victim(), 'b');
    p.onRemove('b');
    p.onRemove('d');
    assert.equal(p.victim(), 'a');
    p.onInsert('e');
    assert.deepEqual([...p.victims()], ['e', 'a']);
    p.onRemove('a');
    p.onRemove('e');
    assert.equal(p.victim(), undefined);
    assert.equal(p.size, 0);
  });
});
