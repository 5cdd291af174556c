import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import type { JobBatchCallOptions, JobBatchRequest, StrataFileSystem } from '../../src/core/file-system.js';
import { setQuiet } from '../../src/core/log.js';
import { submitJob } from '../../src/scheduler/engine.js';
import type { SchedulerJob } from '../../src/scheduler/job-record.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';
import { waitFor } from '../helpers/wait.js';

setQuiet(true);

/** A client whose loads (batch calls and per-file) wait until `open()` (the test holds jobs RUNNING without sleeping). */
function gated(fs: ClusterFileSystem): { fs: StrataFileSystem; open: () => void; started: () => number } {
  let release!: () => void;
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  let started = 0;
  const proxy = new Proxy(fs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'load') {
        return async (path: string, options?: object) => {
          started++;
          await gate;
          return target.load(path, options);
        };
      }
      if (prop === 'jobBatch') {
        return async (request: JobBatchRequest, options?: JobBatchCallOptions) => {
          started++;
          await gate;
          return target.jobBatch(request, options);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { fs: proxy, open: release, started: () => started };
}

describe('scheduler: leader loop over the registry', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-sched-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
    cluster = await workers.cluster();
    for (let t = 0; t < 4; t++) {
      const store = join(dir, 'store', `t${t}`);
      await mkdir(store, { recursive: true });
      for (let f = 0; f < 20; f++) await writeFile(join(store, `f${f}`), Buffer.alloc(100 + f, t));
    }
    await cluster.mount('/s', pathToFileURL(join(dir, 'store')).href);
    await workers.settle();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('runs at most maxRunning jobs, the rest wait PENDING in order; a stopped job stays RUNNING and a new scheduler finishes it', async () => {
    const { registry } = workers;
    const g = gated(cluster);
    const jobs: SchedulerJob[] = [];
    // Ids in submission order: jobs created in the same millisecond are taken by id.
    for (let t = 0; t < 3; t++)
      jobs.push(await submitJob(registry, cluster, { kind: 'load', path: `/s/t${t}`, id: `job-${t}` }));
    const state = async (id: string) => ((await registry.getJob(id)) as SchedulerJob).state;

    const first = new Scheduler(registry, g.fs, { maxRunning: 2, pollMs: 20 });
    await first.start();
    assert.equal(await registry.leader('scheduler'), first.id);
    await waitFor(async () => g.started() > 0 && (await state(jobs[1]!.id)) === 'RUNNING', {
      what: 'two jobs running',
      timeoutMs: 20_000,
      intervalMs: 10,
    });
    assert.equal(await state(jobs[0]!.id), 'RUNNING');
    assert.equal(await state(jobs[2]!.id), 'PENDING', 'the third waits: at most 2 at once');
    assert.deepEqual(first.runningIds().sort(), [jobs[0]!.id, jobs[1]!.id].sort());

    // Shutdown: engines stop, records stay RUNNING (resumable), the role is given up.
    const stopping = first.stop();
    g.open();
    await stopping;
    assert.equal(await state(jobs[0]!.id), 'RUNNING');
    assert.equal(await state(jobs[2]!.id), 'PENDING');
    assert.equal(await registry.leader('scheduler'), undefined);

    const second = new Scheduler(registry, cluster, { maxRunning: 2, pollMs: 20 });
    await second.start();
    try {
      for (const job of jobs) {
        await waitFor(async () => (await state(job.id)) === 'SUCCEEDED', {
          what: `job ${job.id} to succeed`,
          timeoutMs: 30_000,
          intervalMs: 20,
        });
        const end = (await registry.getJob(job.id)) as SchedulerJob;
        assert.equal(end.counters.doneFiles, 20);
        assert.equal(end.counters.listedFiles, 20);
      }
    } finally {
      await second.stop();
    }
  });
});
