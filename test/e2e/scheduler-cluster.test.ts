import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type ConnectedFileSystem, connect } from '../../src/client/connect.js';
import { type JobInfo, JobsClient } from '../../src/client/jobs-client.js';
import { collect } from '../../src/worker/file-system.js';
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
 * `strata scheduler` in a cluster, all real processes: etcd, 3 `strata worker`, 2 `strata
 * scheduler`. Leases (workers' and the election's) are 2 s, so a crashed process is replaced
 * within about 2 s (etcd counts whole seconds; its lease checks add up to ~0.5 s).
 */

const LEASE = '2s';
const FILE_SIZE = 1024;
const DIRS = 10;
const PER_DIR = 1000;
const FILES = DIRS * PER_DIR;
/**
 * Store reads a failover may repeat: the batches in flight when the leader died, which the new
 * leader sends again (a file still being read by its owner when the resend arrives is read twice).
 * The engine's defaults: 2 batches in flight × 128 files per batch.
 */
const IN_FLIGHT_FILES = 2 * 128;

interface Report {
  schedulers: Array<{ id: string; address: string; version: string; startedAtMs: number; leader: boolean }>;
}

describe('strata scheduler: two schedulers over etcd and 3 workers', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let etcd: EtcdProcess;
  const workers: RunningWorker[] = [];
  const schedulers: RunningScheduler[] = [];
  let fs: ConnectedFileSystem;
  let jobs: JobsClient;
  let ufs: string;

  const cli = (args: string[]) => runCli(args, { registry: etcd.uri });
  const report = async (): Promise<Report> => {
    const r = await cli(['report', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Report;
  };
  const ufsReadBytes = async (mount: string, among = workers) =>
    (
      await Promise.all(
        among.map((w) => metric(w.ready.addresses.admin, 'strata_ufs_read_bytes_total', { mount })),
      )
    ).reduce((a, b) => a + b, 0);
  const schedulerArgs = () => ['--lease-ttl', LEASE];

  before(async () => {
    tmp = await tempDir('sched-cluster');
    ufs = join(tmp.dir, 'ufs');
    // 10,000 files of 1 KiB in 10 directories.
    const body = Buffer.alloc(FILE_SIZE, 7);
    for (let d = 0; d < DIRS; d++) {
      const dir = join(ufs, 'lake', `d${d}`);
      await mkdir(dir, { recursive: true });
      await Promise.all(Array.from({ length: PER_DIR }, (_, f) => writeFile(join(dir, `f${f}.bin`), body)));
    }
    etcd = await startEtcd();
    for (let i = 0; i < 3; i++)
      workers.push(await startWorker(etcd.uri, ['--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', LEASE]));
    fs = await connect(etcd.uri);
    await waitFor('3 workers in the ring', async () => (await fs.report()).workers.length === 3);
    await fs.mount('/lake', pathToFileURL(join(ufs, 'lake')).href);
    const token = await clusterToken(etcd.uri);
    await waitFor('mounts on every worker', async () => {
      for (const w of workers) {
        const mounts = await workerMounts(w.ready.addresses.worker, token);
        if (!mounts.includes('/lake')) return false;
      }
      return true;
    });
    schedulers.push(await startScheduler(etcd.uri, schedulerArgs()));
    schedulers.push(await startScheduler(etcd.uri, schedulerArgs()));
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

  /** The scheduler that leads now, by its own /healthz. */
  async function leading(): Promise<RunningScheduler> {
    return waitFor('one leading scheduler', async () => {
      const live = schedulers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
      const flags = await Promise.all(
        live.map(async (s) => {
          const h = (await (await fetch(`${s.ready.addresses.admin}/healthz`)).json()) as { leader: boolean };
          return h.leader;
        }),
      );
      return flags.filter(Boolean).length === 1 ? live[flags.indexOf(true)] : undefined;
    });
  }

  test('strata report lists both schedulers, exactly one leading; the leader gauge says the same', async () => {
    const leader = await leading();
    const r = await report();
    assert.deepEqual(r.schedulers.map((s) => s.id).sort(), schedulers.map((s) => s.ready.id).sort());
    assert.deepEqual(
      r.schedulers.filter((s) => s.leader).map((s) => s.id),
      [leader.ready.id],
    );
    for (const s of r.schedulers) {
      const mine = schedulers.find((x) => x.ready.id === s.id)!;
      assert.equal(s.address, mine.ready.addresses.admin);
      assert.equal(s.version, mine.ready.version);
      assert.equal(
        await metric(s.address, 'strata_scheduler_leader'),
        s.leader ? 1 : 0,
        `strata_scheduler_leader of ${s.id}`,
      );
    }
    const text = await cli(['report']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${leader.ready.id}\\s+\\S+\\s+yes\\s`, 'm'));
    // The jobs API is behind the cluster token; /healthz is not.
    assert.equal((await fetch(`${leader.ready.addresses.admin}/api/v1/jobs`)).status, 401);
  });

  test('kill -9 of the leader at ~50 %: the standby resumes from the cursor and finishes; each file read from the store once (+ the batches in flight); then every file reads from the cache', async (t) => {
    const leader = await leading();
    const standby = schedulers.find((s) => s !== leader)!;
    const submitted = await cli(['job', 'load', '/lake']);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    const half = await waitFor(
      'the job at 50 %',
      async () => {
        const job = await jobs.get(id);
        assert.ok(job.state === 'RUNNING' || job.state === 'PENDING', `ended too soon: ${job.state}`);
        return job.filesDone >= FILES / 2 ? job : undefined;
      },
      60_000,
    );
    await leader.kill();
    // Nothing runs it until the standby is elected: it was killed mid-job.
    const atKill = await jobs.get(id);
    assert.equal(atKill.state, 'RUNNING');
    assert.ok(
      atKill.filesDone < FILES,
      `killed before the end: ${atKill.filesDone} (seen ${half.filesDone})`,
    );
    // The standby takes over once the dead leader's election lease expires, and finishes.
    const end: JobInfo = await jobs.wait(id, { intervalMs: 100 });
    assert.equal(end.state, 'SUCCEEDED', JSON.stringify(end));
    assert.equal(end.filesDone, FILES);
    assert.equal(end.filesTotal, FILES);
    assert.equal(end.bytesDone, FILES * FILE_SIZE);
    assert.equal(end.filesFailed, 0);
    assert.equal((await leading()).ready.id, standby.ready.id);
    const read = await ufsReadBytes('/lake');
    t.diagnostic(
      `killed the leader at ${atKill.filesDone}/${FILES} files; store bytes over the workers ${read} (dataset ${FILES * FILE_SIZE}, bound ${(FILES + IN_FLIGHT_FILES) * FILE_SIZE})`,
    );
    assert.ok(read >= FILES * FILE_SIZE, `every file was read from the store: ${read}`);
    assert.ok(
      read <= (FILES + IN_FLIGHT_FILES) * FILE_SIZE,
      `store bytes ${read} > dataset ${FILES * FILE_SIZE} + in-flight ${IN_FLIGHT_FILES * FILE_SIZE}`,
    );
    // 500 files picked across the tree read with no store access.
    for (let k = 0; k < 500; k++) {
      const n = (k * 7919) % FILES;
      const path = `/lake/d${n % DIRS}/f${Math.floor(n / DIRS)}.bin`;
      const body = await collect(await fs.read(path));
      assert.equal(body.length, FILE_SIZE, path);
    }
    assert.equal(await ufsReadBytes('/lake'), read, 'reads after the load touched the store');

    // The report shows the one scheduler left, leading, once the dead one's lease is gone.
    await waitFor(
      'the dead scheduler gone from the report',
      async () => (await report()).schedulers.length === 1,
    );
    const r = await report();
    assert.deepEqual(
      r.schedulers.map((s) => [s.id, s.leader]),
      [[standby.ready.id, true]],
    );
    schedulers.splice(schedulers.indexOf(leader), 1);
    schedulers.push(await startScheduler(etcd.uri, schedulerArgs()));
  });

  test('bad input through the CLI: an unknown job id, bad daemon flags; SIGTERM leaves the jobs RUNNING and then no scheduler answers', async () => {
    const unknown = await cli(['job', 'status', 'no-such-job']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /^strata: NOT_FOUND: no job no-such-job/m);
    const cancel = await cli(['job', 'cancel', 'no-such-job']);
    assert.notEqual(cancel.code, 0);
    assert.match(cancel.stderr, /NOT_FOUND/);

    // The daemon's own flags: refused before anything starts.
    for (const [args, message] of [
      [['scheduler', '--registry', 'http://127.0.0.1:1'], /runs against a cluster registry \(etcd:/],
      [['scheduler', '--registry', etcd.uri, '--lease-ttl', '0'], /--lease-ttl must be positive/],
      [['scheduler', '--registry', etcd.uri, '--max-running', 'many'], /--max-running must be an integer/],
    ] as const) {
      const bad = await runCli([...args]);
      assert.equal(bad.code, 64, bad.stderr);
      assert.match(bad.stderr, message);
    }
    assert.equal((await report()).schedulers.length, 2, 'no scheduler was added by the refused ones');

    // Throttled to 64 KiB/s (2.5 min for the tree): still RUNNING when the schedulers stop.
    const job = await jobs.submit('load', '/lake', { bandwidth: 64 * 1024 });
    await waitFor('the job running', async () => (await jobs.get(job.id)).state === 'RUNNING' || undefined);
    for (const s of schedulers) assert.equal(await s.stop(), 0, s.stderr());
    // Stopped, not ended: the next scheduler resumes it from its cursor.
    const { createRegistry } = await import('../../src/registry/factory.js');
    const registry = await createRegistry(etcd.uri);
    try {
      const stored = await registry.getJob(job.id);
      assert.equal(stored?.state, 'RUNNING');
      // A stopped scheduler leaves the registry at once (not after its lease).
      assert.deepEqual(await registry.listMembers('scheduler'), []);
    } finally {
      await registry.close();
    }
    const none = await cli(['job', 'ls']);
    assert.equal(none.code, 69, none.stderr);
    assert.match(
      none.stderr,
      /^strata: UNAVAILABLE: no scheduler is running .*strata scheduler --registry etcd:/m,
    );
  });
});
