import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/core/buffer-pool.js';

test('a buffer given back is lent again; giving it twice, or giving a foreign one, puts nothing back', () => {
  const pool = new BufferPool(1024, 4);
  const a = pool.take();
  assert.equal(a.length, 1024);
  assert.ok(a.buffer instanceof SharedArrayBuffer, 'the I/O thread can read into it');
  pool.give(a.subarray(10, 20)); // a view of it gives it back
  pool.give(a); // already back: ignored, or two takers would share it
  pool.give(Buffer.alloc(1024)); // never lent
  const b = pool.take();
  const c = pool.take();
  assert.equal(b.buffer, a.buffer, 'reused');
  assert.notEqual(c.buffer, a.buffer, 'the double give did not put it back twice');
  assert.deepEqual(pool.stats(), { taken: 3, reused: 1, idle: 0 });
});

test('idle buffers are bounded by maxIdle', () => {
  const pool = new BufferPool(16, 2);
  const taken = [pool.take(), pool.take(), pool.take(), pool.take()];
  for (const t of taken) pool.give(t);
  assert.equal(pool.stats().idle, 2);
});
