/**
 * Embedded KV measurement for the metadata store: classic-level (LevelDB) vs lmdb on our access
 * pattern — path-like keys laid out as the store lays them out ('s' + parent + '\0' + name),
 * ~150-byte JSON values, random insert order.
 *
 *   node dist/bench/kv.js [--keys 200000] [--dir /var/tmp]
 *
 * Phases: (a) insert in batches of 1,000; (b) random point gets (level async one-at-a-time, level
 * async 64 in flight, level getSync, lmdb sync get); (c) range scan of one directory's ~1,000
 * children; (d) single durable (fsync'd) puts, one after another, as the journal does them.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';

const CHILDREN_PER_DIR = 1000;
const BATCH = 1000;
const GETS = 100_000;
const SCANS = 200;
const SYNC_PUT_MS = 3000;

interface Row {
  engine: string;
  phase: string;
  opsPerSec: number;
  note: string;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v ?? fallback;
}

/** Deterministic PRNG so both engines see the same keys in the same order. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(r: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += Math.floor(r() * 16).toString(16);
  return out;
}

function dirOf(d: number): string {
  return `/mnt/data/year=${2000 + Math.floor(d / 12)}/month=${String((d % 12) + 1).padStart(2, '0')}`;
}

interface Dataset {
  keys: string[];
  values: string[];
  dirs: number;
}

function makeDataset(n: number): Dataset {
  const r = rng(42);
  const dirs = Math.max(1, Math.ceil(n / CHILDREN_PER_DIR));
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = Math.floor(i / CHILDREN_PER_DIR);
    const name = `part-${String(i % CHILDREN_PER_DIR).padStart(5, '0')}-${hex(r, 12)}.parquet`;
    const dir = dirOf(d);
    keys.push(`s${dir}\x00${name}`);
    const size = Math.floor(r() * 1e9);
    const mtimeMs = 1_700_000_000_000 + Math.floor(r() * 1e10);
    const etag = hex(r, 16);
    values.push(
      JSON.stringify({
        type: 'file',
        size,
        mtimeMs,
        etag,
        fingerprint: `${size}:${mtimeMs}:${etag}`,
        syncedAtMs: mtimeMs,
      }),
    );
  }
  // Fisher–Yates: random insert order.
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const k = keys[i] as string;
    keys[i] = keys[j] as string;
    keys[j] = k;
    const v = values[i] as string;
    values[i] = values[j] as string;
    values[j] = v;
  }
  return { keys, values, dirs };
}

async function duBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await duBytes(p) : (await stat(p)).blocks * 512;
  }
  return total;
}

function rate(ops: number, startNs: bigint): number {
  return ops / (Number(process.hrtime.bigint() - startNs) / 1e9);
}

function pickKeys(ds: Dataset, count: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(ds.keys[Math.floor(r() * ds.keys.length)] as string);
  return out;
}

function scanBounds(d: number): { gt: string; lt: string } {
  const dir = dirOf(d);
  return { gt: `s${dir}\x00`, lt: `s${dir}\x01` };
}

async function benchLevel(ds: Dataset, base: string, rows: Row[]): Promise<void> {
  const dir = join(base, 'level');
  const db = new ClassicLevel<string, string>(dir);
  await db.open();
  const n = ds.keys.length;

  let t = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      ops.push({ type: 'put' as const, key: ds.keys[j] as string, value: ds.values[j] as string });
    }
    await db.batch(ops);
  }
  rows.push({ engine: 'classic-level', phase: 'insert (batches of 1,000)', opsPerSec: rate(n, t), note: '' });

  const gets = pickKeys(ds, GETS, 7);
  t = process.hrtime.bigint();
  let found = 0;
  for (const k of gets) if ((await db.get(k)) !== undefined) found++;
  rows.push({
    engine: 'classic-level',
    phase: 'get async, 1 in flight',
    opsPerSec: rate(GETS, t),
    note: `${found} hits`,
  });

  t = process.hrtime.bigint();
  found = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < gets.length) {
        const k = gets[next++] as string;
        if ((await db.get(k)) !== undefined) found++;
      }
    }),
  );
  rows.push({
    engine: 'classic-level',
    phase: 'get async, 64 in flight',
    opsPerSec: rate(GETS, t),
    note: `${found} hits`,
  });

  t = process.hrtime.bigint();
  found = 0;
  for (const k of gets) if (db.getSync(k) !== undefined) found++;
  rows.push({ engine: 'classic-level', phase: 'getSync', opsPerSec: rate(GETS, t), note: `${found} hits` });

  const r = rng(9);
  t = process.hrtime.bigint();
  let entries = 0;
  for (let i = 0; i < SCANS; i++) {
    const all = await db.iterator(scanBounds(Math.floor(r() * ds.dirs))).all();
    entries += all.length;
  }
  rows.push({
    engine: 'classic-level',
    phase: 'dir scan (~1,000 children)',
    opsPerSec: rate(SCANS, t),
    note: `${Math.round(entries / SCANS)} entries/scan`,
  });

  const size = await duBytes(dir);
  t = process.hrtime.bigint();
  let puts = 0;
  const until = Date.now() + SYNC_PUT_MS;
  while (Date.now() < until) await db.put(`j${puts++}`, ds.values[0] as string, { sync: true });
  rows.push({
    engine: 'classic-level',
    phase: 'durable single put',
    opsPerSec: rate(puts, t),
    note: 'put {sync:true}',
  });
  await db.close();
  rows.push({
    engine: 'classic-level',
    phase: 'disk size',
    opsPerSec: Number.NaN,
    note: `${(size / 1e6).toFixed(1)} MB`,
  });
}

async function benchLmdb(ds: Dataset, base: string, rows: Row[]): Promise<void> {
  const dir = join(base, 'lmdb');
  // Buffer keys (binary) so the '\0' separator sorts byte-wise, exactly like LevelDB.
  const db = openLmdb<string, Buffer>({ path: dir, encoding: 'string', keyEncoding: 'binary' });
  const n = ds.keys.length;
  const bufKeys = ds.keys.map((k) => Buffer.from(k));

  let t = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    await db.transaction(() => {
      for (let j = i; j < Math.min(n, i + BATCH); j++)
        void db.put(bufKeys[j] as Buffer, ds.values[j] as string);
    });
  }
  rows.push({
    engine: 'lmdb',
    phase: 'insert (batches of 1,000)',
    opsPerSec: rate(n, t),
    note: 'fsync per commit',
  });

  const gets = pickKeys(ds, GETS, 7).map((k) => Buffer.from(k));
  t = process.hrtime.bigint();
  let found = 0;
  for (const k of gets) if (db.get(k) !== undefined) found++;
  rows.push({ engine: 'lmdb', phase: 'get (sync, mmap)', opsPerSec: rate(GETS, t), note: `${found} hits` });

  const r = rng(9);
  t = process.hrtime.bigint();
  let entries = 0;
  for (let i = 0; i < SCANS; i++) {
    const { gt, lt } = scanBounds(Math.floor(r() * ds.dirs));
    // lmdb's start is inclusive: gt+'' vs start — no key equals the bare prefix, so equivalent.
    for (const _ of db.getRange({ start: Buffer.from(gt), end: Buffer.from(lt) })) entries++;
  }
  rows.push({
    engine: 'lmdb',
    phase: 'dir scan (~1,000 children)',
    opsPerSec: rate(SCANS, t),
    note: `${Math.round(entries / SCANS)} entries/scan`,
  });

  const size = await duBytes(dir);
  t = process.hrtime.bigint();
  let puts = 0;
  const until = Date.now() + SYNC_PUT_MS;
  while (Date.now() < until) await db.put(Buffer.from(`j${puts++}`), ds.values[0] as string);
  rows.push({
    engine: 'lmdb',
    phase: 'durable single put',
    opsPerSec: rate(puts, t),
    note: 'await put (commit+fsync)',
  });
  await db.close();
  rows.push({
    engine: 'lmdb',
    phase: 'disk size',
    opsPerSec: Number.NaN,
    note: `${(size / 1e6).toFixed(1)} MB`,
  });
}

function printTable(rows: Row[]): void {
  const fmt = (n: number): string => (Number.isNaN(n) ? '' : Math.round(n).toLocaleString('en-US'));
  const lines = rows.map((r) => [r.engine, r.phase, fmt(r.opsPerSec), r.note]);
  const head = ['engine', 'phase', 'ops/s', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join(' | ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const l of lines) console.log(line(l));
}

async function main(): Promise<void> {
  const n = Number(arg('keys', '200000'));
  if (!Number.isInteger(n) || n <= 0) throw new Error('--keys must be a positive integer');
  const base = await mkdtemp(join(arg('dir', tmpdir()), 'strata-kv-bench-'));
  try {
    const ds = makeDataset(n);
    const avgKey = ds.keys.reduce((a, k) => a + Buffer.byteLength(k), 0) / n;
    const avgVal = ds.values.reduce((a, v) => a + Buffer.byteLength(v), 0) / n;
    console.log(
      `keys=${n} avgKey=${avgKey.toFixed(0)}B avgValue=${avgVal.toFixed(0)}B dirs=${ds.dirs} base=${base}`,
    );
    const rows: Row[] = [];
    await benchLevel(ds, base, rows);
    await benchLmdb(ds, base, rows);
    printTable(rows);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
