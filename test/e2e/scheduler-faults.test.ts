import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { JobsClient } from '../../src/client/jobs-client.js';
import { RemoteFileSystem } from '../../src/client/remote-file-system.js';
import {
  clusterToken,
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
  workerMounts,
} from '../helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../helpers/etcd.js';
import { metric, runCli, tempDir, waitFor } from '../helpers/local-process.js';

/**
 * Faults under a running job, real processes (etcd, 3 `strata worker`, 2 `strata scheduler`,
 * leases of 2 s): the leader loses its election lease (revoked in etcd, as an expiry would), and
 * a worker is killed -9.
 */

const LEASE = '2s';
const FILE_SIZE = 1024;
const DIRS = 4;
const PER_DIR = 500;
const FILES = DIRS * PER_DIR;

describe('strata scheduler: faults during a job', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  const schedulers: RunningScheduler[] = [];
  let fs: ConnectedFileSystem;
  let jobs: JobsClient;

  const report = async () => {
    const r = await runCli(['report', '--json'], { registry: etcd.uri });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { workers: unknown[]; schedulers: Array<{ id: string; leader: boolean }> };
  };

  before(async () => {
    tmp = await tempDir('sched-faults');
    const body = Buffer.alloc(FILE_SIZE, 3);
    for (const tree of ['pond', 'marsh']) {
      for (let d = 0; d < DIRS; d++) {
        const dir = join(tmp.dir, 'ufs', tree, `d${d}`);
        await mkdir(dir, { recursive: true });
        await Promise.all(Array.from({ length: PER_DIR }, (_, f) => writeFile(join(dir, `f${f}.bin`), body)));
      }
    }
    etcd = await startEtcd();
    for (let i = 0; i < 3; i++)
      workers.push(await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', LEASE]));
    fs = await connect(etcd.uri);
    await waitFor('3 workers in the ring', async () => (await fs.report()).workers.length === 3);
    for (const tree of ['pond', 'marsh'])
      await fs.mount(`/${tree}`, pathToFileURL(join(tmp.dir, 'ufs', tree)).href);
    const token = await clusterToken(etcd.uri);
    await waitFor('mounts on every worker', async () => {
      for (const w of workers) {
        const mounts = await workerMounts(w.ready.addresses.worker, token);
        if (!mounts.includes('/pond') || !mounts.includes('/marsh')) return false;
      }
      return true;
    });
    for (let i = 0; i < 2; i++) schedulers.push(await startScheduler(etcd.uri, ['--lease-ttl', LEASE]));
    jobs = new JobsClient(etcd.uri);
  });

  after(async () => {
    await jobs?.close();
    await fs?.close();
    for (const s of schedulers) await s.stop().catch(() => undefined);
    for (const w of workers) await w.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp?.cleanup();
  });

  /** The one scheduler that says it leads (by /healthz), once exactly one does. */
  async function leading(): Promise<RunningScheduler> {
    return waitFor('exactly one leading scheduler', async () => {
      const flags = await Promise.all(
        schedulers.map(async (s) => {
          const h = (await (await fetch(`${s.ready.addresses.admin}/healthz`)).json()) as { leader: boolean };
          return h.leader;
        }),
      );
      return flags.filter(Boolean).length === 1 ? schedulers[flags.indexOf(true)] : undefined;
    });
  }

  test('a leader whose election lease is revoked stops its engines and campaigns again; the other one finishes the job', async () => {
    const leader = await leading();
    const other = schedulers.find((s) => s !== leader)!;
    // 256 KiB/s: about 8 s for the tree, so the revocation lands mid-job.
    const job = await jobs.submit('load', '/pond', { bandwidth: 256 * 1024 });
    await waitFor('the job running', async () => (await jobs.get(job.id)).filesDone > 0 || undefined, 30_000);
    await revokeElectionLease(etcd.uri, leader.ready.id);
    const atRevoke = await jobs.get(job.id);
    assert.equal(
      atRevoke.state,
      'RUNNING',
      `the job was still running at the revocation: ${atRevoke.filesDone}`,
    );
    await waitFor('the other scheduler leading', async () =>
      (await leading()) === other ? true : undefined,
    );
    const end = await jobs.wait(job.id, { intervalMs: 100 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    assert.equal(end.filesDone, FILES);
    assert.equal(end.bytesDone, FILES * FILE_SIZE);
    // The old leader is a candidate again: still listed, not leading, and its log says why.
    const r = await report();
    assert.deepEqual(r.schedulers.map((s) => s.id).sort(), schedulers.map((s) => s.ready.id).sort());
    assert.deepEqual(
      r.schedulers.filter((s) => s.leader).map((s) => s.id),
      [other.ready.id],
    );
    assert.equal(await metric(leader.ready.addresses.admin, 'strata_scheduler_leader'), 0);
    assert.equal(await metric(other.ready.addresses.admin, 'strata_scheduler_leader'), 1);
    assert.match(leader.stderr(), /"event":"scheduler_leadership_lost"/);
    // It still leads again when the other one goes: it did campaign again.
    assert.equal(await other.stop(), 0, other.stderr());
    schedulers.splice(schedulers.indexOf(other), 1);
    assert.equal(await leading(), leader);
    schedulers.push(await startScheduler(etcd.uri, ['--lease-ttl', LEASE]));
  });

  test('kill -9 of a worker mid-job: the job ends SUCCEEDED and every file is cached on a live owner', async () => {
    // One replica (the default): what the dead worker had cached died with it, so the engine goes
    // over the tree again once the ring has dropped it and loads those files on their new owners.
    // 2 MB at 384 KiB/s: about 5 s, so the worker dies mid-job.
    const job = await jobs.submit('load', '/marsh', { bandwidth: 384 * 1024 });
    await waitFor(
      'the job at 25 %',
      async () => (await jobs.get(job.id)).filesDone >= FILES / 4 || undefined,
      60_000,
    );
    await workers[1]!.kill();
    const atKill = await jobs.get(job.id);
    assert.equal(
      atKill.state,
      'RUNNING',
      `the job was still running when the worker died: ${atKill.filesDone}`,
    );
    const end = await jobs.wait(job.id, { intervalMs: 100 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify({ ...end, failures: end.failures.slice(0, 5) }));
    assert.equal(end.filesDone, FILES);
    assert.ok(
      (end.notes ?? []).some((n) => n.includes(workers[1]!.ready.id) && n.includes('left during the job')),
      `the job says which worker left: ${JSON.stringify(end.notes)}`,
    );
    await waitFor('the dead worker out of the ring', async () => (await fs.report()).workers.length === 2);
    // Asked of each live owner directly (no store access): which of them holds each file whole.
    const token = await clusterToken(etcd.uri);
    const live = workers.filter((w) => w !== workers[1]);
    const clients = new Map(
      live.map((w) => [
        w.ready.id,
        new RemoteFileSystem(w.ready.addresses.worker, { token, discoverToken: false }),
      ]),
    );
    const notCached: string[] = [];
    try {
      for (let d = 0; d < DIRS; d++) {
        const files = (await fs.list(`/marsh/d${d}`)).filter((e) => e.type === 'file');
        assert.equal(files.length, PER_DIR);
        const cached = new Map<string, number>();
        for (const [id, client] of clients) {
          const bytes = await client.cachedBytesOf(
            files.map((f) => ({ path: f.path, fingerprint: f.fingerprint })),
          );
          files.forEach((f, i) => {
            const owners = fs.location(f.path).map((o) => o.id);
            if (owners.includes(id) && bytes[i] === f.size) cached.set(f.path, (cached.get(f.path) ?? 0) + 1);
          });
        }
        for (const f of files) if (!cached.has(f.path)) notCached.push(f.path);
      }
    } finally {
      for (const c of clients.values()) await c.close();
    }
    assert.deepEqual(notCached.slice(0, 10), [], `${notCached.length} files not cached on any live owner`);
  });
});

/** Revokes the etcd lease of `id`'s election key, as etcd does when the lease expires. */
async function revokeElectionLease(uri: string, id: string): Promise<void> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: uri.replace('etcd://', 'http://') });
  try {
    const kvs = await client.getAll().prefix('/strata/election/scheduler/').exec();
    const mine = kvs.kvs.find((kv) => kv.value.toString() === id);
    assert.ok(mine, `no election key of ${id}`);
    await client.leaseClient.leaseRevoke({ ID: mine.lease });
  } finally {
    client.close();
  }
}
