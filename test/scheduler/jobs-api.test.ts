import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry as PromRegistry } from 'prom-client';
import type { ClusterFileSystem } from '../../src/client/cluster-file-system.js';
import type { JobInfo } from '../../src/core/jobs.js';
import { setQuiet } from '../../src/core/log.js';
import { newJobRecord, type SchedulerJob } from '../../src/scheduler/job-record.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { type Listening, listenHttp } from '../../src/server/http-server.js';
import { jobsHandler } from '../../src/server/jobs-http.js';
import { type InProcessWorkers, startInProcessWorkers } from '../helpers/in-process-workers.js';
import { waitFor } from '../helpers/wait.js';

setQuiet(true);

const KiB = 1024;

/**
 * The jobs API (src/server/jobs-http.ts) in front of a Scheduler over one in-process worker, as
 * `strata local` and `strata scheduler` serve it: limits (1,000 jobs, maxRunning), retention,
 * resubmission with a new bandwidth, cancel served by the process that runs the job, refused
 * records, metrics.
 */
describe('scheduler: the jobs API over a scheduler (1 in-process worker)', () => {
  let dir: string;
  let workers: InProcessWorkers;
  let cluster: ClusterFileSystem;
  let http: Listening;
  let scheduler: Scheduler;
  const prom = new PromRegistry();

  async function api<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T }> {
    const res = await fetch(`${http.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-jobs-api-'));
    workers = await startInProcessWorkers(join(dir, 'nodes'), 1);
    cluster = await workers.cluster();
    const store = join(dir, 'store');
    await mkdir(join(store, 'many'), { recursive: true });
    for (let i = 0; i < 1000; i++)
      await writeFile(join(store, 'many', `f${String(i).padStart(4, '0')}`), `file ${i}\n`);
    await mkdir(join(store, 'slow'), { recursive: true });
    for (let i = 0; i < 64; i++) await writeFile(join(store, 'slow', `s${i}`), Buffer.alloc(64 * KiB, i));
    await cluster.mount('/s', pathToFileURL(store).href, { syncIntervalMs: 0 });
    await workers.settle();
    // The direct abort is what must stop a cancelled job here: the engines look at their record only every minute.
    scheduler = new Scheduler(workers.registry, cluster, {
      pollMs: 50,
      metrics: prom,
      engine: { watchMs: 60_000 },
    });
    http = await listenHttp('127.0.0.1', 0);
    http.serve([
      jobsHandler(
        workers.registry,
        cluster,
        () => scheduler.wake(),
        (id) => scheduler.cancelled(id),
      ),
    ]);
    await scheduler.start();
  });
  after(async () => {
    await scheduler.stop();
    await http.close(0);
    await workers.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('1,000 jobs submitted through the API all end SUCCEEDED, at most maxRunning (4) RUNNING at any observation', async (t) => {
    const start = performance.now();
    let maxSeen = 0;
    let observations = 0;
    const observe = async () => {
      const { json } = await api<{ jobs: JobInfo[] }>('GET', '/api/v1/jobs?state=RUNNING');
      maxSeen = Math.max(maxSeen, json.jobs.length);
      observations++;
    };
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const { status, json } = await api<JobInfo>('POST', '/api/v1/jobs', {
        kind: 'load',
        path: `/s/many/f${String(i).padStart(4, '0')}`,
      });
      assert.equal(status, 201, JSON.stringify(json));
      ids.push(json.id);
      if (i % 50 === 0) await observe();
    }
    const submitted = performance.now();
    const all = await waitFor(
      async () => {
        await observe();
        const { json } = await api<{ jobs: JobInfo[] }>('GET', '/api/v1/jobs');
        const ours = json.jobs.filter((j) => ids.includes(j.id));
        return ours.every((j) => j.state === 'SUCCEEDED') ? ours : undefined;
      },
      { what: '1,000 jobs to succeed', timeoutMs: 240_000, intervalMs: 100 },
    );
    t.diagnostic(
      `1,000 jobs: submitted in ${((submitted - start) / 1000).toFixed(1)} s, all SUCCEEDED after ${((performance.now() - start) / 1000).toFixed(1)} s; ${observations} observations, at most ${maxSeen} RUNNING`,
    );
    assert.equal(all.length, 1000);
    assert.ok(all.every((j) => j.filesDone === 1 && j.filesTotal === 1));
    assert.ok(maxSeen <= 4, `${maxSeen} RUNNING at once`);
    assert.ok(observations >= 20);
    // Kept (default retention 24 h), and counted by the leader's refresh of strata_jobs.
    await waitFor(
      async () => /strata_jobs\{kind="load",state="SUCCEEDED"\} 1000\b/.test(await prom.metrics()),
      {
        what: 'strata_jobs to count them',
      },
    );
    const text = await prom.metrics();
    assert.match(text, /strata_job_files_processed_total\{kind="load",outcome="done"\} 1000\b/);
    assert.match(text, /strata_scheduler_leader 1\b/);
    assert.match(text, /strata_jobs\{kind="free",state="RUNNING"\} 0\b/);
  });

  test('resubmitting the same kind and path returns the unfinished job; a new bandwidth updates it; cancel served here stops its engine at once', async () => {
    const first = await api<JobInfo>('POST', '/api/v1/jobs', {
      kind: 'load',
      path: '/s/slow',
      options: { bandwidth: 64 * KiB },
    });
    assert.equal(first.status, 201);
    await waitFor(async () => scheduler.runningIds().includes(first.json.id), { what: 'the job running' });
    const same = await api<JobInfo>('POST', '/api/v1/jobs', { kind: 'load', path: '/s/slow/' });
    assert.equal(same.status, 200);
    assert.equal(same.json.id, first.json.id);
    assert.equal(same.json.options.bandwidth, 64 * KiB, 'no bandwidth asked: unchanged');
    const faster = await api<JobInfo>('POST', '/api/v1/jobs', {
      kind: 'load',
      path: '/s/slow',
      options: { bandwidth: 128 * KiB },
    });
    assert.equal(faster.status, 200);
    assert.equal(faster.json.id, first.json.id);
    assert.equal(faster.json.options.bandwidth, 128 * KiB);
    const bad = await api<{ error: { code: string } }>('POST', '/api/v1/jobs', {
      kind: 'load',
      path: '/s/slow',
      options: { bandwidth: -5 },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
    // 64 files × 64 KiB at 128 KiB/s: 32 s of work, one batch. The engine only looks at its record every
    // minute here; the cancel reaches it directly through the scheduler of this process.
    const cancelled = await api<JobInfo>('POST', `/api/v1/jobs/${first.json.id}/cancel`);
    assert.equal(cancelled.json.state, 'CANCELLED');
    await waitFor(() => !scheduler.runningIds().includes(first.json.id), {
      what: 'the engine to stop',
      timeoutMs: 1000,
      intervalMs: 10,
    });
    const stored = (await workers.registry.getJob(first.json.id)) as SchedulerJob;
    assert.equal(stored.state, 'CANCELLED');
    assert.ok(stored.counters.doneFiles < 64);
    assert.equal(stored.options.bandwidth, 128 * KiB);
    // Bad bodies change nothing.
    for (const body of [
      { kind: 'load' },
      { kind: 'load', path: '/s/slow', dst: 7 },
      { kind: 'load', path: '/s/slow', surprise: true },
      { kind: 'load', path: '/s/slow', options: { replicas: 0 } },
    ]) {
      const r = await api<{ error: { code: string } }>('POST', '/api/v1/jobs', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error.code, 'INVALID_ARGUMENT');
    }
  });

  test('records the engine refuses (unknown kind or option, a path gone) end FAILED with the reason, once', async () => {
    const { registry } = workers;
    await registry.putJob(newJobRecord('odd-kind', 'teleport', '/s/many', {}));
    await registry.putJob(newJobRecord('odd-option', 'load', '/s/many', { warp: true }));
    await writeFile(join(dir, 'store', 'short-lived'), 'soon gone');
    await registry.putJob(newJobRecord('gone-path', 'load', '/s/short-lived', {}));
    await unlink(join(dir, 'store', 'short-lived'));
    scheduler.wake();
    const ends = await waitFor(
      async () => {
        const jobs = await Promise.all(
          ['odd-kind', 'odd-option', 'gone-path'].map((id) => registry.getJob(id)),
        );
        return jobs.every((j) => j?.state === 'FAILED') ? (jobs as SchedulerJob[]) : undefined;
      },
      { what: 'the refused jobs to fail' },
    );
    assert.deepEqual(
      ends.map((j) => j.error?.code),
      ['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'NOT_FOUND'],
    );
    assert.match(ends[0]!.error!.message, /unknown job kind teleport/);
  });

  test('finished jobs are purged after the retention time by the leader', async () => {
    const other = new Scheduler(workers.registry, cluster, { pollMs: 20, retentionMs: 300 });
    // One leader at a time: this one takes over for the test.
    await scheduler.stop();
    await other.start();
    try {
      const { registry } = workers;
      const ended = await waitFor(
        async () => {
          const jobs = (await registry.listJobs()) as SchedulerJob[];
          return jobs.length === 0 ? true : undefined;
        },
        { what: 'every finished job purged', timeoutMs: 30_000 },
      );
      assert.equal(ended, true);
      await registry.putJob(newJobRecord('young', 'load', '/s/many/f0001', {}));
      other.wake();
      await waitFor(async () => (await registry.getJob('young'))?.state === 'SUCCEEDED', {
        what: 'young done',
      });
      await waitFor(async () => (await registry.getJob('young')) === undefined, { what: 'young purged' });
    } finally {
      await other.stop();
      scheduler = new Scheduler(workers.registry, cluster, { pollMs: 50, metrics: prom });
      await scheduler.start();
    }
  });
});
