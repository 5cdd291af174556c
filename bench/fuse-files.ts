/**
 * FUSE per-file costs (issue 15 item 5, issue 17 item 3), ratios from one run against the origin
 * folder on the same disk:
 *  - warm small files: N × S bytes, R reader processes each opening/reading/closing its share,
 *    throughput through the mount ÷ the same on the local folder (target ≥ 0.5);
 *  - `find` over M files (1,000 per directory), warm, time ÷ `find` on the origin (target ≤ 2).
 * The Strata mount is a `file://` mount of the origin with `--sync-interval` (default -1: trust
 * the cache, kernel timeouts 60 s), so warm runs measure the FUSE path, not the store.
 * Run: node dist/bench/fuse-files.js [--files 100000] [--small 2000] [--small-kib 64]
 *      [--readers 4] [--rounds 3] [--sync-interval -1]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { forceUnmount, type RunningFuse, sh, startFuse } from '../test/fuse/fuse-helpers.js';
import { type RunningStrata, runCli, startLocal, tempDir } from '../test/helpers/local-process.js';
import { printTable, type Row, row, saveResults } from './report.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * R python processes, each open/read/close of every R-th file of `list`; the wall seconds from the
 * first reader's start to the last one's end (interpreter start-up excluded: it would hide both).
 */
async function readAll(list: string, readers: number, script: string): Promise<number> {
  const r = await sh(
    `${Array.from({ length: readers }, (_, i) => `python3 ${script} ${list} ${i} ${readers} &`).join(' ')} wait`,
    600_000,
  );
  const spans = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number));
  // `wait` hides a reader's failure: every reader must report its span.
  if (r.code !== 0 || spans.length !== readers || spans.some((s) => s.length !== 3))
    throw new Error(`readers: ${r.stdout} ${r.stderr}`);
  return Math.max(...spans.map((s) => s[1] ?? 0)) - Math.min(...spans.map((s) => s[0] ?? 0));
}

/** One reader: open/read/close every R-th file of the list; prints start, end, bytes. */
const READER_PY = `import os, sys, time
files = [f for f in open(sys.argv[1]).read().split("\\n")[int(sys.argv[2])::int(sys.argv[3])] if f]
t = time.time()
n = 0
for f in files:
    with open(f, "rb") as h:
        n += len(h.read())
# One write(2) per reader: print() to a pipe shared by R readers could interleave their lines.
os.write(1, ("%r %r %d\\n" % (t, time.time(), n)).encode())
`;

async function seconds(cmd: string): Promise<number> {
  const r = await sh(cmd, 600_000);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.ms / 1000;
}

export async function runFuseFilesBench(argv: string[] = []): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string' },
      small: { type: 'string' },
      'small-kib': { type: 'string' },
      readers: { type: 'string' },
      rounds: { type: 'string' },
      'sync-interval': { type: 'string' },
    },
    strict: false,
  });
  const files = Number(values.files ?? 100_000);
  const small = Number(values.small ?? 2000);
  const smallKiB = Number(values['small-kib'] ?? 64);
  const readers = Number(values.readers ?? 4);
  const rounds = Number(values.rounds ?? 3);
  const syncInterval = String(values['sync-interval'] ?? '-1');
  const tmp = await tempDir('bench-fuse-files');
  const origin = join(tmp.dir, 'origin');
  const mnt = join(tmp.dir, 'mnt');
  let local: RunningStrata | undefined;
  let fuse: RunningFuse | undefined;
  const rows: Row[] = [];
  try {
    await mkdir(mnt);
    const perDir = 1000;
    for (let d = 0; d * perDir < files; d++) {
      const dir = join(origin, 'many', `d${d}`);
      await mkdir(dir, { recursive: true });
      const n = Math.min(perDir, files - d * perDir);
      await Promise.all(Array.from({ length: n }, (_, i) => writeFile(join(dir, `f${i}`), '')));
    }
    const body = Buffer.alloc(smallKiB * 1024, 0x5a);
    await mkdir(join(origin, 'small'), { recursive: true });
    for (let i = 0; i < small; i += 200)
      await Promise.all(
        Array.from({ length: Math.min(200, small - i) }, (_, j) =>
          writeFile(join(origin, 'small', `s${i + j}.bin`), body),
        ),
      );
    local = await startLocal(['--data-dir', join(tmp.dir, 'data'), '--memory-capacity', '1GiB']);
    const m = await runCli(['fs', 'mount', `--sync-interval=${syncInterval}`, '/o', `file://${origin}`], {
      registry: local.registry,
    });
    if (m.code !== 0) throw new Error(`fs mount: ${m.stderr}`);
    fuse = await startFuse(local.registry, mnt);
    const config = `${readers} readers, sync interval ${syncInterval} ms, ${small} × ${smallKiB} KiB`;

    // Small files: one list per tree; the first round through the mount fills the worker cache.
    const names = Array.from({ length: small }, (_, i) => `s${i}.bin`);
    const listM = join(tmp.dir, 'small-mnt.txt');
    const listL = join(tmp.dir, 'small-local.txt');
    await writeFile(listM, names.map((n) => join(mnt, 'o', 'small', n)).join('\n'));
    await writeFile(listL, names.map((n) => join(origin, 'small', n)).join('\n'));
    const script = join(tmp.dir, 'reader.py');
    await writeFile(script, READER_PY);
    await readAll(listM, readers, script);
    await readAll(listL, readers, script);
    const tm: number[] = [];
    const tl: number[] = [];
    for (let r = 0; r < rounds; r++) {
      tm.push(await readAll(listM, readers, script));
      tl.push(await readAll(listL, readers, script));
    }
    const mib = (small * smallKiB) / 1024;
    const rate = (t: number) => `${(small / t).toFixed(0)} files/s (${(mib / t).toFixed(0)} MiB/s)`;
    rows.push(
      row(
        `warm small files ${config}, throughput ÷ local folder`,
        rate(median(tm)),
        rate(median(tl)),
        median(tl) / median(tm),
        { min: 0.5 },
      ),
    );

    // find: the first run through the mount fills the worker's listings and the kernel caches.
    const count = (await sh(`find ${mnt}/o/many -type f | wc -l`, 600_000)).stdout.trim();
    if (count !== String(files)) throw new Error(`find through the mount counted ${count}, not ${files}`);
    const fm: number[] = [];
    const fo: number[] = [];
    for (let r = 0; r < rounds; r++) {
      fm.push(await seconds(`find ${mnt}/o/many > /dev/null`));
      fo.push(await seconds(`find ${origin}/many > /dev/null`));
    }
    rows.push(
      row(
        `find over ${files} files (1,000 per dir) warm, sync interval ${syncInterval} ms, time ÷ origin`,
        `${median(fm).toFixed(2)} s`,
        `${median(fo).toFixed(2)} s`,
        median(fm) / median(fo),
        { max: 2 },
      ),
    );
    return rows;
  } finally {
    await fuse?.stop().catch(() => undefined);
    await forceUnmount(mnt);
    await local?.stop();
    await tmp.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runFuseFilesBench(process.argv.slice(2));
  printTable(`Strata FUSE per-file benchmarks (${new Date().toISOString()})`, rows);
  process.stdout.write(`\nresults: ${await saveResults('fuse-files', rows)}\n`);
}
