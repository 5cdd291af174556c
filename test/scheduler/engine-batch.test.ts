import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry as PromRegistry } from 'prom-client';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { StrataError } from '../../src/core/errors.js';
import { setQuiet } from '../../src/core/log.js';
import { runJob, submitJob } from '../../src/scheduler/engine.js';
import { jobJson } from '../../src/scheduler/job-record.js';
import { JobMetrics } from '../../src/scheduler/metrics.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';
import { withJobBatch } from './batch-adapter.js';

setQuiet(true);

describe('scheduler: the engine over per-owner batch calls (3 in-process workers)', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  let mounts = 0;

  /** A fresh store of `dirs` × `files` files (1,000–1,999 bytes) mounted at /b<N>. */
  async function mounted(dirs: number, files: number) {
    const point = `/b${++mounts}`;
    const store = join(dir, `store${mounts}`);
    const paths: string[] = [];
    let bytes = 0;
    for (let d = 0; d < dirs; d++) {
      await mkdir(join(store, `d${d}`), { recursive: true });
      for (let f = 0; f < files; f++) {
        const size = 1000 + ((d * files + f) % 1000);
        await writeFile(join(store, `d${d}`, `f${String(f).padStart(3, '0')}`), Buffer.alloc(size, f % 251));
        paths.push(`${point}/d${d}/f${String(f).padStart(3, '0')}`);
        bytes += size;
      }
    }
    await cluster.mount(point, pathToFileURL(store).href);
    await workers.settle();
    return { point, paths, bytes };
  }

  const cachedOn = async (worker: string, path: string) =>
    (await workers.workers.find((w) => w.id === worker)!.node.fs.status(path)).cachedPercent;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-jobs-batch-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 3);
    cluster = await workers.cluster();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('each batch goes to the owners as one call per owner; every path of a call is owned by the worker it went to', async () => {
    const { point, paths, bytes } = await mounted(3, 200);
    const { fs, calls } = withJobBatch(workers, cluster, { real: true });
    const prom = new PromRegistry();
    const metrics = new JobMetrics(prom);
    const job = await submitJob(workers.registry, fs, { kind: 'load', path: point });
    const end = await runJob(workers.registry, fs, job.id, { batchSize: 100, metrics });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    assert.equal(end.counters.doneFiles, paths.length);
    assert.equal(end.counters.doneBytes, bytes);
    // 6 batches of 100; each split by primary owner, one call per (batch, owner).
    const owners = new Set(workers.workers.map((w) => w.id));
    for (const c of calls) {
      assert.equal(c.op, 'load');
      assert.ok(owners.has(c.worker));
      for (const p of c.paths) assert.equal(cluster.location(p)[0]!.id, c.worker, `${p} sent to ${c.worker}`);
    }
    let expected = 0;
    for (let b = 0; b < paths.length; b += 100)
      expected += new Set(paths.slice(b, b + 100).map((p) => cluster.location(p)[0]!.id)).size;
    assert.equal(calls.length, expected, 'one call per owner per batch, no per-file calls');
    assert.equal(new Set(calls.flatMap((c) => c.paths)).size, paths.length, 'every path sent once');
    assert.equal(calls.flatMap((c) => c.paths).length, paths.length);
    for (const p of paths) assert.equal(await cachedOn(cluster.location(p)[0]!.id, p), 100);
    // Metrics: files and bytes processed, by kind and outcome.
    const text = await prom.metrics();
    assert.match(
      text,
      new RegExp(`strata_job_files_processed_total\\{kind="load",outcome="done"\\} ${paths.length}\\b`),
    );
    assert.match(text, new RegExp(`strata_job_bytes_processed_total\\{kind="load"\\} ${bytes}\\b`));
  });

  test('replicas 2: both owners hold every file; replicas 5 over 3 workers: cached on all 3, and the job says so', async () => {
    const { point, paths } = await mounted(2, 30);
    const { fs, calls } = withJobBatch(workers, cluster, { real: true });
    const two = await submitJob(workers.registry, fs, {
      kind: 'load',
      path: point,
      options: { replicas: 2 },
    });
    const end = await runJob(workers.registry, fs, two.id, { batchSize: 16 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    assert.equal(end.counters.doneFiles, paths.length, 'a file counts once, whatever its copies');
    for (const p of paths) {
      const [first, second, third] = cluster.location(p);
      assert.equal(await cachedOn(first!.id, p), 100);
      assert.equal(await cachedOn(second!.id, p), 100);
      assert.equal(await cachedOn(third!.id, p), 0, 'not on the third owner');
    }
    // The second copy went to the second owner, named in the call.
    for (const c of calls)
      for (const p of c.paths)
        assert.ok(
          cluster
            .location(p)
            .slice(0, 2)
            .some((w) => w.id === c.worker),
        );
    assert.equal(jobJson(end).notes, undefined);

    const five = await submitJob(workers.registry, fs, {
      kind: 'load',
      path: `${point}/d1`,
      options: { replicas: 5, skipIfCached: true },
    });
    const all = await runJob(workers.registry, fs, five.id);
    assert.equal(all.state, 'SUCCEEDED');
    assert.equal(all.counters.doneFiles, 30, 'the third copy was new work: done, not skipped');
    assert.deepEqual(jobJson(all).notes, ['replicas 5 asked, 3 live workers: cached on 3']);
    for (const p of paths.slice(30))
      for (const w of workers.workers) assert.equal(await cachedOn(w.id, p), 100);
  });

  test('a worker that fails a whole call (UNAVAILABLE) has its paths re-sent to the new owners once the ring drops it', async () => {
    const { point, paths } = await mounted(1, 60);
    let ghostAlive = true;
    let ghostCalls = 0;
    const { fs, calls } = withJobBatch(workers, cluster, {
      // Until its lease "expires", a dead worker 'ghost' is the primary owner of every path.
      location: (_p, real) => (ghostAlive ? [{ id: 'ghost', address: 'http://127.0.0.1:9' }, ...real] : real),
      beforeCall: (c) => {
        if (c.worker !== 'ghost') return;
        if (++ghostCalls >= 2) ghostAlive = false;
        throw new StrataError('UNAVAILABLE', 'connect ECONNREFUSED');
      },
      // And one path fails once with a retryable error, one for good.
      pathError: (p) => {
        if (p.endsWith('/f010') && !seen.has(p)) {
          seen.add(p);
          return new StrataError('TIMEOUT', 'slow store');
        }
        if (p.endsWith('/f020')) return new StrataError('NOT_FOUND', 'gone');
        return undefined;
      },
    });
    const seen = new Set<string>();
    const job = await submitJob(workers.registry, fs, { kind: 'load', path: point });
    const end = await runJob(workers.registry, fs, job.id, { batchSize: 64, backoffMs: 5 });
    assert.equal(end.state, 'COMPLETED_WITH_FAILURES', JSON.stringify(end.failures));
    assert.deepEqual(
      end.failures.map((f) => [f.path, f.code]),
      [[`${point}/d0/f020`, 'NOT_FOUND']],
    );
    assert.equal(end.counters.doneFiles, paths.length - 1);
    assert.ok(ghostCalls >= 2, 'the dead worker was tried');
    for (const p of paths.filter((q) => !q.endsWith('/f020')))
      assert.equal(await cachedOn(cluster.location(p)[0]!.id, p), 100, `${p} on its live owner`);
    assert.ok(
      calls.some((c) => c.worker !== 'ghost' && c.paths.length > 1),
      're-grouped to the live owners',
    );
  });

  test('verify passes through and repaired pages are summed; done only with every page cached (else CACHE_FULL)', async () => {
    const { point, paths } = await mounted(1, 20);
    const { fs, calls } = withJobBatch(workers, cluster, { repaired: (p) => (p.endsWith('/f003') ? 2 : 0) });
    const job = await submitJob(workers.registry, fs, {
      kind: 'load',
      path: point,
      options: { verify: true },
    });
    const end = await runJob(workers.registry, fs, job.id);
    assert.equal(end.state, 'SUCCEEDED');
    assert.ok(calls.every((c) => c.options?.verify === true));
    assert.equal(jobJson(end).pagesRepaired, 2);
    assert.equal(end.counters.doneFiles, paths.length);

    // A batch answer "done" with less than 100 % cached is not believed.
    const partial = withJobBatch(workers, cluster);
    const lying = new Proxy(partial.fs, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== 'jobBatch') return value;
        return async (...args: Parameters<typeof value>) =>
          (await value(...args)).map((r: { path: string }) =>
            r.path.endsWith('/f005') ? { ...r, cachedPercent: 57 } : r,
          );
      },
    });
    const again = await submitJob(workers.registry, lying, { kind: 'load', path: point });
    const ended = await runJob(workers.registry, lying, again.id);
    assert.equal(ended.state, 'COMPLETED_WITH_FAILURES');
    assert.deepEqual(
      ended.failures.map((f) => [f.path, f.code]),
      [[`${point}/d0/f005`, 'CACHE_FULL']],
    );
  });

  test('without a batch call: verify, replicas and persist end FAILED with UNSUPPORTED (never a lie); an empty tree with verify is SUCCEEDED with 0 files', async () => {
    const { point } = await mounted(1, 3);
    // A routing client without the batch call (one older than it): the per-file fallback.
    const plain = new Proxy(cluster, {
      get(target, prop) {
        if (prop === 'jobBatch') return undefined;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    for (const [kind, options] of [
      ['load', { verify: true }],
      ['load', { replicas: 2 }],
      ['persist', {}],
    ] as const) {
      const job = await submitJob(workers.registry, plain, { kind, path: point, options });
      const end = await runJob(workers.registry, plain, job.id);
      assert.equal(end.state, 'FAILED', `${kind} ${JSON.stringify(options)}`);
      assert.equal(end.error?.code, 'UNSUPPORTED');
      assert.equal(end.counters.doneFiles, 0);
    }
    const empty = join(dir, 'empty');
    await mkdir(join(empty, 'nothing'), { recursive: true });
    await cluster.mount('/empty', pathToFileURL(empty).href);
    await workers.settle();
    const { fs } = withJobBatch(workers, cluster);
    const job = await submitJob(workers.registry, fs, {
      kind: 'load',
      path: '/empty',
      options: { verify: true },
    });
    const end = await runJob(workers.registry, fs, job.id);
    assert.equal(end.state, 'SUCCEEDED');
    assert.equal(jobJson(end).filesTotal, 0);
    assert.equal(jobJson(end).filesDone, 0);
  });
});
