import assert from 'node:assert/strict';
import type { MountRecord } from '../core/mounts.js';
import { S3_USERS_CONTRACT } from './contract-s3-users.js';
import { Snapshots } from './contract-snapshots.js';
import type { Registry, WorkerInfo } from './registry.js';

/**
 * The one registry contract suite: every Registry implementation runs these cases
 * (test/registry/registry.test.ts runs them on `embedded` and on a real etcd). Each case gets a
 * fresh, empty registry from the caller.
 */

export interface RegistryContractContext {
  readonly registry: Registry;
  /**
   * Registers `info` with a lease of `leaseTtlMs` whose owner then dies without closing it (etcd:
   * a child process killed with SIGKILL; embedded: the keepalive timer stopped).
   */
  crashWorker(info: WorkerInfo, leaseTtlMs: number): Promise<void>;
  /** A second registry object on the same state (new client / reopened files). */
  reopen(): Promise<Registry>;
  /** Receives measured figures (ms), e.g. lease expiry detection and watch latency. */
  measure?(metric: string, ms: number): void;
}

export interface RegistryContractCase {
  readonly name: string;
  run(ctx: RegistryContractContext): Promise<void>;
}

/** TTL of the crash case: short to keep the suite fast (etcd's minimum is about 2 s). */
export const CONTRACT_LEASE_TTL_MS = 2000;
/** Slack over the TTL for the registry to notice an expired lease. */
export const EXPIRY_MARGIN_MS = 3000;

export function workerInfo(id: string, overrides: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    id,
    address: `http://127.0.0.1:${20000 + (hash(id) % 10000)}`,
    capacityBytes: 1 << 30,
    state: 'ACTIVE',
    version: '0.1.0',
    startedAtMs: 1_700_000_000_000,
    ...overrides,
  };
}

function mountRecord(path: string, uri: string, options: Record<string, string> = {}): MountRecord {
  return { path, uri, readOnly: false, syncIntervalMs: -1, writeType: 'CACHE_THROUGH', options };
}

const ids = (workers: WorkerInfo[]): string[] => workers.map((w) => w.id);

export const REGISTRY_CONTRACT: readonly RegistryContractCase[] = [
  {
    name: 'register, list, update and close workers',
    async run({ registry }) {
      assert.deepEqual(await registry.listWorkers(), []);
      const a = workerInfo('w-a');
      const b = workerInfo('w-b', { capacityBytes: 5 });
      const ra = await registry.registerWorker(a);
      const rb = await registry.registerWorker(b);
      assert.deepEqual(await registry.listWorkers(), [a, b]);
      await ra.update({ state: 'DRAINING' });
      assert.deepEqual(await registry.listWorkers(), [{ ...a, state: 'DRAINING' }, b]);
      await ra.update({ capacityBytes: 42 });
      assert.deepEqual((await registry.listWorkers())[0], { ...a, state: 'DRAINING', capacityBytes: 42 });
      await ra.close();
      assert.deepEqual(await registry.listWorkers(), [b]);
      await ra.close(); // idempotent
      await assert.rejects(ra.update({ state: 'ACTIVE' }), { code: 'UNAVAILABLE' });
      await rb.close();
      assert.deepEqual(await registry.listWorkers(), []);
    },
  },
  {
    name: 'a worker whose keepalive stops disappears within the TTL plus a margin',
    async run({ registry, crashWorker, measure }) {
      const survivor = await registry.registerWorker(workerInfo('w-live'), {
        leaseTtlMs: CONTRACT_LEASE_TTL_MS,
      });
      const dead = workerInfo('w-dead');
      await crashWorker(dead, CONTRACT_LEASE_TTL_MS);
      const t0 = performance.now();
      assert.deepEqual(ids(await registry.listWorkers()), ['w-dead', 'w-live']);
      const deadline = t0 + CONTRACT_LEASE_TTL_MS + EXPIRY_MARGIN_MS;
      let gone = false;
      while (performance.now() < deadline) {
        if (!ids(await registry.listWorkers()).includes('w-dead')) {
          gone = true;
          break;
        }
        await sleep(50);
      }
      const elapsed = performance.now() - t0;
      assert.ok(gone, `w-dead still listed ${Math.round(elapsed)} ms after its keepalive stopped`);
      measure?.('lease expiry detected after crash (ms, TTL 2000)', elapsed);
      // The live worker, registered with the same TTL before the dead one, keeps its lease: expiry
      // is the keepalive stopping, not the clock running out for everyone.
      assert.deepEqual(ids(await registry.listWorkers()), ['w-live']);
      await survivor.close();
    },
  },
  {
    name: 'watchWorkers sees join, update and leave as full snapshots',
    async run({ registry, measure }) {
      const keep = await registry.registerWorker(workerInfo('w-0'));
      const snaps = new Snapshots<WorkerInfo>();
      const unwatch = await registry.watchWorkers(snaps.push);
      await snaps.next('the initial list is w-0', (ws) => ids(ws).join() === 'w-0');
      let t = performance.now();
      const reg = await registry.registerWorker(workerInfo('w-1'));
      let at = await snaps.next('w-1 joined', (ws) => ids(ws).join() === 'w-0,w-1');
      measure?.('watch latency, register to callback (ms)', at - t);
      t = performance.now();
      await reg.update({ state: 'DRAINING' });
      at = await snaps.next('w-1 is DRAINING', (ws) => ws.find((w) => w.id === 'w-1')?.state === 'DRAINING');
      measure?.('watch latency, update to callback (ms)', at - t);
      assert.deepEqual(snaps.last, [workerInfo('w-0'), workerInfo('w-1', { state: 'DRAINING' })]);
      t = performance.now();
      await reg.close();
      at = await snaps.next('w-1 left', (ws) => ids(ws).join() === 'w-0');
      measure?.('watch latency, close to callback (ms)', at - t);
      // Every snapshot is a whole list, never a delta.
      for (const s of snaps.seen) assert.ok(ids(s.items).includes('w-0'), 'a snapshot lacks w-0');
      unwatch();
      const count = snaps.seen.length;
      // A second watcher seeing w-2 join is the positive signal that the change was delivered:
      // the unwatched one, had it still been subscribed, would have been called for it too.
      const witness = new Snapshots<WorkerInfo>();
      const unwatchWitness = await registry.watchWorkers(witness.push);
      const late = await registry.registerWorker(workerInfo('w-2'));
      await witness.next('w-2 joined (witness)', (ws) => ids(ws).includes('w-2'));
      unwatchWitness();
      assert.equal(snaps.seen.length, count, 'a callback arrived after unwatch');
      await late.close();
      await keep.close();
    },
  },
  {
    name: 'mounts: save, load, overwrite, delete and watch (secrets stored as given)',
    async run({ registry }) {
      assert.deepEqual(await registry.loadMounts(), []);
      const snaps = new Snapshots<MountRecord>();
      const unwatch = await registry.watchMounts(snaps.push);
      await snaps.next('the initial table is empty', (ms) => ms.length === 0);
      const secret = { accessKeyId: 'AKIA-TEST', secretAccessKey: 's3cr3t/with=chars', region: 'x' };
      const s3 = mountRecord('/data/s3', 's3://bucket/prefix', secret);
      const root = mountRecord('/', 'file:///srv/data');
      const nested = mountRecord('/data/s3/deeper', 'https://example.test/base');
      await registry.saveMount(s3);
      await registry.saveMount(root);
      await registry.saveMount(nested);
      assert.deepEqual(await registry.loadMounts(), [root, s3, nested]);
      assert.deepEqual((await registry.loadMounts())[1]?.options, secret);
      await snaps.next('three mounts', (ms) => ms.length === 3);
      const ro = { ...s3, readOnly: true, syncIntervalMs: 60_000 };
      await registry.saveMount(ro);
      assert.deepEqual(await registry.loadMounts(), [root, ro, nested]);
      await snaps.next('/data/s3 became read-only', (ms) =>
        ms.some((m) => m.path === '/data/s3' && m.readOnly),
      );
      await registry.deleteMount('/data/s3');
      await registry.deleteMount('/not/mounted'); // no-op
      assert.deepEqual(await registry.loadMounts(), [root, nested]);
      await snaps.next('/data/s3 deleted', (ms) => ms.map((m) => m.path).join() === '/,/data/s3/deeper');
      unwatch();
    },
  },
  {
    name: 'config get and set',
    async run({ registry }) {
      assert.equal(await registry.getConfig('page.size'), undefined);
      await registry.setConfig('page.size', '1MiB');
      await registry.setConfig('a/b c', 'x=y');
      assert.equal(await registry.getConfig('page.size'), '1MiB');
      assert.equal(await registry.getConfig('a/b c'), 'x=y');
      await registry.setConfig('page.size', '4MiB');
      assert.equal(await registry.getConfig('page.size'), '4MiB');
      await registry.setConfig('empty', '');
      assert.equal(await registry.getConfig('empty'), '');
      // initConfig: first writer wins, everyone reads the same value.
      const raced = await Promise.all(['a', 'b', 'c'].map((v) => registry.initConfig('cluster.token', v)));
      assert.equal(new Set(raced).size, 1);
      assert.equal(await registry.getConfig('cluster.token'), raced[0]);
      assert.equal(await registry.initConfig('page.size', 'ignored'), '4MiB');
    },
  },
  {
    name: 'jobs put, get and list',
    async run({ registry }) {
      assert.equal(await registry.getJob('j1'), undefined);
      assert.deepEqual(await registry.listJobs(), []);
      const j1 = {
        id: 'j1',
        kind: 'load',
        state: 'RUNNING',
        path: '/data',
        progress: { done: 1, total: 10 },
      };
      const j2 = { id: 'j2', kind: 'free', state: 'PENDING' };
      await registry.putJob(j2);
      await registry.putJob(j1);
      assert.deepEqual(await registry.getJob('j1'), j1);
      assert.deepEqual(await registry.listJobs(), [j1, j2]);
      const done = { ...j1, state: 'SUCCEEDED', progress: { done: 10, total: 10 } };
      await registry.putJob(done);
      assert.deepEqual(await registry.getJob('j1'), done);
      assert.deepEqual(
        (await registry.listJobs()).map((j) => j.state),
        ['SUCCEEDED', 'PENDING'],
      );
    },
  },
  {
    name: 'jobs compare-and-set: a write on a stale version is refused and changes nothing',
    async run({ registry, reopen }) {
      assert.equal(await registry.readJob('c1'), undefined);
      const first = { id: 'c1', kind: 'load', state: 'PENDING' };
      const v1 = await registry.putJobIf(first, 0);
      assert.ok(v1 !== undefined && v1 > 0, 'creating an absent record succeeds');
      assert.equal(
        await registry.putJobIf({ ...first, state: 'RUNNING' }, 0),
        undefined,
        'create on an existing id',
      );
      assert.deepEqual(await registry.readJob('c1'), { job: first, version: v1 });
      const running = { ...first, state: 'RUNNING' };
      const v2 = await registry.putJobIf(running, v1);
      assert.ok(v2 !== undefined && v2 !== v1);
      // Two writers that read the same version: exactly one wins.
      const raced = await Promise.all([
        registry.putJobIf({ ...running, state: 'CANCELLED' }, v2),
        registry.putJobIf({ ...running, state: 'SUCCEEDED' }, v2),
      ]);
      assert.equal(raced.filter((v) => v !== undefined).length, 1);
      const after = await registry.readJob('c1');
      assert.equal(
        after?.version,
        raced.find((v) => v !== undefined),
      );
      assert.equal(after?.job.state, raced[0] !== undefined ? 'CANCELLED' : 'SUCCEEDED');
      // A plain putJob changes the version too, and readJob agrees with getJob.
      await registry.putJob({ ...running, state: 'FAILED' });
      const last = await registry.readJob('c1');
      assert.notEqual(last?.version, after?.version);
      assert.deepEqual(last?.job, await registry.getJob('c1'));
      assert.equal(await registry.putJobIf(running, after!.version), undefined);
      // Versions survive reopening: the reopened registry refuses the stale one, takes the current.
      const second = await reopen();
      try {
        assert.equal(await second.putJobIf(running, v2!), undefined);
        assert.ok((await second.putJobIf(running, last!.version)) !== undefined);
      } finally {
        await second.close();
      }
    },
  },
  {
    name: 'members: listed per role while registered, sorted by id; gone after close',
    async run({ registry }) {
      assert.deepEqual(await registry.listMembers('scheduler'), []);
      const info = (id: string) => ({
        id,
        address: `http://127.0.0.1:1/${id}`,
        version: 'v',
        startedAtMs: 1,
      });
      const b = await registry.registerMember('scheduler', info('s-b'));
      const a = await registry.registerMember('scheduler', info('s-a'));
      const g = await registry.registerMember('gateway', info('g-1'));
      assert.deepEqual(await registry.listMembers('scheduler'), [info('s-a'), info('s-b')]);
      assert.deepEqual(await registry.listMembers('gateway'), [info('g-1')]);
      assert.equal((await registry.listWorkers()).length, 0, 'members are not workers');
      await b.close();
      assert.deepEqual(await registry.listMembers('scheduler'), [info('s-a')]);
      await a.close();
      await g.close();
      assert.deepEqual(await registry.listMembers('scheduler'), []);
    },
  },
  {
    name: 'deleteJob removes the record; deleting a missing one is not an error',
    async run({ registry }) {
      await registry.putJob({ id: 'gone', kind: 'load', state: 'SUCCEEDED' });
      await registry.putJob({ id: 'kept', kind: 'load', state: 'SUCCEEDED' });
      await registry.deleteJob('gone');
      await registry.deleteJob('never-was');
      assert.equal(await registry.getJob('gone'), undefined);
      assert.equal(await registry.readJob('gone'), undefined);
      assert.deepEqual(
        (await registry.listJobs()).map((j) => j.id),
        ['kept'],
      );
      // The id can be used again from scratch.
      assert.ok((await registry.putJobIf({ id: 'gone', kind: 'free', state: 'PENDING' }, 0)) !== undefined);
    },
  },
  {
    name: 'campaign: the first candidate leads, the second takes over after it resigns',
    async run({ registry }) {
      assert.equal(await registry.leader('scheduler'), undefined);
      const a = await registry.campaign('scheduler', 'cand-a');
      await withTimeout(a.elected, 5000, 'cand-a was not elected');
      assert.equal(await registry.leader('scheduler'), 'cand-a');
      const b = await registry.campaign('scheduler', 'cand-b');
      let bElected = false;
      void b.elected.then(() => {
        bElected = true;
      });
      // Roles are independent: an election for another role, campaigned after cand-b, completing
      // is the later event by which cand-b would have been elected if it could be.
      const other = await registry.campaign('compactor', 'cand-c');
      await withTimeout(other.elected, 5000, 'cand-c was not elected for another role');
      assert.equal(await registry.leader('compactor'), 'cand-c');
      assert.equal(bElected, false, 'cand-b was elected while cand-a leads');
      assert.equal(await registry.leader('scheduler'), 'cand-a');
      await a.resign();
      await withTimeout(b.elected, 5000, 'cand-b was not elected after cand-a resigned');
      assert.equal(await registry.leader('scheduler'), 'cand-b');
      await b.resign();
      assert.equal(await registry.leader('scheduler'), undefined);
      await other.resign();
    },
  },
  {
    name: 'mounts, config and jobs survive reopening the registry',
    async run({ registry, reopen }) {
      const m = mountRecord('/keep', 's3://b/p', { secretAccessKey: 'kept' });
      await registry.saveMount(m);
      await registry.setConfig('k', 'v');
      await registry.putJob({ id: 'j', kind: 'load', state: 'RUNNING' });
      const second = await reopen();
      try {
        assert.deepEqual(await second.loadMounts(), [m]);
        assert.equal(await second.getConfig('k'), 'v');
        assert.deepEqual(await second.getJob('j'), { id: 'j', kind: 'load', state: 'RUNNING' });
      } finally {
        await second.close();
      }
    },
  },
  ...S3_USERS_CONTRACT,
];

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function hash(text: string): number {
  let h = 0;
  for (const c of text) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return h;
}
