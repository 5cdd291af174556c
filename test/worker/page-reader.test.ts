import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { StrataError } from '../../src/core/errors.js';
import { collect } from '../../src/worker/file-system.js';
import { WorkerMetrics } from '../../src/worker/metrics.js';
import { MAX_RUN_PAGES, PageReader, type RangeRequest } from '../../src/worker/page-reader.js';
import { waitFor } from '../helpers/wait.js';

const PS = 64 * 1024;

async function setup(data: Buffer, chunk = 10_000) {
  const pages = new TieredPageStore({
    pageSize: PS,
    tiers: [{ name: 'memory', kind: 'memory', capacityBytes: 64 * 1024 * 1024 }],
    eviction: 'LRU',
  });
  await pages.open();
  const reader = new PageReader(pages, new WorkerMetrics(), 4);
  const calls: Array<[number, number]> = [];
  const req = (offset: number, length: number, over: Partial<RangeRequest> = {}): RangeRequest => ({
    cacheId: 'file0',
    size: data.length,
    offset,
    length,
    readType: 'CACHE',
    mount: '/t',
    async source(off, len) {
      calls.push([off, len]);
      const slice = data.subarray(off, off + len);
      const parts: Buffer[] = [];
      for (let i = 0; i < slice.length; i += chunk) parts.push(slice.subarray(i, i + chunk));
      return Readable.from(parts);
    },
    ...over,
  });
  return { pages, reader, calls, req };
}

test('a cold sequential read fetches runs of missing pages with one store read each', async () => {
  const data = randomBytes(10 * PS + 123);
  const { reader, calls, req, pages } = await setup(data);
  assert.ok((await collect(reader.stream(req(0, data.length)))).equals(data));
  assert.equal(calls.length, 1, `one store read for 11 pages, got ${JSON.stringify(calls)}`);
  // Pages are stored just after their bytes are handed out: wait for the puts, not for a while.
  await waitFor(() => pages.cachedBytes('file0') === data.length, { what: 'every page stored' });
  assert.ok((await collect(reader.stream(req(0, data.length)))).equals(data));
  assert.equal(calls.length, 1, 'warm read does not touch the source');
});

test('runs are bounded and skip pages already cached', async () => {
  const data = randomBytes((MAX_RUN_PAGES + 5) * PS);
  const { reader, calls, req } = await setup(data);
  await collect(reader.stream(req(3 * PS, PS)));
  calls.length = 0;
  assert.ok((await collect(reader.stream(req(0, data.length)))).equals(data));
  assert.ok(
    calls.every(([, len]) => len <= MAX_RUN_PAGES * PS),
    JSON.stringify(calls),
  );
  assert.ok(
    !calls.some(([off, len]) => off <= 3 * PS && 3 * PS < off + len),
    'cached page 3 is not read again',
  );
});

test('concurrent readers of the same pages share the store reads', async () => {
  const data = randomBytes(8 * PS);
  const { reader, calls, req } = await setup(data);
  const results = await Promise.all(
    Array.from({ length: 6 }, () => collect(reader.stream(req(0, data.length)))),
  );
  for (const r of results) assert.ok(r.equals(data));
  const bytes = calls.reduce((a, [, len]) => a + len, 0);
  assert.equal(bytes, data.length, 'each byte read from the store once');
});

test('a short store answer fails the read instead of serving wrong bytes', async () => {
  const data = randomBytes(4 * PS);
  const { reader, req } = await setup(data);
  const short = req(0, data.length, {
    async source(off, len) {
      return Readable.from([data.subarray(off, off + len - 10)]);
    },
  });
  await assert.rejects(
    collect(reader.stream(short)),
    (err: unknown) => err instanceof StrataError && err.code === 'FINGERPRINT_CHANGED',
  );
});

test('ranges inside and across pages return exact bytes', async () => {
  const data = randomBytes(5 * PS + 7);
  const { reader, req } = await setup(data, 777);
  for (const [o, l] of [
    [0, 1],
    [PS - 1, 2],
    [2 * PS + 5, 2 * PS],
    [data.length - 3, 3],
    [data.length, 0],
  ] as const) {
    assert.ok((await collect(reader.stream(req(o, l)))).equals(data.subarray(o, o + l)), `${o}+${l}`);
  }
});

test('readBuffer returns the same bytes as the stream: within a page, across pages, empty, cold and warm', async () => {
  const data = randomBytes(5 * PS + 77);
  const { reader, calls, req } = await setup(data);
  const cases: Array<[number, number]> = [
    [0, 4096],
    [PS - 10, 20],
    [PS + 5, 3 * PS],
    [5 * PS, 77],
    [5 * PS + 70, 100], // runs past the end: clipped to the file
    [17, 0],
  ];
  for (const [offset, length] of cases) {
    const want = data.subarray(offset, Math.min(data.length, offset + length));
    const cold = await reader.readBuffer(req(offset, length));
    assert.ok(cold.equals(want), `cold ${offset}+${length}`);
    const storeReads = calls.length;
    const warm = await reader.readBuffer(req(offset, length));
    assert.ok(warm.equals(want), `warm ${offset}+${length}`);
    assert.equal(calls.length, storeReads, `warm ${offset}+${length} does not touch the source`);
  }
});

test('whenStored settles once the puts of the pages a read fetched have, and nothing stays in flight', async () => {
  const data = randomBytes(3 * PS + 10);
  const { reader, req, pages } = await setup(data);
  // Puts held until released: the reader gets its pages long before they are stored.
  const held: Array<() => void> = [];
  const put = pages.put.bind(pages);
  pages.put = async (fileId, index, buf) => {
    await new Promise<void>((resolve) => held.push(resolve));
    return put(fileId, index, buf);
  };
  const r = req(0, data.length);
  assert.ok((await collect(reader.stream(r))).equals(data));
  assert.equal(reader.inflightPages, 4, 'each page in flight until stored');
  let stored = false;
  const done = reader.whenStored(r.cacheId, r.offset, r.length).then(() => {
    stored = true;
  });
  await waitFor(() => held.length === 4, { what: 'four puts started' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stored, false, 'not stored while the puts are held');
  for (const release of held.splice(0)) release();
  await done;
  assert.equal(reader.inflightPages, 0, 'nothing left in flight once stored');
  assert.equal(reader.budget.usedBytes, 0);
  assert.equal(pages.cachedBytes('file0'), data.length);
  // Nothing in flight: settles at once.
  await reader.whenStored(r.cacheId, 0, data.length);
});
