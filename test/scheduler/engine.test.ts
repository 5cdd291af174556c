import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import { isStrataError } from '../../src/core/errors.js';
import type { JobBatchCallOptions, JobBatchRequest, StrataFileSystem } from '../../src/core/file-system.js';
import { setQuiet } from '../../src/core/log.js';
import { cancelJob, runJob, submitJob } from '../../src/scheduler/engine.js';
import { jobJson, MAX_RECORD_BYTES, recordBytes, type SchedulerJob } from '../../src/scheduler/job-record.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';

setQuiet(true);

/** 20 directories × (80 files + a subdirectory of 20): 2,000 files of 300–499 bytes. */
async function makeTree(
  root: string,
  dirs = 20,
  files = 80,
  nested = 20,
): Promise<{ files: string[]; bytes: number }> {
  const out: string[] = [];
  let bytes = 0;
  for (let d = 0; d < dirs; d++) {
    const dir = `d${String(d).padStart(2, '0')}`;
    await mkdir(join(root, dir, 'sub'), { recursive: true });
    const write = async (rel: string, i: number) => {
      const size = 300 + (i % 200);
      await writeFile(join(root, rel), Buffer.alloc(size, i % 251));
      out.push(rel);
      bytes += size;
    };
    for (let f = 0; f < files; f++) await write(`${dir}/f${String(f).padStart(3, '0')}`, d * 1000 + f);
    for (let f = 0; f < nested; f++)
      await write(`${dir}/sub/g${String(f).padStart(3, '0')}`, d * 1000 + 500 + f);
  }
  return { files: out, bytes };
}

async function storeReadBytes(workers: InProcessWorkers): Promise<number> {
  let sum = 0;
  for (const w of workers.workers) {
    for (const v of (await w.node.metrics.ufsReadBytes.get()).values) sum += v.value;
  }
  return sum;
}

/** Counts the loads each path gets, per-owner batch calls and per-file calls alike (delegates everything else). */
function countingLoads(fs: ClusterFileSystem): { fs: StrataFileSystem; loads: Map<string, number> } {
  const loads = new Map<string, number>();
  const count = (path: string) => loads.set(path, (loads.get(path) ?? 0) + 1);
  const proxy = new Proxy(fs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'load') {
        return (path: string, options?: object) => {
          count(path);
          return target.load(path, options);
        };
      }
      if (prop === 'jobBatch') {
        return (request: JobBatchRequest, options?: JobBatchCallOptions) => {
          if (request.op === 'load') for (const p of request.paths) count(p);
          return target.jobBatch(request, options);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { fs: proxy, loads };
}

async function cachedOnOwners(
  workers: InProcessWorkers,
  cluster: ClusterFileSystem,
  paths: string[],
): Promise<number[]> {
  const out: number[] = [];
  for (const p of paths) {
    const owner = cluster.location(p)[0]!.id;
    const node = workers.workers.find((w) => w.id === owner)!.node;
    out.push((await node.fs.status(p)).cachedPercent);
  }
  return out;
}

describe('scheduler: the job engine over 3 in-process workers', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  let mounts = 0;

  /** A fresh store with a tree, mounted at /m<N>. */
  async function mounted(shape?: [number, number, number], options: { syncIntervalMs?: number } = {}) {
    const point = `/m${++mounts}`;
    const store = join(dir, `store${mounts}`);
    await mkdir(store, { recursive: true });
    const tree = await makeTree(store, ...(shape ?? []));
    await cluster.mount(point, pathToFileURL(store).href, options);
    await workers.settle();
    return { point, store, paths: tree.files.map((f) => `${point}/${f}`), bytes: tree.bytes };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-jobs-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 3);
    cluster = await workers.cluster();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('load of 2,000 files ends SUCCEEDED: every file 100 % cached on its owner, each read from the store once', async () => {
    const { point, paths, bytes } = await mounted();
    const before = await storeReadBytes(workers);
    const job = await submitJob(workers.registry, cluster, { kind: 'load', path: point });
    assert.equal(job.state, 'PENDING');
    const batches: number[] = [];
    const listingDone: boolean[] = [];
    const end = await runJob(workers.registry, cluster, job.id, {
      batchSize: 100,
      onProgress: (j, b) => {
        batches.push(b);
        listingDone.push(jobJson(j).listingDone);
      },
    });
    // 2 batches in flight hold the listing back: it cannot have ended at the first batch.
    assert.equal(listingDone[0], false);
    assert.equal(listingDone.at(-1), true);
    assert.equal(jobJson(end).listingDone, true);
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    assert.equal(end.counters.doneFiles, paths.length);
    assert.equal(end.counters.listedFiles, paths.length);
    assert.equal(end.counters.doneBytes, bytes);
    assert.equal(end.counters.failedFiles, 0);
    assert.equal(batches.length, paths.length / 100, 'one progress write per batch');
    assert.equal((await storeReadBytes(workers)) - before, bytes, 'each file read from the store once');
    assert.deepEqual(new Set(await cachedOnOwners(workers, cluster, paths)), new Set([100]));
    const stored = (await workers.registry.getJob(job.id)) as SchedulerJob;
    assert.equal(stored.state, 'SUCCEEDED');
    assert.ok(
      recordBytes(stored) < 2048,
      `a finished 2,000-file job's record is small (${recordBytes(stored)} B)`,
    );

    // free drops them again; a second load with skipIfCached then skips nothing, a third skips all.
    const free = await submitJob(workers.registry, cluster, { kind: 'free', path: point });
    const freed = await runJob(workers.registry, cluster, free.id);
    assert.equal(freed.state, 'SUCCEEDED');
    assert.equal(freed.counters.doneFiles, paths.length);
    assert.deepEqual(new Set(await cachedOnOwners(workers, cluster, paths.slice(0, 200))), new Set([0]));
    const again = await submitJob(workers.registry, cluster, {
      kind: 'load',
      path: `${point}/d03`,
      options: { skipIfCached: true },
    });
    const ran = await runJob(workers.registry, cluster, again.id);
    assert.equal(ran.state, 'SUCCEEDED');
    assert.equal(ran.counters.doneFiles, 100);
    const skip = await submitJob(workers.registry, cluster, {
      kind: 'load',
      path: `${point}/d03`,
      options: { skipIfCached: true },
    });
    const skipped = await runJob(workers.registry, cluster, skip.id);
    assert.equal(skipped.state, 'SUCCEEDED');
    assert.equal(skipped.counters.skippedFiles, 100);
    assert.equal(skipped.counters.doneFiles, 0);
  });

  test('load with metadataOnly fetches statuses on the owners and reads no file bytes', async () => {
    const { point, paths } = await mounted([2, 20, 5]);
    const before = await storeReadBytes(workers);
    const job = await submitJob(workers.registry, cluster, {
      kind: 'load',
      path: point,
      options: { metadataOnly: true },
    });
    const end = await runJob(workers.registry, cluster, job.id, { batchSize: 16 });
    assert.equal(end.state, 'SUCCEEDED');
    assert.equal(end.counters.doneFiles, paths.length);
    assert.equal((await storeReadBytes(workers)) - before, 0);
    assert.deepEqual(new Set(await cachedOnOwners(workers, cluster, paths)), new Set([0]));
  });

  test('clear errors: a missing path, a path outside every mount, copy/move onto or into itself, a missing list, bad options and values', async () => {
    const { point } = await mounted([1, 2, 0]);
    const code = async (c: string, spec: Parameters<typeof submitJob>[2]) =>
      assert.rejects(submitJob(workers.registry, cluster, spec), (e) => isStrataError(e) && e.code === c);
    await code('NOT_FOUND', { kind: 'load', path: `${point}/nope` });
    await code('NOT_MOUNTED', { kind: 'load', path: '/no-mount-here/x' });
    for (const kind of ['copy', 'move']) {
      await code('NOT_MOUNTED', { kind, path: point, dst: '/elsewhere' });
      await code('INVALID_ARGUMENT', { kind, path: point, dst: point });
      await code('INVALID_ARGUMENT', { kind, path: point, dst: `${point}/inside` });
      await code('INVALID_ARGUMENT', { kind, path: point });
    }
    await code('NOT_FOUND', { kind: 'load', path: point, fromList: `${point}/list.txt` });
    await code('INVALID_ARGUMENT', { kind: 'copy', path: point, dst: '/x', fromList: `${point}/list.txt` });
    await code('INVALID_ARGUMENT', { kind: 'load', path: point, dst: `${point}-copy` });
    for (const replicas of [0, 1.5, -1])
      await code('INVALID_ARGUMENT', { kind: 'load', path: point, options: { replicas } });
    await code('INVALID_ARGUMENT', { kind: 'load', path: point, options: { bandwidth: -1 } });
    await code('INVALID_ARGUMENT', { kind: 'free', path: point, options: { replicas: 2 } });
    await code('INVALID_ARGUMENT', {
      kind: 'load',
      path: point,
      options: { verify: true, metadataOnly: true },
    });
    await code('INVALID_ARGUMENT', { kind: 'load', path: point, options: { bogus: true } });
    await code('INVALID_ARGUMENT', { kind: 'load', path: point, options: { skipIfCached: 'yes' } });
    await code('INVALID_ARGUMENT', { kind: 'nuke', path: point });
    // A load and a free on overlapping paths conflict while the first is unfinished.
    await submitJob(workers.registry, cluster, { kind: 'load', path: point, id: 'held' });
    await code('ALREADY_EXISTS', { kind: 'free', path: `${point}/d00` });
    await code('ALREADY_EXISTS', { kind: 'load', path: point, id: 'held' });
    await cancelJob(workers.registry, 'held');
    await submitJob(workers.registry, cluster, { kind: 'free', path: `${point}/d00` });
  });

  test('a file that vanishes during the job is a listed failure; the job completes', async () => {
    const { point, store, paths } = await mounted([2, 10, 0], { syncIntervalMs: 0 });
    /** The cluster client, except that `file` goes from the store right after `dir` was listed. */
    const vanishing = (dir: string, file: string): StrataFileSystem => {
      let removed = false;
      return new Proxy(cluster, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop === 'list') {
            return async (path: string, options?: object) => {
              const entries = await target.list(path, options);
              if (path === `${point}/${dir}` && !removed) {
                removed = true;
                await unlink(join(store, dir, file));
              }
              return entries;
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    };
    const fs = vanishing('d01', 'f004');
    const job = await submitJob(workers.registry, fs, { kind: 'load', path: point });
    const end = await runJob(workers.registry, fs, job.id, { batchSize: 4 });
    assert.equal(end.state, 'COMPLETED_WITH_FAILURES');
    assert.equal(end.counters.failedFiles, 1);
    assert.equal(end.counters.doneFiles, paths.length - 1);
    assert.deepEqual(
      end.failures.map((f) => [f.path, f.code]),
      [[`${point}/d01/f004`, 'NOT_FOUND']],
    );
    // Past the failure ratio (here 0) the job is FAILED, the failure still listed.
    const strictFs = vanishing('d00', 'f007');
    const strict = await submitJob(workers.registry, strictFs, { kind: 'load', path: `${point}/d00` });
    const failed = await runJob(workers.registry, strictFs, strict.id, { failureRatio: 0 });
    assert.equal(failed.state, 'FAILED');
    assert.deepEqual(
      failed.failures.map((f) => [f.path, f.code]),
      [[`${point}/d00/f007`, 'NOT_FOUND']],
    );
  });

  test('cancel: through the signal, and through the registry (cancelJob), new work stops, the job ends CANCELLED', async () => {
    const { point, paths } = await mounted([4, 50, 0]);
    const abort = new AbortController();
    const job = await submitJob(workers.registry, cluster, { kind: 'load', path: point });
    const end = await runJob(workers.registry, cluster, job.id, {
      batchSize: 10,
      onProgress: (_j, b) => {
        if (b === 2) abort.abort();
      },
      signal: abort.signal,
    });
    assert.equal(end.state, 'CANCELLED');
    assert.ok(end.counters.doneFiles < paths.length / 2, `stopped early (${end.counters.doneFiles})`);
    assert.equal(((await workers.registry.getJob(job.id)) as SchedulerJob).state, 'CANCELLED');
    // A cancelled job is final: running it again does nothing.
    assert.equal((await runJob(workers.registry, cluster, job.id)).state, 'CANCELLED');

    const other = await submitJob(workers.registry, cluster, { kind: 'free', path: point });
    let cancelled: Promise<unknown> | undefined;
    const ended = await runJob(workers.registry, cluster, other.id, {
      batchSize: 10,
      onProgress: (_j, b) => {
        if (b === 2) cancelled = cancelJob(workers.registry, other.id);
      },
    });
    await cancelled;
    assert.equal(ended.state, 'CANCELLED');
    assert.ok(ended.counters.doneFiles < paths.length / 2);
  });

  test('resume: a second engine continues from the cursor, without re-listing or re-reading what was done', async () => {
    const { point, paths, bytes } = await mounted();
    const before = await storeReadBytes(workers);
    const counted = countingLoads(cluster);
    const batchSize = 50;
    const concurrency = 2;
    const job = await submitJob(workers.registry, cluster, { kind: 'load', path: point });
    const stop = new AbortController();
    const sizes: number[] = [];
    const first = await runJob(workers.registry, counted.fs, job.id, {
      batchSize,
      concurrency,
      stop: stop.signal,
      onProgress: (j, b) => {
        sizes.push(recordBytes(j));
        if (b === 7) stop.abort();
      },
    });
    assert.equal(first.state, 'RUNNING', 'a stopped engine leaves the job to another');
    assert.ok(first.cursor.after !== undefined);
    const doneFirst = first.counters.doneFiles;
    assert.ok(doneFirst >= 6 * batchSize && doneFirst < paths.length, `first engine did ${doneFirst}`);

    const listed: string[] = [];
    const resumedFs = new Proxy(counted.fs, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === 'list') {
          return (path: string, options?: object) => {
            listed.push(path);
            return target.list(path, options);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const end = await runJob(workers.registry, resumedFs, job.id, {
      batchSize,
      concurrency,
      onProgress: (j) => sizes.push(recordBytes(j)),
    });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end.failures));
    assert.equal(end.counters.doneFiles, paths.length, 'each file counted once');
    assert.equal(end.counters.listedFiles, paths.length);
    // Directories wholly before the cursor are not listed again (only the cursor's ancestors are).
    const doneDirs = new Set(paths.slice(0, doneFirst).map((p) => p.slice(0, p.lastIndexOf('/'))));
    const relisted = listed.filter(
      (d) => doneDirs.has(d) && d !== first.cursor.after!.slice(0, first.cursor.after!.lastIndexOf('/')),
    );
    assert.ok(relisted.length <= 1, `re-listed ${relisted.join(', ')}`);
    // Loaded again: at most the batches that were in flight when the first engine stopped.
    const extraLoads = [...counted.loads.values()].reduce((s, n) => s + n, 0) - paths.length;
    assert.ok(
      extraLoads >= 0 && extraLoads <= concurrency * batchSize,
      `${extraLoads} loads beyond one per file`,
    );
    assert.equal(counted.loads.size, paths.length, 'every file loaded');
    const read = (await storeReadBytes(workers)) - before;
    assert.ok(
      read >= bytes && read <= bytes + concurrency * batchSize * 500,
      `store read ${read} B for ${bytes} B`,
    );
    assert.deepEqual(new Set(await cachedOnOwners(workers, cluster, paths)), new Set([100]));
    assert.ok(Math.max(...sizes) < MAX_RECORD_BYTES, `record at most ${Math.max(...sizes)} B`);
    assert.ok(Math.max(...sizes) < 4096, 'a running job without failures stays a few hundred bytes');
  });
});
