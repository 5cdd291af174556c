import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { isStrataError, StrataError } from '../../src/core/errors.js';
import type { FileInfo } from '../../src/core/file-system.js';
import {
  DEFAULT_JOB_BATCH_CONCURRENCY,
  type JobBatchParts,
  JobBatchRunner,
} from '../../src/worker/job-batch.js';
import type { Located } from '../../src/worker/metadata-sync.js';

/**
 * JobBatchRunner over stub parts: how many paths run at once, the order of results when paths
 * finish out of order, per-path errors, and the signal. (The real worker behind it is tested in
 * job-batch.test.ts and the client contract.)
 */

function info(path: string, cachedPercent: number): FileInfo {
  return {
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    type: 'file',
    size: 10,
    mtimeMs: 0,
    fingerprint: 'f',
    cachedBytes: cachedPercent === 100 ? 10 : 0,
    cachedPercent,
    pinned: false,
    persistence: 'PERSISTED',
    mount: '/',
  };
}

/** A 10-byte file's record, as MetadataSync.locate finds it (the stubs read path and size only). */
function located(path: string): Located {
  const record = { path, type: 'file', size: 10, mtimeMs: 0, fingerprint: 'f', syncedAtMs: 0 };
  return { path, record, resolved: {} } as unknown as Located;
}

/** Parts whose reads wait until released; `running`/`peak` count reads in flight. */
function gatedParts(overrides: Partial<JobBatchParts> = {}) {
  const gates = new Map<string, () => void>();
  const state = { running: 0, peak: 0, loaded: new Set<string>() };
  const parts: JobBatchParts = {
    status: async (p) => info(p, state.loaded.has(p) ? 100 : 0),
    list: async () => [],
    read: async (p, options) => {
      state.running++;
      state.peak = Math.max(state.peak, state.running);
      await new Promise<void>((resolve, reject) => {
        gates.set(p, resolve);
        options.signal?.addEventListener('abort', () => reject(new StrataError('CANCELLED', 'aborted')));
      });
      state.running--;
      if (p.endsWith('/boom')) throw new Error('disk on fire');
      options.onStoreBytes?.(10);
      state.loaded.add(p);
      return Readable.from([Buffer.alloc(10)]);
    },
    free: async () => ({ files: 0, bytes: 0 }),
    persister: { persistNow: async () => false, stagedBelow: () => [] },
    // A load reports the cached share from the file's record and the page store.
    sync: {
      locate: async (p) => located(p),
      cacheIdOf: (l) => l.path,
    },
    pages: {
      cachedPages: () => [],
      pageSize: 1024 * 1024,
      cachedBytes: (id) => (state.loaded.has(id) ? 10 : 0),
    },
    ...overrides,
  };
  return { parts, gates, state };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

test('at most `concurrency` paths run at once; results come back in request order', async () => {
  const { parts, gates, state } = gatedParts({ concurrency: 4 });
  const runner = new JobBatchRunner(parts);
  const paths = Array.from({ length: 10 }, (_, i) => `/f${i}`);
  const pending = runner.run({ op: 'load', paths });
  await until(() => gates.size === 4);
  assert.equal(state.running, 4);
  // Release from the last started backwards, so paths finish out of order.
  for (let released = 0; released < paths.length; ) {
    await until(() => state.running > 0 && gates.size > released);
    const open = [...gates.keys()].slice(released);
    for (const p of open.reverse()) gates.get(p)!();
    released += open.length;
  }
  const results = await pending;
  assert.deepEqual(
    results.map((r) => r.path),
    paths,
  );
  assert.ok(results.every((r) => 'outcome' in r && r.outcome === 'done' && r.storeBytesRead === 10));
  assert.equal(state.peak, 4, 'never more than the concurrency at once');
});

test("the default concurrency is DEFAULT_JOB_BATCH_CONCURRENCY; a thrown error is that path's INTERNAL result, not the batch's", async () => {
  const { parts, gates, state } = gatedParts();
  const runner = new JobBatchRunner(parts);
  const lanes = DEFAULT_JOB_BATCH_CONCURRENCY;
  const paths = [...Array.from({ length: lanes + 3 }, (_, i) => `/f${i}`), '/x/boom'];
  const pending = runner.run({ op: 'load', paths });
  await until(() => gates.size === lanes);
  assert.equal(state.running, lanes);
  while (gates.size < paths.length || state.running > 0) {
    for (const release of gates.values()) release();
    await new Promise((r) => setImmediate(r));
  }
  const results = await pending;
  assert.equal(state.peak, lanes);
  const last = results.at(-1)!;
  assert.ok('error' in last, 'the failing path has an error result');
  assert.deepEqual(last.error, { code: 'INTERNAL', message: 'disk on fire', retryable: false });
  assert.equal(results.filter((r) => 'outcome' in r).length, lanes + 3);
});

test('an aborted signal rejects the whole batch with CANCELLED', async () => {
  const { parts, gates } = gatedParts({ concurrency: 2 });
  const runner = new JobBatchRunner(parts);
  const controller = new AbortController();
  const pending = runner.run({ op: 'load', paths: ['/a', '/b', '/c'] }, { signal: controller.signal });
  await until(() => gates.size === 2);
  controller.abort();
  await assert.rejects(pending, (err: unknown) => isStrataError(err, 'CANCELLED'));
});

test('a load that leaves the file partly cached is a CACHE_FULL result', async () => {
  const { parts, gates } = gatedParts({
    pages: { cachedPages: () => [], pageSize: 1024 * 1024, cachedBytes: () => 4 },
  });
  const pending = new JobBatchRunner(parts).run({ op: 'load', paths: ['/a'] });
  await until(() => gates.size === 1);
  gates.get('/a')!();
  const [r] = await pending;
  assert.ok(r && 'error' in r);
  assert.equal(r.error.code, 'CACHE_FULL');
  assert.equal(r.error.retryable, true);
});

test('a load is done only once the pages it read are stored (puts never pile up behind a batch)', async () => {
  let release!: () => void;
  const stored = new Promise<void>((resolve) => {
    release = resolve;
  });
  let waited = false;
  const loaded = new Set<string>();
  const { parts } = gatedParts({
    pages: { cachedPages: () => [], pageSize: 1024 * 1024, cachedBytes: (id) => (loaded.has(id) ? 10 : 0) },
    read: async (p) => {
      loaded.add(p);
      return Object.assign(Readable.from([Buffer.alloc(10)]), {
        whenStored: async () => {
          waited = true;
          await stored;
        },
      });
    },
  });
  let settled = false;
  const run = new JobBatchRunner(parts).run({ op: 'load', paths: ['/a'] }).then((r) => {
    settled = true;
    return r;
  });
  await until(() => waited);
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'not done while its pages are being stored');
  release();
  const [result] = await run;
  assert.ok(result !== undefined && 'outcome' in result && result.outcome === 'done');
});
