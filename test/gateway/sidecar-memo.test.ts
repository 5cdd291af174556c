import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SidecarMemo } from '../../src/gateway/s3/sidecar-memo.js';

/** The listing's memo of sidecar ETags (a unit test; the gateway tests run it behind real listings). */
const meta = (etag: string, fingerprint: string, extra: { provisional?: boolean; plain?: number } = {}) => ({
  etag,
  size: 10,
  fingerprint,
  ...(extra.provisional ? { provisional: true } : {}),
  ...(extra.plain === undefined ? {} : { sse: { size: extra.plain } }),
});

test('a written sidecar answers for its own fingerprint and size only', async () => {
  const memo = new SidecarMemo();
  await memo.write('/b/m/k', meta('e1', 'f1', { plain: 4 }), async () => {});
  assert.deepEqual(memo.get('/b/m/k', 'f1', 10), { etag: 'e1', plainSize: 4, fingerprint: 'f1', size: 10 });
  assert.equal(memo.get('/b/m/k', 'f2', 10), undefined, 'another content of the key');
  assert.equal(memo.get('/b/m/k', 'f1', 11), undefined, 'another size');
  memo.forget('/b/m/k');
  assert.equal(memo.get('/b/m/k', 'f1', 10), undefined);
});

test('a failed write, a provisional sidecar and a read of none keep nothing', async () => {
  const memo = new SidecarMemo();
  memo.read('/k', meta('e0', 'f0'));
  await assert.rejects(
    memo.write('/k', meta('e1', 'f1'), async () => {
      throw new Error('store down');
    }),
  );
  assert.equal(memo.get('/k', 'f0', 10), undefined, 'the old entry went when the write began');
  assert.equal(memo.get('/k', 'f1', 10), undefined);
  await memo.write('/k', meta('e2', 'f2', { provisional: true }), async () => {});
  assert.equal(memo.get('/k', 'f2', 10), undefined);
  memo.read('/k', meta('e3', 'f3'));
  memo.read('/k', undefined);
  assert.equal(memo.get('/k', 'f3', 10), undefined);
});

test('overlapped writes of one sidecar keep nothing; a read during a write is not kept', async () => {
  const memo = new SidecarMemo();
  let release!: () => void;
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  const first = memo.write('/k', meta('e1', 'f1'), () => gate);
  memo.read('/k', meta('e0', 'f0'));
  assert.equal(memo.get('/k', 'f0', 10), undefined, 'read while a write is under way');
  const second = memo.write('/k', meta('e2', 'f2'), async () => {});
  await second;
  release();
  await first;
  assert.equal(memo.get('/k', 'f1', 10), undefined);
  assert.equal(memo.get('/k', 'f2', 10), undefined);
  // Alone again: kept.
  await memo.write('/k', meta('e3', 'f3'), async () => {});
  assert.equal(memo.get('/k', 'f3', 10)?.etag, 'e3');
});

test('the memo is bounded: the oldest entry goes first', async () => {
  const memo = new SidecarMemo(2);
  for (const k of ['a', 'b', 'c']) memo.read(`/${k}`, meta(`e${k}`, `f${k}`));
  assert.equal(memo.size, 2);
  assert.equal(memo.get('/a', 'fa', 10), undefined);
  assert.equal(memo.get('/c', 'fc', 10)?.etag, 'ec');
});
