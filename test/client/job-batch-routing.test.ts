import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import { isStrataError } from '../../src/core/errors.js';
import type { JobBatchResult } from '../../src/core/file-system.js';
import { setQuiet } from '../../src/core/log.js';
import { patternBytes } from '../../src/core/pattern-bytes.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * ClusterFileSystem.jobBatch over three in-process workers: a batch runs on the one worker it
 * is sent to — a secondary owner when asked (what `load --replicas N` does), the primary owner
 * of its first path otherwise — and an unknown or dead worker is UNAVAILABLE.
 */

setQuiet(true);

type Done = Extract<JobBatchResult, { outcome: unknown }>;

function done(r: JobBatchResult | undefined): Done {
  assert.ok(r !== undefined && 'outcome' in r, `expected a done result, got ${JSON.stringify(r)}`);
  return r;
}

async function expectCode(code: string, fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isStrataError(err), `expected a StrataError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('ClusterFileSystem.jobBatch routing (3 in-process workers)', () => {
  let dir: string;
  let store: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  const remotes = new Map<string, RemoteFileSystem>();

  /** The worker's own client (its RPC), to ask it what it holds. */
  const on = (id: string): RemoteFileSystem => {
    const w = workers.workers.find((x) => x.id === id);
    assert.ok(w, `no worker ${id}`);
    let r = remotes.get(id);
    if (!r) {
      r = new RemoteFileSystem(w.address, { token: workers.token });
      remotes.set(id, r);
    }
    return r;
  };

  /** Cached bytes of `path` on each worker, by id. */
  const cachedOn = async (path: string): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const w of workers.workers) {
      const st = await on(w.id).status(path);
      out[w.id] = (await on(w.id).cachedBytesOf([{ path, fingerprint: st.fingerprint }]))[0]!;
    }
    return out;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-jobbatch-'));
    store = join(dir, 'store');
    await mkdir(store, { recursive: true });
    for (let i = 0; i < 12; i++) await writeFile(join(store, `f${i}.bin`), patternBytes(300_000 + i, i));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 3);
    cluster = await workers.cluster();
    await cluster.mount('/d', pathToFileURL(store).href);
    await workers.settle();
  });

  after(async () => {
    for (const r of remotes.values()) await r.close();
    await workers?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a batch sent to the second owner caches there only, and that worker says so', async () => {
    const p = '/d/f0.bin';
    const owners = cluster.location(p);
    assert.equal(owners.length, 3, 'three owners with three workers');
    const second = owners[1]!.id;
    const r = done((await cluster.jobBatch({ op: 'load', paths: [p] }, { worker: second }))[0]);
    assert.deepEqual([r.outcome, r.cachedPercent, r.storeBytesRead], ['done', 100, 300_000]);
    const cached = await cachedOn(p);
    assert.equal(cached[second], 300_000, 'cached on the worker asked');
    assert.equal(cached[owners[0]!.id], 0, 'not on the primary');
    assert.equal(cached[owners[2]!.id], 0, 'not on the third owner');
    assert.equal((await on(second).status(p)).cachedPercent, 100, 'status through that worker');

    // Both replicas: then the primary's figures (what the cluster client shows) say 100 % too.
    done((await cluster.jobBatch({ op: 'load', paths: [p] }, { worker: owners[0]!.id }))[0]);
    assert.equal((await cluster.status(p)).cachedPercent, 100);
    assert.equal((await cachedOn(p))[owners[2]!.id], 0);
    // Free on the second owner only.
    const freed = done((await cluster.jobBatch({ op: 'free', paths: [p] }, { worker: second }))[0]);
    assert.equal(freed.cachedPercent, 0);
    const left = await cachedOn(p);
    assert.deepEqual([left[owners[0]!.id], left[second]], [300_000, 0]);
  });

  test('without a worker the batch goes to the primary owner of its first path, whole', async () => {
    const paths = Array.from({ length: 10 }, (_, i) => `/d/f${i + 1}.bin`);
    const primary = cluster.location(paths[0]!)[0]!.id;
    assert.ok(
      paths.some((p) => cluster.location(p)[0]!.id !== primary),
      'the batch holds paths of other primaries too',
    );
    const results = await cluster.jobBatch({ op: 'load', paths });
    assert.deepEqual(
      results.map((r) => done(r).cachedPercent),
      paths.map(() => 100),
    );
    for (const [i, p] of paths.entries()) {
      const cached = await cachedOn(p);
      assert.equal(cached[primary], 300_000 + i + 1, `${p} on the first path's primary`);
      const elsewhere = Object.entries(cached).filter(([id, n]) => id !== primary && n > 0);
      assert.deepEqual(elsewhere, [], `${p} cached nowhere else`);
    }
  });

  test('an unknown worker id, or a registered worker that does not answer, is UNAVAILABLE', async () => {
    await expectCode('UNAVAILABLE', () =>
      cluster.jobBatch({ op: 'load', paths: ['/d/f11.bin'] }, { worker: 'no-such-worker' }),
    );
    await expectCode('INVALID_ARGUMENT', () =>
      cluster.jobBatch({ op: 'zap' as 'load', paths: [] }, { worker: 'no-such-worker' }),
    );
    // A worker on the ring whose address refuses connections (it died; its lease not yet expired).
    const ghost = await workers.registry.registerWorker({
      id: 'ghost',
      address: 'http://127.0.0.1:9',
      capacityBytes: 1024 ** 3,
      state: 'ACTIVE',
      version: 'test',
      startedAtMs: Date.now(),
    });
    try {
      await waitFor(async () => cluster.liveWorkers().some((w) => w.id === 'ghost'), {
        what: 'the client sees the ghost worker',
        timeoutMs: 10_000,
      });
      await expectCode('UNAVAILABLE', () =>
        cluster.jobBatch({ op: 'load', paths: ['/d/f11.bin'] }, { worker: 'ghost' }),
      );
      const cached = await cachedOn('/d/f11.bin');
      assert.deepEqual(Object.values(cached), [0, 0, 0], 'nothing was loaded anywhere instead');
    } finally {
      await ghost.close();
    }
  });
});
