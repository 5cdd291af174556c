/**
 * Scheduler failover benchmark (issue 13): etcd, 3 `strata worker`, 2 `strata scheduler` (real
 * processes). Each round starts a load of a fresh tree of small files, kills the leading scheduler
 * with SIGKILL once the job is under way, and measures from the kill to
 *   - the standby saying it leads (its /healthz), and
 *   - the standby's first write of the job's record (the version changes: the dead leader writes
 *     nothing more), and its first progress write (more files done than at the kill),
 * then cancels the job and replaces the dead scheduler. Ratio: kill → first write ÷ the election
 * lease (--lease-ttl); target ≤ 2. etcd counts leases in whole seconds and checks expiry every
 * ~0.5 s; a candidate sees the leader's key go through a watch.
 *
 * Usage: node dist/bench/scheduler-failover.js [--lease-ttl 2s] [--rounds 3] [--files 3000]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type ConnectedFileSystem, connect } from '../src/client/connect.js';
import { JobsClient } from '../src/client/jobs-client.js';
import { setQuiet } from '../src/core/log.js';
import { parseDuration } from '../src/core/units.js';
import { createRegistry } from '../src/registry/factory.js';
import type { Registry } from '../src/registry/registry.js';
import { jobJson, type SchedulerJob } from '../src/scheduler/job-record.js';
import {
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
} from '../test/helpers/cluster.js';
import { type EtcdProcess, startEtcd } from '../test/helpers/etcd.js';
import { tempDir } from '../test/helpers/local-process.js';
import { waitFor } from '../test/helpers/wait.js';
import { printTable, type Row, row, saveResults } from './report.js';

interface Round {
  readonly electedMs: number;
  /** The standby's first write of the record (taking it over, before any file is done). */
  readonly takeoverMs: number;
  /** Its first write with more files done than at the kill: work resumed. */
  readonly firstWriteMs: number;
}

export async function runSchedulerFailoverBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: { 'lease-ttl': { type: 'string' }, rounds: { type: 'string' }, files: { type: 'string' } },
    strict: false,
  });
  const leaseText = typeof values['lease-ttl'] === 'string' ? values['lease-ttl'] : '2s';
  const leaseMs = parseDuration(leaseText, '--lease-ttl');
  const rounds = Number(values.rounds ?? 3);
  const files = Number(values.files ?? 3000);
  setQuiet(true);
  const tmp = await tempDir('bench-failover');
  let etcd: EtcdProcess | undefined;
  const workers: RunningWorker[] = [];
  let schedulers: RunningScheduler[] = [];
  let fs: ConnectedFileSystem | undefined;
  let registry: Registry | undefined;
  let jobs: JobsClient | undefined;
  const results: Round[] = [];
  try {
    const body = Buffer.alloc(1024, 1);
    for (let r = 0; r < rounds; r++) {
      for (let d = 0; d < 4; d++) {
        const dir = join(tmp.dir, 'ufs', `r${r}`, `d${d}`);
        await mkdir(dir, { recursive: true });
        await Promise.all(
          Array.from({ length: Math.ceil(files / 4) }, (_, f) => writeFile(join(dir, `f${f}`), body)),
        );
      }
    }
    etcd = await startEtcd();
    const uri = etcd.uri;
    for (let i = 0; i < 3; i++)
      workers.push(await startWorker(uri, ['--data-dir', join(tmp.dir, `w${i}`), '--lease-ttl', '5s']));
    fs = await connect(uri);
    await waitFor(async () => (await fs!.report()).workers.length === 3, { what: '3 workers' });
    await fs.mount('/b', pathToFileURL(join(tmp.dir, 'ufs')).href);
    const schedulerArgs = ['--lease-ttl', leaseText];
    for (let i = 0; i < 2; i++) schedulers.push(await startScheduler(uri, schedulerArgs));
    registry = await createRegistry(uri);
    jobs = new JobsClient(uri);
    const leaderNow = async (): Promise<RunningScheduler | undefined> => {
      const flags = await Promise.all(
        schedulers.map(async (s) => {
          try {
            const res = await fetch(`${s.ready.addresses.admin}/healthz`);
            return ((await res.json()) as { leader: boolean }).leader;
          } catch {
            return false;
          }
        }),
      );
      return flags.filter(Boolean).length === 1 ? schedulers[flags.indexOf(true)] : undefined;
    };
    for (let r = 0; r < rounds; r++) {
      const leader = await waitFor(leaderNow, { what: 'one leader', timeoutMs: 30_000 });
      const standby = schedulers.find((s) => s !== leader)!;
      // Mount points are watched by the workers; the first call may race it.
      const job = await waitFor(() => jobs!.submit('load', `/b/r${r}`), {
        what: 'the job submitted',
        retryErrors: true,
      });
      await waitFor(async () => (await jobs!.get(job.id)).filesDone >= 256, {
        what: 'the job under way',
        timeoutMs: 60_000,
      });
      await leader.kill();
      const t0 = performance.now();
      const atKill = await registry.readJob(job.id);
      const runnerAtKill = (atKill?.job as { runner?: unknown } | undefined)?.runner;
      const doneAtKill = atKill === undefined ? 0 : jobJson(atKill.job as SchedulerJob).filesDone;
      let electedMs: number | undefined;
      let takeoverMs: number | undefined;
      const firstWriteMs = await waitFor(
        async () => {
          if (electedMs === undefined) {
            const h = (await (await fetch(`${standby.ready.addresses.admin}/healthz`)).json()) as {
              leader: boolean;
            };
            if (h.leader) electedMs = performance.now() - t0;
          }
          const now = await registry!.readJob(job.id);
          if (now === undefined || now.version === atKill?.version) return undefined;
          // A record that names its engine: the write must be another engine's.
          const runner = (now.job as { runner?: unknown }).runner;
          if (runner !== undefined && runner === runnerAtKill) return undefined;
          takeoverMs ??= performance.now() - t0;
          // Progress: files done beyond those at the kill (not only the record taken over).
          return jobJson(now.job as SchedulerJob).filesDone > doneAtKill ? performance.now() - t0 : undefined;
        },
        { what: 'the standby to write progress', timeoutMs: 10 * leaseMs + 30_000, intervalMs: 10 },
      );
      const round = {
        electedMs: electedMs ?? firstWriteMs,
        takeoverMs: takeoverMs ?? firstWriteMs,
        firstWriteMs,
      };
      results.push(round);
      process.stderr.write(
        `round ${r + 1}: elected after ${round.electedMs.toFixed(0)} ms, record taken over after ${round.takeoverMs.toFixed(0)} ms, first progress write after ${firstWriteMs.toFixed(0)} ms (lease ${leaseMs} ms)\n`,
      );
      await jobs.cancel(job.id);
      schedulers = schedulers.filter((s) => s !== leader);
      schedulers.push(await startScheduler(uri, schedulerArgs));
    }
  } finally {
    await jobs?.close();
    await registry?.close();
    await fs?.close();
    for (const s of schedulers) await s.stop().catch(() => undefined);
    for (const w of workers) await w.stop().catch(() => undefined);
    await etcd?.stop();
    await tmp.cleanup();
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const writes = results.map((r) => r.firstWriteMs);
  const elected = results.map((r) => r.electedMs);
  const takeovers = results.map((r) => r.takeoverMs);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [
    row(
      `failover: kill -9 of the leader → first progress write by the standby ÷ lease (median of ${results.length})`,
      `${s(median(writes))} (max ${s(Math.max(...writes))})`,
      `lease ${s(leaseMs)}`,
      median(writes) / leaseMs,
      { max: 2 },
    ),
    row(
      'failover: kill -9 of the leader → standby elected ÷ lease (median)',
      `${s(median(elected))} (max ${s(Math.max(...elected))})`,
      `lease ${s(leaseMs)}`,
      median(elected) / leaseMs,
    ),
    row(
      'failover: kill -9 of the leader → record taken over by the standby ÷ lease (median)',
      `${s(median(takeovers))} (max ${s(Math.max(...takeovers))})`,
      `lease ${s(leaseMs)}`,
      median(takeovers) / leaseMs,
    ),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runSchedulerFailoverBench(process.argv.slice(2));
  printTable(`Strata scheduler failover benchmark (${new Date().toISOString()})`, rows);
  process.stdout.write(`\nresults: ${await saveResults('scheduler-failover', rows)}\n`);
}
