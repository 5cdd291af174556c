/**
 * Membership at scale against a real single-node etcd (test/helpers/etcd.ts), all from this one
 * process, as far as two shared cores allow. Rows are informational inputs of docs/scale.md:
 *
 *   leases          : `workers` leases (TTL 5 s, Strata's default), each renewed with keepaliveOnce
 *                     every TTL/3 as WorkerRegistration does: renewals/s reached, leases lost,
 *                     etcd CPU (cores) and RSS while it runs
 *   member list     : one range read of the `workers` WorkerInfo records (what every client's
 *                     watch does after each event today): ms and bytes
 *   watchers        : `watchers` prefix watches multiplexed on one client, then one membership
 *                     change: ms until every watcher saw it, etcd CPU and RSS growth
 *   revision poll   : single-key gets/s at 64 in flight (the cost of clients polling a revision
 *                     key instead of watching), etcd CPU per 1,000 gets
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type Lease, type Watcher } from 'etcd3';
import type { WorkerInfo } from '../src/registry/registry.js';
import { type EtcdProcess, startEtcd } from '../test/helpers/etcd.js';
import { type Row, row } from './report.js';

const TB = 1e12;

/** Ids shaped like real ones (host-port + random suffix), so their sort order is arbitrary. */
export function scaleWorkers(count: number): WorkerInfo[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `w-${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}-${i}`,
    address: `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:29999`,
    capacityBytes: (1 + (i % 4)) * TB,
    state: 'ACTIVE',
    version: '0.1.0',
    startedAtMs: 1_700_000_000_000 + i,
  }));
}

const TICKS = 100; // USER_HZ on Linux

/** etcd's CPU seconds so far and its RSS in bytes, from /proc. */
function procStats(pid: number): { cpuS: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (x: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Runs `fn` against a fresh etcd and one client, then stops both. */
async function withEtcd<T>(fn: (etcd: EtcdProcess, client: Etcd3) => Promise<T>): Promise<T> {
  const etcd = await startEtcd();
  const client = new Etcd3({ hosts: etcd.clientUrl });
  try {
    return await fn(etcd, client);
  } finally {
    client.close();
    await etcd.stop();
  }
}

export async function runEtcdScale(opts: {
  workers: number;
  watchers?: number;
  seconds?: number;
}): Promise<Row[]> {
  const workers = scaleWorkers(opts.workers);
  // Two fresh etcds: leases that expire after the keepalive phase would otherwise flood the
  // watchers of the second phase with deletes.
  const reads = await withEtcd((etcd, client) =>
    membershipReads(etcd, client, workers, opts.watchers ?? 5000),
  );
  const leases = await withEtcd((etcd, client) => leaseLoad(etcd, client, workers, opts.seconds ?? 10));
  return [...leases, ...reads];
}

async function leaseLoad(
  etcd: EtcdProcess,
  client: Etcd3,
  workers: readonly WorkerInfo[],
  seconds: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  const opts = { workers: workers.length };
  const ttl = 5;
  const idle = procStats(etcd.pid);
  // --- leases + keepalive -----------------------------------------------------------------
  const leases: Lease[] = workers.map(() => client.lease(ttl, { autoKeepAlive: false }));
  let renewals = 0;
  let failures = 0;
  let stop = false;
  const periodMs = (ttl * 1000) / 3;
  // Each lease renews on its own timer from the moment it is granted, like independent workers.
  const renew = async (lease: Lease): Promise<void> => {
    while (!stop) {
      await new Promise((r) => setTimeout(r, periodMs));
      if (stop) return;
      try {
        await lease.keepaliveOnce();
        renewals++;
      } catch {
        failures++;
      }
    }
  };
  const loops: Promise<void>[] = [];
  const t0 = performance.now();
  await inBatches(workers, 200, async (w) => {
    const lease = leases[workers.indexOf(w)]!;
    await lease.put(`bench/workers/${w.id}`).value(JSON.stringify(w)).exec();
    loops.push(renew(lease));
  });
  const grantMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, periodMs)); // every loop running
  const a = procStats(etcd.pid);
  const own0 = process.cpuUsage();
  const r0 = renewals;
  const ta = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = procStats(etcd.pid);
  const own = process.cpuUsage(own0);
  const perSec = (renewals - r0) / ((performance.now() - ta) / 1000);
  const etcdCores = (b.cpuS - a.cpuS) / ((performance.now() - ta) / 1000);
  const alive = await client.getAll().prefix('bench/workers/').count();
  stop = true;
  await Promise.all(loops);
  rows.push(
    row(
      `etcd: ${opts.workers} leases (TTL ${ttl} s) renewed every TTL/3 from one process`,
      `${perSec.toFixed(0)} renewals/s, ${failures} failed, ${opts.workers - alive} lost`,
      `ideal ${(opts.workers / (ttl / 3)).toFixed(0)}/s`,
      perSec / (opts.workers / (ttl / 3)),
    ),
    row(
      `etcd CPU / RSS under ${opts.workers} keepalives`,
      `${etcdCores.toFixed(2)} cores, ${mib(b.rssBytes)}`,
      `client ${((own.user + own.system) / 1e6 / seconds).toFixed(2)} cores; idle etcd RSS ${mib(idle.rssBytes)}; grant+put all ${(grantMs / 1000).toFixed(1)} s`,
      etcdCores,
    ),
  );

  // A lease the simulation lost is already gone; revoking it fails, which is not a result.
  await inBatches(leases, 200, (l) => l.revoke().catch(() => undefined));
  return rows;
}

/** Worker records without leases (they must not expire mid-measurement), then the client side. */
async function membershipReads(
  etcd: EtcdProcess,
  client: Etcd3,
  workers: readonly WorkerInfo[],
  count: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  await inBatches(workers, 200, (w) => client.put(`bench/workers/${w.id}`).value(JSON.stringify(w)).exec());
  // --- one full member list: what each watching client reads after every event today --------
  const l0 = procStats(etcd.pid);
  const lt = performance.now();
  let listBytes = 0;
  const reps = 20;
  for (let i = 0; i < reps; i++) {
    const all = await client.getAll().prefix('bench/workers/').strings();
    listBytes = Object.entries(all).reduce((s, [k, v]) => s + k.length + v.length, 0);
  }
  const listMs = (performance.now() - lt) / reps;
  const listCpuMs = ((procStats(etcd.pid).cpuS - l0.cpuS) * 1000) / reps;
  const listed = await client.getAll().prefix('bench/workers/').count();
  rows.push(
    row(
      'etcd: list the worker records (one client refresh)',
      `${listMs.toFixed(1)} ms, etcd ${listCpuMs.toFixed(1)} ms CPU`,
      `${listed} records, ${(listBytes / 1024).toFixed(0)} KiB`,
      listMs,
    ),
  );

  // --- watchers and one membership change --------------------------------------------------
  const before = procStats(etcd.pid);
  const watchers: Watcher[] = [];
  const wt = performance.now();
  await inBatches(
    Array.from({ length: count }, (_, i) => i),
    250,
    async () => watchers.push(await client.watch().prefix('bench/workers/').create()),
  );
  const createS = (performance.now() - wt) / 1000;
  const seen = new Promise<number>((resolve) => {
    let left = count;
    const t = performance.now();
    for (const w of watchers)
      w.once('put', () => {
        if (--left === 0) resolve(performance.now() - t);
      });
    client
      .put('bench/workers/w-joiner')
      .value('{}')
      .exec()
      .catch((err: unknown) => process.stderr.write(`scale bench: join put failed: ${String(err)}\n`));
  });
  const c0 = procStats(etcd.pid);
  const own0 = process.cpuUsage();
  const fanMs = await seen;
  const own = process.cpuUsage(own0);
  const c1 = procStats(etcd.pid);
  rows.push(
    row(
      `etcd: ${count} watchers on one client, one join seen by all`,
      `${fanMs.toFixed(0)} ms; CPU etcd ${((c1.cpuS - c0.cpuS) * 1000).toFixed(0)} ms, client ${((own.user + own.system) / 1000).toFixed(0)} ms`,
      `RSS +${mib(c1.rssBytes - before.rssBytes)}; created in ${createS.toFixed(1)} s`,
      fanMs,
    ),
  );
  await inBatches(watchers, 500, (w) => w.cancel().catch(() => undefined));

  // --- the alternative: clients poll one small revision key ---------------------------------
  await client.put('bench/membership-rev').value('1').exec();
  const p0 = procStats(etcd.pid);
  const pt = performance.now();
  let gets = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() - pt < 3000) {
        await client.get('bench/membership-rev').string();
        gets++;
      }
    }),
  );
  const p1 = procStats(etcd.pid);
  const getsPerSec = gets / ((performance.now() - pt) / 1000);
  rows.push(
    row(
      'etcd: revision-key gets/s from one process (64 in flight)',
      `${getsPerSec.toFixed(0)}/s`,
      `etcd ${(((p1.cpuS - p0.cpuS) * 1000) / (gets / 1000)).toFixed(0)} ms CPU per 1,000`,
      getsPerSec,
    ),
  );
  return rows;
}
