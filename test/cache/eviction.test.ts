import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createEvictionPolicy } from '../../src/cache/eviction.js';

// Slots stand for pages: a = 0, b = 1, …
const [a, b, c, d, e] = [0, 1, 2, 3, 4];

describe('eviction policies', () => {
  test('LRU evicts the least recently used', () => {
    const p = createEvictionPolicy('LRU');
    for (const k of [a, b, c, d]) p.onInsert(k);
    p.onAccess(a);
    p.onAccess(b);
    assert.deepEqual([...p.victims()], [c, d, a, b]);
    p.onRemove(c);
    assert.equal(p.victim(), d);
    assert.equal(p.size, 3);
    assert.equal(p.has(c), false);
  });

  test('FIFO ignores reads', () => {
    const p = createEvictionPolicy('FIFO');
    for (const k of [a, b, c]) p.onInsert(k);
    p.onAccess(a);
    p.onInsert(a);
    assert.deepEqual([...p.victims()], [a, b, c]);
  });

  test('LFU evicts the least frequently used, older first on ties', () => {
    const p = createEvictionPolicy('LFU');
    for (const k of [a, b, c, d]) p.onInsert(k);
    for (let i = 0; i < 3; i++) p.onAccess(a);
    p.onAccess(b);
    p.onAccess(d);
    // freq: a=4, b=2, c=1, d=2
    assert.deepEqual([...p.victims()], [c, b, d, a]);
    p.onRemove(c);
    assert.equal(p.victim(), b);
    p.onRemove(b);
    p.onRemove(d);
    assert.equal(p.victim(), a);
    p.onInsert(e);
    assert.deepEqual([...p.victims()], [e, a]);
    p.onRemove(a);
    p.onRemove(e);
    assert.equal(p.victim(), -1);
    assert.equal(p.size, 0);
  });

  for (const name of ['LRU', 'LFU', 'FIFO'] as const) {
    test(`${name} keeps its order across growth and slot reuse`, () => {
      const p = createEvictionPolicy(name, 2);
      const n = 1000;
      p.grow(n);
      for (let s = 0; s < n; s++) p.onInsert(s);
      // Every other slot leaves and comes back as a new page: it is then among the newest.
      for (let s = 0; s < n; s += 2) p.onRemove(s);
      for (let s = 0; s < n; s += 2) p.onInsert(s);
      const order = [...p.victims()];
      assert.equal(order.length, n);
      assert.equal(p.size, n);
      const odd = Array.from({ length: n / 2 }, (_, i) => i * 2 + 1);
      const even = Array.from({ length: n / 2 }, (_, i) => i * 2);
      assert.deepEqual(order, [...odd, ...even]);
      assert.equal(p.victim(), 1);
    });
  }
});
