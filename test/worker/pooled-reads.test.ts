import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { request } from 'undici';
import { TieredPageStore } from '../../src/cache/tiered-page-store.js';
import { sendStream } from '../../src/core/send-stream.js';
import { WorkerMetrics } from '../../src/worker/metrics.js';
import { PageReader, type RangeRequest } from '../../src/worker/page-reader.js';
import { waitFor } from '../helpers/wait.js';

const PS = 64 * 1024;

/**
 * Recycled page buffers (core/buffer-pool.ts) never hand one reader another's bytes: many
 * concurrent HTTP readers of different files whose pages live only on disk (no memory tier), some
 * reading slowly so their socket pushes back, each body checked against its file; the pool must
 * have reused buffers, or the test proves nothing.
 */
test('concurrent streamed reads from the disk tier through recycled buffers each get their own bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
  const pages = new TieredPageStore({
    pageSize: PS,
    tiers: [{ name: 'disk0', kind: 'disk', capacityBytes: 256 * 1024 * 1024, dir }],
    eviction: 'LRU',
  });
  await pages.open();
  const reader = new PageReader(pages, new WorkerMetrics(), 4);
  // Larger than loopback socket buffers (a few MiB), so a slow reader's chunks wait in Node's queue.
  const files = Array.from({ length: 8 }, (_, i) => randomBytes(120 * PS + 1000 * i));
  let sourceReads = 0;
  const req = (i: number): RangeRequest => ({
    cacheId: `file${i}`,
    size: files[i]!.length,
    offset: 0,
    length: files[i]!.length,
    readType: 'CACHE',
    mount: '/t',
    source: async (off, len) => {
      sourceReads++;
      return Readable.from([files[i]!.subarray(off, off + len)]);
    },
  });
  const server = createServer((rq, res) => {
    const i = Number(rq.url!.slice(1));
    res.writeHead(200, { 'content-length': files[i]!.length });
    void sendStream(reader.stream(req(i)), res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const md5 = (b: Buffer | Uint8Array) => createHash('md5').update(b).digest('hex');
  try {
    // Cold: every page from the "store", then stored on disk only.
    for (let i = 0; i < files.length; i++) {
      const res = await request(`${base}/${i}`);
      assert.equal(md5(Buffer.from(await res.body.arrayBuffer())), md5(files[i]!));
    }
    // Written and ready (cachedBytes counts pages whose writes are still in flight).
    await waitFor(
      () =>
        files.every((f, i) =>
          Array.from({ length: Math.ceil(f.length / PS) }, (_, k) => k).every((k) =>
            pages.has(`file${i}`, k),
          ),
        ),
      { what: 'every page on disk' },
    );
    const coldReads = sourceReads;
    const before = reader.pool.stats();
    for (let round = 0; round < 3; round++) {
      // Half the readers take their headers and then read nothing until the others have read
      // everything: their sockets fill, so a page of theirs waits in Node's queue while the
      // others read more pages — into recycled buffers, which must not be theirs.
      let fastDone!: () => void;
      const fastFinished = new Promise<void>((ok) => {
        fastDone = ok;
      });
      let fastLeft = files.filter((_, i) => i % 2 === 1).length;
      await Promise.all(
        files.map(async (f, i) => {
          const res = await request(`${base}/${i}`);
          if (i % 2 === 0) await fastFinished;
          const hash = createHash('md5');
          for await (const chunk of res.body) hash.update(chunk as Buffer);
          assert.equal(hash.digest('hex'), md5(f), `file ${i}, round ${round}`);
          if (i % 2 === 1 && --fastLeft === 0) fastDone();
        }),
      );
    }
    const after = reader.pool.stats();
    assert.equal(sourceReads, coldReads, 'every warm read came from the disk tier');
    assert.ok(after.taken - before.taken >= 3 * files.reduce((n, f) => n + Math.ceil(f.length / PS), 0));
    assert.ok(after.reused - before.reused > 0, `buffers were reused (${JSON.stringify(after)})`);
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
    await pages.close();
    await rm(dir, { recursive: true, force: true });
  }
});
