import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import type { StrataFileSystem } from '../../src/core/file-system.js';
import { setQuiet } from '../../src/core/log.js';
import type { LeaderHandle, Registry } from '../../src/registry/registry.js';
import { submitJob } from '../../src/scheduler/engine.js';
import type { SchedulerJob } from '../../src/scheduler/job-record.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';
import { waitFor } from '../helpers/wait.js';

setQuiet(true);

/**
 * A registry whose campaigns can be lost on demand, as an etcd campaign is when its lease expires
 * (the embedded registry's never are). The test's processes-and-etcd twin is
 * test/e2e/scheduler-faults.test.ts (a revoked election lease).
 */
function losable(registry: Registry): { registry: Registry; lose: (id: string) => void } {
  const losers = new Map<string, (err: Error) => void>();
  const proxy = new Proxy(registry, {
    get(target, prop) {
      if (prop === 'campaign') {
        return async (role: string, id: string): Promise<LeaderHandle> => {
          const inner = await target.campaign(role, id);
          const lost = new Promise<Error>((ok) => losers.set(id, ok));
          return { elected: inner.elected, resign: () => inner.resign(), lost };
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    registry: proxy,
    lose: (id) => losers.get(id)?.(new Error(`the election lease of ${id} expired`)),
  };
}

/** Loads (per file or per owner batch) wait until `open()`. */
function gated(fs: ClusterFileSystem): { fs: StrataFileSystem; open: () => void; started: () => number } {
  let release!: () => void;
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  let started = 0;
  const proxy = new Proxy(fs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if ((prop === 'load' || prop === 'jobBatch') && typeof value === 'function') {
        return async (...args: unknown[]) => {
          started++;
          await gate;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { fs: proxy, open: release, started: () => started };
}

describe('scheduler: lost leadership', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-lead-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
    cluster = await workers.cluster();
    const store = join(dir, 'store', 't');
    await mkdir(store, { recursive: true });
    for (let f = 0; f < 20; f++) await writeFile(join(store, `f${f}`), Buffer.alloc(100 + f, 1));
    await cluster.mount('/s', pathToFileURL(join(dir, 'store')).href);
    await workers.settle();
  });
  after(async () => {
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a leader that loses its election stops its engines (the job stays RUNNING), the standby finishes it, and the old leader campaigns again', async () => {
    const { registry, lose } = losable(workers.registry);
    const g = gated(cluster);
    const job = await submitJob(registry, cluster, { kind: 'load', path: '/s/t', id: 'job-lead' });
    const seen: string[] = [];
    const a = new Scheduler(registry, g.fs, {
      id: 'A',
      pollMs: 20,
      onLeadership: (leader) => seen.push(`A ${leader}`),
    });
    const b = new Scheduler(registry, cluster, {
      id: 'B',
      pollMs: 20,
      onLeadership: (leader) => seen.push(`B ${leader}`),
    });
    await a.start();
    await b.start();
    try {
      await waitFor(() => g.started() > 0 && a.runningIds().includes(job.id), {
        what: 'A running the job',
        timeoutMs: 20_000,
      });
      assert.equal(a.isLeader(), true);
      assert.equal(b.isLeader(), false);
      assert.equal(await registry.leader('scheduler'), 'A');

      lose('A');
      await waitFor(() => !a.isLeader(), { what: 'A to step down' });
      // Its engine stops once the calls it has in flight return; the record is left RUNNING.
      g.open();
      await waitFor(() => b.isLeader(), { what: 'B to lead', timeoutMs: 20_000 });
      assert.deepEqual(a.runningIds(), []);
      await waitFor(async () => ((await registry.getJob(job.id)) as SchedulerJob).state === 'SUCCEEDED', {
        what: 'B to finish the job',
        timeoutMs: 30_000,
      });
      const end = (await registry.getJob(job.id)) as SchedulerJob;
      assert.equal(end.counters.doneFiles, 20, 'each file counted once');
      assert.equal(end.counters.listedFiles, 20);

      // A is a candidate again: it leads once B goes.
      await b.stop();
      await waitFor(() => a.isLeader(), { what: 'A to lead again' });
      assert.equal(await registry.leader('scheduler'), 'A');
      assert.deepEqual(seen, ['A true', 'A false', 'B true', 'B false', 'A true']);
    } finally {
      g.open();
      await a.stop();
      await b.stop();
    }
    assert.equal(a.isLeader(), false);
    assert.equal(await registry.leader('scheduler'), undefined);
  });

  test('a campaign that fails is tried again until it succeeds', async () => {
    let failures = 2;
    const flaky = new Proxy(workers.registry, {
      get(target, prop) {
        if (prop === 'campaign') {
          return async (role: string, id: string): Promise<LeaderHandle> => {
            const inner = await target.campaign(role, id);
            // The first campaigns "lose" their lease at once, as when etcd is unreachable.
            if (failures-- > 0) return { ...inner, lost: Promise.resolve(new Error('etcd unreachable')) };
            return inner;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const s = new Scheduler(flaky, cluster, { id: 'C', pollMs: 20 });
    await s.start();
    try {
      await waitFor(() => s.isLeader() && failures < 0, { what: 'C to lead after two lost campaigns' });
      assert.equal(await workers.registry.leader('scheduler'), 'C');
    } finally {
      await s.stop();
    }
    assert.equal(await workers.registry.leader('scheduler'), undefined);
  });
});
