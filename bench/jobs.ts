/**
 * Job benchmarks (issue 13), each against a `strata local` child process and its embedded
 * scheduler, the job submitted as users do (`strata job load --wait`, the real CLI):
 *
 *   small files: N files of 4 KiB (default 100,000, 100 directories) on a file:// mount on disk
 *     (/tmp), the page cache warm for both sides (the tree is read once before either timed run):
 *     `strata job load --wait` time ÷ `find … | xargs -P 16 -n 64 cat > /dev/null` and ÷ `rclone
 *     copy --transfers 16` — target ≤ 1.0 (the issue names both); beside them (info) the same ÷ a
 *     parallel copy that also writes each file (`cp --parents`), and ÷ one Node process doing only
 *     the reads and page-file writes a load must do (the floor of the runtime). Nothing is deleted
 *     between the timed runs (ext4 makes file creation costly right after a mass delete).
 *   remote origin: 2 GiB in 8 large files served by nginx behind a userspace link of 20 ms RTT and
 *     200 Mbit/s shared by all connections (bench/shaped-link.ts), mounted http://: load
 *     throughput ÷ the link rate — target ≥ 0.9; the honest floor is `curl` of the same files
 *     through the same link (8 at once), ÷ the link rate too.
 *   prefix: N tiny files (default 1,000,000 of 16 bytes, 1,000 directories, on tmpfs): time from
 *     submit to the first batch done (the job's filesDone ≥ 1) — target ≤ 1 s; peak RSS of the
 *     `strata local` process (VmHWM, so start-up included) — target ≤ 256 MiB; the job record's
 *     largest size in the registry (jobs.json) — target ≤ 64 KiB. The job runs until it ends or
 *     --prefix-seconds have passed, then is cancelled: the row says how far it got.
 *
 *   cluster prefix: the same prefix loaded in a cluster (etcd, one worker, a `strata scheduler`
 *     daemon): the scheduler process's peak RSS — target ≤ 256 MiB.
 *
 * Usage: node dist/bench/jobs.js [--small-files 100000] [--remote-mib 2048] [--remote-files 8]
 *   [--prefix-files 1000000] [--prefix-seconds 120] [--only small,remote,prefix,cluster-prefix]
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type ConnectedFileSystem, connect } from '../src/client/connect.js';
import { JobsClient } from '../src/client/jobs-client.js';
import type { JobInfo } from '../src/core/jobs.js';
import {
  type RunningScheduler,
  type RunningWorker,
  startScheduler,
  startWorker,
} from '../test/helpers/cluster.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { runCli, startLocal } from '../test/helpers/local-process.js';
import { startNginx } from '../test/helpers/nginx.js';
import { printTable, type Row, row, saveResults } from './report.js';
import { startSharedLink } from './shaped-link.js';

const MiB = 1024 * 1024;
/** 200 Mbit/s. */
const LINK_BYTES_PER_SEC = 25_000_000;

function sh(script: string): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`${script} exited ${code}`))));
  });
}

/** rm -rf: node's recursive fs.rm took minutes (and over a GiB) on a million files. */
function removeTree(dir: string): Promise<void> {
  return sh(`rm -rf '${dir}'`);
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/** `dirs` directories of `perDir` files of `size` bytes, written with plain syscalls (fast). */
function makeTree(root: string, dirs: number, perDir: number, size: number): void {
  const data = Buffer.alloc(size, 7);
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `d${String(d).padStart(4, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < perDir; f++) {
      const fd = openSync(join(dir, `f${String(f).padStart(5, '0')}`), 'w');
      if (size > 0) writeSync(fd, data);
      closeSync(fd);
    }
  }
}

async function bigFile(path: string, bytes: number, seed: number): Promise<void> {
  const fh = await open(path, 'w');
  const block = Buffer.alloc(8 * MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7 + seed) & 0xff;
  for (let off = 0; off < bytes; off += block.length)
    await fh.write(block, 0, Math.min(block.length, bytes - off));
  await fh.close();
}

/** `strata job load --wait --json PATH`, timed; fails unless the job SUCCEEDED. */
async function cliLoad(registry: string, path: string): Promise<{ secs: number; job: JobInfo }> {
  let out = { code: null as number | null, stdout: '', stderr: '' };
  const secs = await seconds(async () => {
    out = await runCli(['job', 'load', '--wait', '--json', path], { registry });
  });
  if (out.code !== 0) throw new Error(`strata job load ${path} exited ${out.code}: ${out.stderr}`);
  const job = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as JobInfo;
  if (job.state !== 'SUCCEEDED') throw new Error(`job ${job.id} ended ${job.state}`);
  return { secs, job };
}

function mbps(bytesPerSec: number): string {
  return `${((bytesPerSec * 8) / 1e6).toFixed(0)} Mbit/s`;
}

async function smallFiles(root: string, n: number): Promise<Row[]> {
  const dirs = 100;
  const perDir = Math.ceil(n / dirs);
  const tree = join(root, 'small');
  const made = await seconds(async () => makeTree(tree, dirs, perDir, 4096));
  const files = dirs * perDir;
  process.stderr.write(`small: ${files} files of 4 KiB written in ${made.toFixed(1)} s\n`);
  const cat = `find ${tree} -type f | xargs -P 16 -n 64 cat > /dev/null`;
  await sh(cat); // page cache warm for both timed runs
  const baseline = await seconds(() => sh(cat));
  // Nothing is deleted between the timed runs: ext4 avoids reusing inodes deleted moments ago
  // and scans its bitmaps for others, so a run right after an rm -rf of 100,000 files pays for
  // every file it creates (seen in a kernel profile: a third of Strata's CPU time).
  const strata = await startLocal([
    '--data-dir',
    join(root, 'strata-small'),
    '--mount',
    `/small=${pathToFileURL(tree)}`,
  ]);
  let secs: number;
  try {
    const load = await cliLoad(strata.registry, '/small');
    secs = load.secs;
    if (load.job.filesDone !== files) throw new Error(`loaded ${load.job.filesDone} of ${files} files`);
  } finally {
    await strata.stop();
  }
  // A parallel copy that also writes every file (Strata writes each into its disk tier), into a
  // fresh directory on the same disk; and the same with rclone, the other baseline.
  const copyDir = join(root, 'small-copy');
  mkdirSync(copyDir, { recursive: true });
  const copy = await seconds(() =>
    // The directories first: 16 cp --parents racing to create the same one fail.
    sh(
      `cd ${tree} && find . -type d | (cd ${copyDir} && xargs mkdir -p) && find . -type f | xargs -P 16 -n 64 cp --parents -t ${copyDir}`,
    ),
  );
  // AWS_CA_BUNDLE, set on these machines, breaks rclone (TESTBED.md).
  const rclone = await seconds(() =>
    sh(`env -u AWS_CA_BUNDLE rclone copy --transfers 16 --checkers 16 ${tree} ${join(root, 'small-rclone')}`),
  );
  // The floor of this runtime: one Node process doing only the file operations a load must do
  // (read each file; write it under a new name with a 32-byte header), 16 at a time.
  const floor = await seconds(() => nodeCopyFloor(tree, join(root, 'small-floor'), 16));
  const files_s = `${secs.toFixed(2)} s (${Math.round(files / secs)} files/s)`;
  const what = `${files} × 4 KiB, file:// on disk, page cache warm: job load --wait`;
  return [
    row(`${what} ÷ xargs -P 16 cat (reads only)`, files_s, `${baseline.toFixed(2)} s`, secs / baseline, {
      max: 1.0,
    }),
    row(`${what} ÷ rclone copy --transfers 16`, files_s, `${rclone.toFixed(2)} s`, secs / rclone, {
      max: 1.0,
    }),
    row(`${what} ÷ xargs -P 16 cp --parents (a parallel copy)`, files_s, `${copy.toFixed(2)} s`, secs / copy),
    row(
      `${what} ÷ the same reads and page-file writes from one Node process (fs/promises, 16 at a time; the floor of the runtime)`,
      files_s,
      `${floor.toFixed(2)} s`,
      secs / floor,
    ),
  ];
}

/** Reads every file under `src` and writes it with a 32-byte header under `dst`, `lanes` at a time. */
async function nodeCopyFloor(src: string, dst: string, lanes: number): Promise<void> {
  const paths: string[] = [];
  for (const d of await readdir(src))
    for (const f of await readdir(join(src, d))) paths.push(join(src, d, f));
  const header = Buffer.alloc(32, 1);
  for (let p = 0; p < 256; p++) mkdirSync(join(dst, p.toString(16).padStart(2, '0')), { recursive: true });
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < paths.length) {
        const i = next++;
        const data = await readFile(paths[i]!);
        const fh = await open(join(dst, (i & 255).toString(16).padStart(2, '0'), `${i}.page`), 'w');
        try {
          await fh.writev([header, data]);
        } finally {
          await fh.close();
        }
      }
    }),
  );
}

async function remoteOrigin(root: string, totalMiB: number, count: number): Promise<Row[]> {
  const origin = join(root, 'origin', 'big');
  mkdirSync(origin, { recursive: true });
  const each = Math.floor((totalMiB * MiB) / count);
  for (let i = 0; i < count; i++) await bigFile(join(origin, `part-${i}.bin`), each, i);
  const bytes = each * count;
  const nginx = await startNginx(join(root, 'origin'));
  const link = await startSharedLink(nginx.url, 10, LINK_BYTES_PER_SEC);
  try {
    const strata = await startLocal([
      '--data-dir',
      join(root, 'strata-remote'),
      '--disk-capacity',
      `${totalMiB + 1024}MiB`,
      '--mount',
      `/remote=${link.url}/big/`,
    ]);
    let load: { secs: number; job: JobInfo };
    const before = link.downstreamBytes();
    try {
      load = await cliLoad(strata.registry, '/remote');
    } finally {
      await strata.stop();
    }
    // The bytes really crossed the shaped link (not some other path to the origin).
    const crossed = link.downstreamBytes() - before;
    if (crossed < bytes) throw new Error(`only ${crossed} of ${bytes} bytes crossed the link`);
    if (load.job.bytesDone !== bytes) throw new Error(`loaded ${load.job.bytesDone} of ${bytes} bytes`);
    const list = join(root, 'urls.txt');
    await writeFile(
      list,
      Array.from({ length: count }, (_, i) => `${link.url}/big/part-${i}.bin\n`).join(''),
    );
    const curl = await seconds(() => sh(`xargs -P ${count} -n 1 curl -sf -o /dev/null < ${list}`));
    const strataRate = bytes / load.secs;
    const curlRate = bytes / curl;
    const what = `${(bytes / MiB / 1024).toFixed(1)} GiB in ${count} files, 20 ms RTT, 200 Mbit/s shared link`;
    return [
      row(
        `${what}: job load throughput ÷ link rate`,
        `${mbps(strataRate)} (${load.secs.toFixed(1)} s)`,
        mbps(LINK_BYTES_PER_SEC),
        strataRate / LINK_BYTES_PER_SEC,
        { min: 0.9 },
      ),
      row(
        `${what}: curl ×${count} throughput ÷ link rate (the floor)`,
        `${mbps(curlRate)} (${curl.toFixed(1)} s)`,
        mbps(LINK_BYTES_PER_SEC),
        curlRate / LINK_BYTES_PER_SEC,
      ),
      row(`${what}: job load ÷ curl ×${count}`, mbps(strataRate), mbps(curlRate), strataRate / curlRate),
    ];
  } finally {
    await link.stop();
    await nginx.stop();
  }
}

async function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return Number(m?.[1] ?? 0);
}

/**
 * The job's record as the registry holds it, compact JSON bytes (what MAX_RECORD_BYTES bounds):
 * `registry/jobs/<id>.json` ({revision, job}) of the embedded registry, or the former single
 * `registry/jobs.json`.
 */
async function recordBytes(dataDir: string, id: string): Promise<number> {
  const dir = join(dataDir, 'registry');
  try {
    const one = JSON.parse(await readFile(join(dir, 'jobs', `${encodeURIComponent(id)}.json`), 'utf8')) as {
      job: unknown;
    };
    return Buffer.byteLength(JSON.stringify(one.job));
  } catch {
    // not that layout, or caught between a rename and the next write
  }
  try {
    const doc = JSON.parse(await readFile(join(dir, 'jobs.json'), 'utf8')) as { jobs: { id: string }[] };
    const job = doc.jobs.find((j) => j.id === id);
    return job === undefined ? 0 : Buffer.byteLength(JSON.stringify(job));
  } catch {
    return 0; // the next sample counts
  }
}

async function prefix(root: string, n: number, budgetSeconds: number): Promise<Row[]> {
  const dirs = 1000;
  const perDir = Math.ceil(n / dirs);
  const files = dirs * perDir;
  // tmpfs: a million inodes are created in seconds there.
  const shmDir = await mkdtemp('/dev/shm/strata-jobs-prefix-');
  const shm = { dir: shmDir, cleanup: () => removeTree(shmDir) };
  const dataDir = join(root, 'strata-prefix');
  try {
    const made = await seconds(async () => makeTree(join(shm.dir, 'p'), dirs, perDir, 16));
    process.stderr.write(`prefix: ${files} files of 16 bytes written on tmpfs in ${made.toFixed(1)} s\n`);
    const strata = await startLocal([
      '--data-dir',
      dataDir,
      '--mount',
      `/p=${pathToFileURL(join(shm.dir, 'p'))}`,
    ]);
    const pid = strata.ready.pid;
    const client = new JobsClient(strata.registry);
    try {
      const idleRss = (await rssKiB(pid, 'VmRSS')) * 1024;
      let maxRss = idleRss;
      const t0 = performance.now();
      const submitted = await client.submit('load', '/p');
      let job = submitted;
      while (job.filesDone < 1 && job.state !== 'FAILED' && job.state !== 'CANCELLED') {
        await new Promise((ok) => setTimeout(ok, 10));
        job = await client.get(submitted.id);
      }
      const firstSecs = (performance.now() - t0) / 1000;
      let maxRecord = await recordBytes(dataDir, submitted.id);
      const deadline = performance.now() + budgetSeconds * 1000;
      while (job.state === 'RUNNING' || job.state === 'PENDING') {
        if (performance.now() > deadline) {
          job = await client.cancel(submitted.id);
          break;
        }
        await new Promise((ok) => setTimeout(ok, 1000));
        job = await client.get(submitted.id);
        maxRecord = Math.max(maxRecord, await recordBytes(dataDir, submitted.id));
        maxRss = Math.max(maxRss, (await rssKiB(pid, 'VmRSS')) * 1024);
        process.stderr.write(
          `prefix: ${job.filesDone} files done, RSS ${((await rssKiB(pid, 'VmRSS')) / 1024).toFixed(0)} MiB\n`,
        );
      }
      const ranSecs = (performance.now() - t0) / 1000;
      const peak = (await rssKiB(pid, 'VmHWM')) * 1024;
      const how = `${job.filesDone} of ${files} files in ${ranSecs.toFixed(0)} s, ${job.state}`;
      process.stderr.write(`prefix: ${how}\n`);
      return [
        row(
          `${files}-file prefix: time to the first cached batch (filesDone ≥ 1)`,
          `${firstSecs.toFixed(3)} s`,
          '1 s',
          firstSecs,
          { max: 1 },
        ),
        row(
          `${files}-file prefix: strata local peak RSS (VmHWM; ${how})`,
          `${(peak / MiB).toFixed(0)} MiB (idle before: ${(idleRss / MiB).toFixed(0)} MiB, sampled max ${(maxRss / MiB).toFixed(0)} MiB)`,
          '256 MiB',
          peak / (256 * MiB),
          { max: 1 },
        ),
        row(
          `${files}-file prefix: largest job record in the registry`,
          `${maxRecord} B`,
          '64 KiB',
          maxRecord / (64 * 1024),
          { max: 1 },
        ),
        row(
          `${files}-file prefix: files/s while it ran`,
          `${Math.round(job.filesDone / ranSecs)} files/s`,
          '-',
          job.filesDone / ranSecs,
        ),
      ];
    } finally {
      await strata.stop();
    }
  } finally {
    await shm.cleanup();
  }
}

/**
 * The same prefix in a cluster (etcd, one worker, one `strata scheduler` daemon): the scheduler
 * process's peak RSS while it lists and dispatches (the "scheduler RSS ≤ 256 MiB"; in
 * `strata local` the worker shares the process and its metadata dominates).
 */
async function clusterPrefix(root: string, n: number, budgetSeconds: number): Promise<Row[]> {
  const dirs = 1000;
  const perDir = Math.ceil(n / dirs);
  const files = dirs * perDir;
  const shmDir = await mkdtemp('/dev/shm/strata-jobs-cprefix-');
  const etcd = await startEtcd();
  let worker: RunningWorker | undefined;
  let scheduler: RunningScheduler | undefined;
  let fs: ConnectedFileSystem | undefined;
  try {
    makeTree(join(shmDir, 'p'), dirs, perDir, 16);
    worker = await startWorker(etcd.uri, ['--data-dir', join(root, 'cprefix-worker')]);
    fs = await connect(etcd.uri);
    await fs.mount('/p', pathToFileURL(join(shmDir, 'p')).href);
    scheduler = await startScheduler(etcd.uri, ['--data-dir', join(root, 'cprefix-scheduler')]);
    const pid = scheduler.ready.pid;
    const client = new JobsClient(etcd.uri);
    const idle = (await rssKiB(pid, 'VmRSS')) * 1024;
    const t0 = performance.now();
    const submitted = await client.submit('load', '/p');
    let job = submitted;
    const deadline = performance.now() + budgetSeconds * 1000;
    while (job.state === 'RUNNING' || job.state === 'PENDING') {
      if (performance.now() > deadline) {
        job = await client.cancel(submitted.id);
        break;
      }
      await new Promise((ok) => setTimeout(ok, 1000));
      job = await client.get(submitted.id);
    }
    const ranSecs = (performance.now() - t0) / 1000;
    const peak = (await rssKiB(pid, 'VmHWM')) * 1024;
    const how = `${job.filesDone} of ${files} files in ${ranSecs.toFixed(0)} s, ${job.state}`;
    return [
      row(
        `${files}-file prefix, cluster: strata scheduler daemon peak RSS (VmHWM; ${how})`,
        `${(peak / MiB).toFixed(0)} MiB (idle before: ${(idle / MiB).toFixed(0)} MiB)`,
        '256 MiB',
        peak / (256 * MiB),
        { max: 1 },
      ),
    ];
  } finally {
    await fs?.close();
    await scheduler?.stop();
    await worker?.stop();
    await etcd.stop();
    await removeTree(shmDir);
  }
}

export async function runJobsBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'small-files': { type: 'string' },
      'remote-mib': { type: 'string' },
      'remote-files': { type: 'string' },
      'prefix-files': { type: 'string' },
      'prefix-seconds': { type: 'string' },
      only: { type: 'string' },
    },
    strict: false,
  });
  const only =
    typeof values.only === 'string'
      ? values.only.split(',')
      : ['small', 'remote', 'prefix', 'cluster-prefix'];
  const num = (v: unknown, d: number) => (typeof v === 'string' ? Number(v) : d);
  const tmp = await mkdtemp(join(tmpdir(), 'strata-jobs-bench-'));
  const rows: Row[] = [];
  try {
    if (only.includes('small')) rows.push(...(await smallFiles(tmp, num(values['small-files'], 100_000))));
    if (only.includes('remote'))
      rows.push(
        ...(await remoteOrigin(tmp, num(values['remote-mib'], 2048), num(values['remote-files'], 8))),
      );
    if (only.includes('prefix'))
      rows.push(
        ...(await prefix(tmp, num(values['prefix-files'], 1_000_000), num(values['prefix-seconds'], 120))),
      );
    if (only.includes('cluster-prefix'))
      rows.push(
        ...(await clusterPrefix(
          tmp,
          num(values['prefix-files'], 1_000_000),
          num(values['prefix-seconds'], 120),
        )),
      );
  } finally {
    await removeTree(tmp);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runJobsBench();
  printTable('jobs', rows);
  process.stdout.write(`\nresults: ${await saveResults('jobs', rows)}\n`);
}
