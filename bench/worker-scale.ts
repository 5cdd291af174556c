/**
 * One worker at scale (issue 17): N file records (default 10 M: 10,000 directories of 1,000) in
 * its metadata store and P pages (default 1 M, 16-byte payloads) in its disk tier, in a child
 * process (bench/worker-scale-child.ts) whose RSS is what is measured.
 *
 * The records are written through the metadata store's own listing writes — what a listing of
 * the store would store — rather than listed from 10 M real files (this machine's disk has 16 M
 * inodes in all); statuses are then all cache hits, as the rows ask ("random cached stat").
 * The page files are written by this script in the disk tier's layout before the first start.
 *
 * Rows: RSS with N entries (≤ 1 GiB); random cached status() over all N, in process (≥ 100k/s)
 * and over the RPC from another process (≥ 20k/s), 64 in flight; restart after a clean stop,
 * time from spawn to the ready line (≤ 10 s); the floor of the stat rows, in the same child right
 * after the in-process row: raw LevelDB reads of the same random keys without decoding or cache
 * (get, 64 in flight; getMany batches) — what no status() over this store can beat; and, for information, the same after kill -9
 * (the disk tier then walks its pages) and the time to write the N records.
 *
 * Usage: node dist/bench/worker-scale.js [--entries 10000000] [--pages 1000000] [--stats 300000]
 *          [--profile FILE]   (a CPU profile of the in-process stat row; bench/profile-summary.ts)
 *          [--floor-many B,L] (the getMany floor row: B keys a call, L calls in flight; default 64,4)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { encodePageHeader } from '../src/cache/page-file.js';
import { connect } from '../src/client/connect.js';
import { REPO_ROOT, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';
import { fileName } from './worker-scale-names.js';

const GiB = 1024 ** 3;

interface Ready {
  readonly worker: string;
  readonly registry: string;
  readonly tokenFile: string;
  readonly diskIndexSources: readonly string[];
  readonly diskPages: number;
}

class Child {
  private readonly lines: Interface;
  private readonly queue: Array<(line: string) => void> = [];

  private constructor(readonly proc: ChildProcess) {
    this.lines = createInterface({ input: proc.stdout! });
    this.lines.on('line', (line) => {
      if (line.startsWith('{"ready"') || line.startsWith('{"cmd"')) this.queue.shift()?.(line);
    });
  }

  /** Spawns the child; resolves at its ready line with the seconds it took. */
  static async start(dataDir: string, origin: string): Promise<{ child: Child; ready: Ready; secs: number }> {
    const t0 = performance.now();
    const proc = spawn(
      process.execPath,
      [join(REPO_ROOT, 'dist', 'bench', 'worker-scale-child.js'), dataDir, origin],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    const child = new Child(proc);
    const ready = JSON.parse(await child.next()) as Ready;
    return { child, ready, secs: (performance.now() - t0) / 1000 };
  }

  private next(): Promise<string> {
    return new Promise((ok, fail) => {
      const onExit = (code: number | null) => fail(new Error(`worker-scale child exited ${code}`));
      this.proc.once('exit', onExit);
      this.queue.push((line) => {
        this.proc.off('exit', onExit);
        ok(line);
      });
    });
  }

  async send(msg: Record<string, unknown>): Promise<{ ms: number; wrong?: number }> {
    const answer = this.next();
    this.proc.stdin!.write(`${JSON.stringify(msg)}\n`);
    return JSON.parse(await answer) as { ms: number; wrong?: number };
  }

  async procMiB(field: 'VmRSS' | 'VmHWM'): Promise<number> {
    const text = await readFile(`/proc/${this.proc.pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text);
    return m ? Number(m[1]) / 1024 : 0;
  }

  async kill9(): Promise<void> {
    const exited = new Promise((ok) => this.proc.once('exit', ok));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const exited = new Promise((ok) => this.proc.once('exit', ok));
    await this.send({ cmd: 'stop' });
    await exited;
  }
}

/** `count` page files of 16 bytes in the disk tier's layout: <dir>/<id[0..2]>/<id>.0.page. */
function writePages(dir: string, count: number): void {
  const payload = Buffer.alloc(16, 3);
  const file = Buffer.concat([encodePageHeader(0, payload), payload]);
  for (let p = 0; p < 256; p++) mkdirSync(join(dir, p.toString(16).padStart(2, '0')), { recursive: true });
  for (let i = 0; i < count; i++) {
    const id = `${(i & 255).toString(16).padStart(2, '0')}bench${i.toString(36)}`;
    const fd = openSync(join(dir, id.slice(0, 2), `${id}.0.page`), 'w');
    writeSync(fd, file);
    closeSync(fd);
  }
}

async function statOverRpc(ready: Ready, n: number, dirs: number, perDir: number): Promise<number> {
  const fs = await connect(ready.registry, { tokenFile: ready.tokenFile });
  let left = n;
  let wrong = 0;
  try {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (left-- > 0) {
          const info = await fs.status(
            fileName(Math.floor(Math.random() * dirs), Math.floor(Math.random() * perDir)),
          );
          if (info.size !== 4096) wrong++;
        }
      }),
    );
    if (wrong > 0) throw new Error(`${wrong} statuses over the RPC were wrong`);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await fs.close();
  }
}

export async function runWorkerScaleBench(argv: string[] = process.argv.slice(2)): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      entries: { type: 'string' },
      pages: { type: 'string' },
      stats: { type: 'string' },
      profile: { type: 'string' },
      'floor-many': { type: 'string' },
    },
    strict: false,
  });
  const entries = Number(values.entries ?? 10_000_000);
  const pages = Number(values.pages ?? 1_000_000);
  const stats = Number(values.stats ?? 300_000);
  const [manyBatch, manyLanes] = String(values['floor-many'] ?? '64,4')
    .split(',')
    .map(Number) as [number, number];
  const perDir = 1000;
  const dirs = Math.ceil(entries / perDir);
  const n = dirs * perDir;
  const tmp = await tempDir('worker-scale');
  const dataDir = join(tmp.dir, 'data');
  const origin = join(tmp.dir, 'origin');
  mkdirSync(origin, { recursive: true });
  const rows: Row[] = [];
  const label = `${(n / 1e6).toFixed(n >= 1e6 ? 0 : 1)} M entries, ${(pages / 1e6).toFixed(pages >= 1e6 ? 0 : 1)} M disk pages`;
  try {
    const tw = performance.now();
    writePages(join(dataDir, 'pages'), pages);
    process.stderr.write(
      `worker-scale: ${pages} page files in ${((performance.now() - tw) / 1000).toFixed(1)} s\n`,
    );

    const first = await Child.start(dataDir, origin);
    process.stderr.write(
      `worker-scale: first start (${first.ready.diskPages} pages by ${first.ready.diskIndexSources.join(',')}) ${first.secs.toFixed(1)} s\n`,
    );
    const filled = await first.child.send({ cmd: 'fill', dirs, perDir });
    const fillPeak = await first.child.procMiB('VmHWM');
    process.stderr.write(
      `worker-scale: ${n} records in ${(filled.ms / 1000).toFixed(1)} s, peak RSS ${fillPeak.toFixed(0)} MiB\n`,
    );
    await first.child.stop();

    const again = await Child.start(dataDir, origin);
    if (again.ready.diskIndexSources[0] !== 'index-file' || again.ready.diskPages !== pages)
      throw new Error(
        `restart found ${again.ready.diskPages} pages by ${again.ready.diskIndexSources.join(',')}`,
      );
    await again.child.send({ cmd: 'shape', dirs, perDir });
    // Unmeasured: as many raw reads as the rows below make, so the first row (status in process)
    // does not pay alone for warming LevelDB's and the OS's caches the floor rows then find warm.
    await again.child.send({ cmd: 'floor', n: stats, lanes: manyLanes, batch: manyBatch });
    const profile = typeof values.profile === 'string' ? { profile: resolve(values.profile) } : {};
    const inProc = await again.child.send({ cmd: 'stat', n: stats, lanes: 64, ...profile });
    if (inProc.wrong !== 0) throw new Error(`${inProc.wrong} statuses in process were wrong`);
    const inProcRate = stats / (inProc.ms / 1000);
    // The floor, right after in the same child: the same random keys, raw engine reads only.
    const floorGet = await again.child.send({ cmd: 'floor', n: stats, lanes: 64, batch: 1 });
    const floorMany = await again.child.send({ cmd: 'floor', n: stats, lanes: manyLanes, batch: manyBatch });
    if (floorGet.wrong !== 0 || floorMany.wrong !== 0) throw new Error('floor reads missed keys');
    const floorGetRate = stats / (floorGet.ms / 1000);
    const floorManyRate = stats / (floorMany.ms / 1000);
    const rpcRate = await statOverRpc(again.ready, stats, dirs, perDir);
    const rss = await again.child.procMiB('VmRSS');
    const peak = await again.child.procMiB('VmHWM');
    await again.child.kill9();

    const crashed = await Child.start(dataDir, origin);
    const crashSource = crashed.ready.diskIndexSources.join(',');
    await crashed.child.stop();

    rows.push(
      row(
        `${label}: worker RSS after random stats (peak ${peak.toFixed(0)} MiB)`,
        `${rss.toFixed(0)} MiB`,
        '1 GiB',
        (rss * 1024 * 1024) / GiB,
        { max: 1 },
      ),
      row(
        `${label}: random cached status() in process, 64 in flight`,
        `${Math.round(inProcRate)}/s`,
        '100,000/s',
        inProcRate / 100_000,
        { min: 1 },
      ),
      row(
        `${label}: floor — raw LevelDB get of the same random keys, 64 in flight, no decoding`,
        `${Math.round(floorGetRate)}/s`,
        '100,000/s (the status() target)',
        floorGetRate / 100_000,
      ),
      row(
        `${label}: floor — raw LevelDB getMany of ${manyBatch} keys, ${manyLanes} in flight, no decoding`,
        `${Math.round(floorManyRate)}/s`,
        '100,000/s (the status() target)',
        floorManyRate / 100_000,
      ),
      row(
        `${label}: in-process status() ÷ the better floor`,
        `${Math.round(inProcRate)}/s`,
        `${Math.round(Math.max(floorGetRate, floorManyRate))}/s`,
        inProcRate / Math.max(floorGetRate, floorManyRate),
      ),
      row(
        `${label}: random cached status() over the RPC (another process, 64 in flight)`,
        `${Math.round(rpcRate)}/s`,
        '20,000/s',
        rpcRate / 20_000,
        { min: 1 },
      ),
      row(
        `${label}: restart after a clean stop, spawn → ready (disk index from its file)`,
        `${again.secs.toFixed(1)} s`,
        '10 s',
        again.secs / 10,
        { max: 1 },
      ),
      row(
        `${label}: restart after kill -9, spawn → ready (disk tier ${crashSource})`,
        `${crashed.secs.toFixed(1)} s`,
        '10 s',
        crashed.secs / 10,
      ),
      row(
        `${label}: writing the records (putListingChunk, 1,000 a chunk; peak RSS ${fillPeak.toFixed(0)} MiB)`,
        `${(filled.ms / 1000).toFixed(1)} s`,
        `${n} records`,
        filled.ms / 1000 / (n / 1e6),
      ),
    );
  } finally {
    // rm -rf: node's recursive rm takes minutes over a million files.
    await new Promise((ok) => spawn('rm', ['-rf', tmp.dir]).once('exit', ok));
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runWorkerScaleBench();
  printTable('worker scale', rows);
  process.stdout.write(`results: ${await saveResults('worker-scale', rows)}\n`);
}
