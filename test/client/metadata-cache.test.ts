import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { WorkerMetadataCache } from '../../src/client/metadata-cache.js';
import type { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import type { FileInfo } from '../../src/core/file-system.js';
import type { PageLocation, WatchLine } from '../../src/core/page-location.js';
import { waitFor } from '../helpers/local-process.js';

/** A worker's change stream driven by the test (unit test: an in-memory stand-in for GET watch). */
class FakeWorker {
  streams: PassThrough[] = [];
  watch(signal: AbortSignal): Promise<Readable> {
    const s = new PassThrough();
    signal.addEventListener('abort', () => s.destroy(), { once: true });
    this.streams.push(s);
    return Promise.resolve(s);
  }
  get current(): PassThrough {
    return this.streams[this.streams.length - 1]!;
  }
  send(line: WatchLine): void {
    this.current.write(`${JSON.stringify(line)}\n`);
  }
}

function loc(path: string, seq: number, syncIntervalMs = -1): PageLocation {
  return { seq, syncIntervalMs, pageSize: 1024, info: { path, size: 1 } as FileInfo };
}

async function opened(leaseMs = 60_000) {
  const worker = new FakeWorker();
  const cache = new WorkerMetadataCache(worker as unknown as RemoteFileSystem, { leaseMs, maxEntries: 3 });
  await waitFor('stream asked for', async () => worker.streams.length === 1);
  worker.send({ hello: { seq: 10, host: { hostname: 'h', bootId: 'b' } } });
  await waitFor('hello heard', async () => cache.live);
  return { worker, cache };
}

describe('client metadata cache (WorkerMetadataCache)', () => {
  test('nothing is cached before the change stream said hello', async () => {
    const worker = new FakeWorker();
    const cache = new WorkerMetadataCache(worker as unknown as RemoteFileSystem, {
      leaseMs: 60_000,
      maxEntries: 10,
    });
    const t = cache.ticket();
    cache.put('/a', loc('/a', 0), t);
    assert.equal(cache.get('/a'), undefined);
    cache.close();
  });

  test('a pushed change drops the entry; a change of a tree drops everything below it', async () => {
    const { worker, cache } = await opened();
    cache.put('/d/a', loc('/d/a', 10), cache.ticket());
    cache.put('/d/b', loc('/d/b', 10), cache.ticket());
    cache.put('/e', loc('/e', 10), cache.ticket());
    assert.equal(cache.get('/d/a')?.info.path, '/d/a');
    worker.send({ seq: 11, paths: ['/d/a'] });
    await waitFor('/d/a dropped', async () => cache.get('/d/a') === undefined);
    assert.ok(cache.get('/d/b'));
    worker.send({ seq: 12, trees: ['/d'] });
    await waitFor('/d dropped', async () => cache.get('/d/b') === undefined);
    assert.ok(cache.get('/e'));
    cache.close();
  });

  test('an answer computed before a change already heard of, or before a reconnect, is not kept', async () => {
    const { worker, cache } = await opened();
    worker.send({ seq: 15, paths: ['/x'] });
    let probe = 0;
    await waitFor('seq 15 heard', async () => {
      const p = `/probe${probe++}`;
      cache.put(p, loc(p, 14), cache.ticket());
      return cache.get(p) === undefined;
    });
    cache.put('/y', loc('/y', 15), cache.ticket());
    assert.ok(cache.get('/y'), 'an answer as new as the last change is kept');
    const before = cache.ticket();
    worker.current.destroy(); // the stream breaks: everything goes
    await waitFor('down', async () => !cache.live);
    assert.equal(cache.get('/y'), undefined);
    await waitFor('reconnected', async () => worker.streams.length === 2);
    worker.send({ hello: { seq: 3, host: { hostname: 'h', bootId: 'b' } } }); // restarted: seq starts over
    await waitFor('up again', async () => cache.live);
    cache.put('/z', loc('/z', 20), before);
    assert.equal(cache.get('/z'), undefined, 'asked before the break');
    cache.put('/z', loc('/z', 3), cache.ticket());
    assert.ok(cache.get('/z'));
    // This client's own change: in-flight answers are refused too.
    const t = cache.ticket();
    cache.forget('/z', false);
    cache.put('/z', loc('/z', 3), t);
    assert.equal(cache.get('/z'), undefined);
    cache.close();
  });

  test('the mount sync interval bounds the lease; interval 0 is never cached; entries are bounded', async () => {
    const { cache } = await opened(60_000);
    cache.put('/never', loc('/never', 10, 0), cache.ticket());
    assert.equal(cache.get('/never'), undefined);
    cache.put('/short', loc('/short', 10, 30), cache.ticket());
    assert.ok(cache.get('/short'));
    await waitFor(
      'expired after its 30 ms sync interval',
      async () => cache.get('/short') === undefined,
      5_000,
    );
    for (const p of ['/1', '/2', '/3', '/4']) cache.put(p, loc(p, 10), cache.ticket());
    assert.equal(cache.size, 3);
    assert.equal(cache.get('/1'), undefined, 'the oldest went');
    cache.close();
  });
});
