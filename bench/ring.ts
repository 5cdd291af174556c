/**
 * Ring benchmark: compares the three placement algorithms of src/cluster/ring.ts on the figures
 * DESIGN.md asks of placement. Each row's ratio is against the ideal (or, for rates, a baseline
 * measured in this run):
 *
 *   moved on join   : fraction of keys whose primary changes when 1 worker joins 10 ÷ ideal 1/11
 *   moved on leave  : same when an arbitrary 1 of 11 leaves (one in the middle of the id order)
 *   max/mean        : most-loaded worker's keys ÷ mean, 100 equal workers
 *   weighted        : half of 100 workers at 2× weight: worst worker's keys ÷ its weighted share
 *   lookup rate     : owners(key, 1) calls/s on 100 workers ÷ the bare murmur3 rate (interleaved)
 *   hash rate       : JS murmur3 ÷ node:crypto md5 per key (how the hash was chosen)
 *
 * Usage: node dist/bench/ring.js [--keys N]   (default 1,000,000 paths)
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hash32 } from '../src/cluster/hash.js';
import {
  createRing,
  type HashRing,
  RING_ALGORITHMS,
  type RingAlgorithm,
  type RingNode,
} from '../src/cluster/ring.js';
import { printTable, type Row } from './report.js';

const DATASETS = ['sales', 'logs', 'events', 'clicks', 'ml/features', 'warehouse/orders', 'tmp'];

/** Paths shaped like real data-lake keys: /sales/2024/07/part-00042.parquet */
export function samplePaths(count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const ds = DATASETS[i % DATASETS.length]!;
    const year = 2015 + ((i >>> 3) % 10);
    const month = String(1 + ((i >>> 5) % 12)).padStart(2, '0');
    out[i] = `/${ds}/${year}/${month}/part-${String(i).padStart(5, '0')}.parquet`;
  }
  return out;
}

function workers(count: number, weight: (i: number) => number = () => 1): RingNode[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `worker-${String(i).padStart(3, '0')}`,
    weight: weight(i),
  }));
}

function primaries(ring: HashRing, keys: readonly string[]): string[] {
  return keys.map((k) => ring.primary(k)!);
}

function movedFraction(before: readonly string[], after: readonly string[]): number {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}

/** Keys whose primary moved between two nodes that are both in the old and the new ring. */
function strayFraction(before: readonly string[], after: readonly string[], changed: string): number {
  let stray = 0;
  for (let i = 0; i < before.length; i++)
    if (before[i] !== after[i] && before[i] !== changed && after[i] !== changed) stray++;
  return stray / before.length;
}

function counts(ring: HashRing, keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>(ring.nodes.map((n) => [n.id, 0]));
  for (const k of keys) {
    const p = ring.primary(k)!;
    m.set(p, m.get(p)! + 1);
  }
  return m;
}

/**
 * Calls/s of each op over `keys`. Passes are interleaved (op1, op2, …, op1, …) and the best pass
 * of each kept, so every op sees the same background load on a shared machine.
 */
function rates(
  keys: readonly string[],
  ops: Record<string, (k: string) => unknown>,
  passes = 5,
): Map<string, number> {
  const best = new Map<string, number>();
  let sink = 0;
  for (let pass = 0; pass < passes; pass++)
    for (const [name, op] of Object.entries(ops)) {
      const t = performance.now();
      let calls = 0;
      do {
        for (const k of keys) if (op(k) !== undefined) sink++;
        calls += keys.length;
      } while (performance.now() - t < 200);
      best.set(name, Math.max(best.get(name) ?? 0, calls / ((performance.now() - t) / 1000)));
    }
  if (sink < 0) process.stdout.write(''); // keeps the calls observable
  return best;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const mps = (x: number) => `${(x / 1e6).toFixed(2)} M/s`;

function placementRows(algorithm: RingAlgorithm, keys: readonly string[]): Row[] {
  const rows: Row[] = [];
  const ideal = 1 / 11;

  // (a) 10 → 11: the joining id sorts in the middle, as real ids (hostnames, UUIDs) generally do.
  const ten = workers(10);
  const joiner: RingNode = { id: 'worker-004b', weight: 1 };
  const before = primaries(createRing(ten, { algorithm }), keys);
  const afterJoin = primaries(createRing([...ten, joiner], { algorithm }), keys);
  const joined = movedFraction(before, afterJoin);
  rows.push({
    metric: `${algorithm}: keys moved, 1 joins 10`,
    strata: `${pct(joined)} (stray ${pct(strayFraction(before, afterJoin, joiner.id))})`,
    baseline: `ideal ${pct(ideal)}`,
    ratio: joined / ideal,
    target: '≤ 1.1',
    ok: joined / ideal <= 1.1,
  });

  // 11 → 10: an arbitrary worker (the middle one by id) leaves.
  const eleven = workers(11);
  const leaver = eleven[5]!;
  const b11 = primaries(createRing(eleven, { algorithm }), keys);
  const afterLeave = primaries(
    createRing(
      eleven.filter((n) => n !== leaver),
      { algorithm },
    ),
    keys,
  );
  const left = movedFraction(b11, afterLeave);
  rows.push({
    metric: `${algorithm}: keys moved, 1 of 11 leaves`,
    strata: `${pct(left)} (stray ${pct(strayFraction(b11, afterLeave, leaver.id))})`,
    baseline: `ideal ${pct(ideal)}`,
    ratio: left / ideal,
    target: '≤ 1.1',
    ok: left / ideal <= 1.1,
  });

  // (b) balance, 100 equal workers.
  const ring100 = createRing(workers(100), { algorithm });
  const c = [...counts(ring100, keys).values()];
  const maxMean = Math.max(...c) / (keys.length / 100);
  rows.push({
    metric: `${algorithm}: max/mean keys, 100 workers`,
    strata: `${Math.max(...c)} max, ${Math.min(...c)} min`,
    baseline: `${keys.length / 100} mean`,
    ratio: maxMean,
    target: '≤ 1.1',
    ok: maxMean <= 1.1,
  });

  // (c) weights: even-numbered workers have 2× capacity, so each should hold 2/150 of the keys.
  const weighted = createRing(
    workers(100, (i) => (i % 2 === 0 ? 2 : 1)),
    { algorithm },
  );
  const wc = counts(weighted, keys);
  let worst = 0;
  let heavy = 0;
  for (const n of weighted.nodes) {
    const expected = (keys.length * n.weight) / 150;
    worst = Math.max(worst, wc.get(n.id)! / expected);
    if (n.weight === 2) heavy += wc.get(n.id)!;
  }
  rows.push({
    metric: `${algorithm}: weighted worst/expected`,
    strata: `2x half hold ${pct(heavy / keys.length)}`,
    baseline: `ideal ${pct(2 / 3)}`,
    ratio: worst,
    target: '≤ 1.1',
    ok: worst <= 1.1,
  });

  // Replica-set churn when an arbitrary worker leaves: ideally only sets containing it change (3/11).
  const r11 = createRing(eleven, { algorithm });
  const r10 = createRing(
    eleven.filter((n) => n !== leaver),
    { algorithm },
  );
  let changedSets = 0;
  for (const k of keys.slice(0, 100_000)) {
    const a = r11.owners(k, 3);
    const b = r10.owners(k, 3);
    const lost = a.filter((x) => x !== leaver.id);
    if (!lost.every((x) => b.includes(x))) changedSets++;
  }
  rows.push({
    metric: `${algorithm}: n=3 sets losing a survivor, leave`,
    strata: pct(changedSets / 100_000),
    baseline: 'ideal 0%',
    ratio: changedSets / 100_000,
    target: '(info)',
    ok: true,
  });

  const t = performance.now();
  for (let i = 0; i < 10; i++) createRing(workers(100), { algorithm });
  const buildMs = (performance.now() - t) / 10;
  rows.push({
    metric: `${algorithm}: build time, 100 workers`,
    strata: `${buildMs.toFixed(2)} ms`,
    baseline: '-',
    ratio: buildMs,
    target: '(info)',
    ok: true,
  });
  return rows;
}

/** (d) lookup rates of every algorithm on 100 workers, and the key hash against node:crypto. */
function rateRows(keys: readonly string[]): Row[] {
  const sample = keys.slice(0, 100_000);
  const md5First4 = (k: string) => createHash('md5').update(k).digest().readUInt32LE(0);
  const rings = RING_ALGORITHMS.map((algorithm) => createRing(workers(100), { algorithm }));
  const ops: Record<string, (k: string) => unknown> = {
    murmur3: (k) => hash32(k),
    md5: md5First4,
    sha1: (k) => createHash('sha1').update(k).digest().readUInt32LE(0),
  };
  for (const r of rings) {
    ops[`${r.algorithm}/1`] = (k) => r.owners(k, 1);
    ops[`${r.algorithm}/3`] = (k) => r.owners(k, 3);
  }
  const got = rates(sample, ops);
  const at = (name: string) => got.get(name)!;
  // Uniformity: max/mean over 1024 buckets of the whole key set, against md5 (a random-looking hash).
  const spread = (h: (k: string) => number) => {
    const buckets = new Uint32Array(1024);
    for (const k of keys) buckets[h(k) & 1023]!++;
    return Math.max(...buckets) / (keys.length / 1024);
  };
  const mine = spread((k) => hash32(k));
  const ref = spread(md5First4);
  const rows: Row[] = [
    {
      metric: 'hash: murmur3 (JS) vs md5 (crypto)',
      strata: mps(at('murmur3')),
      baseline: `md5 ${mps(at('md5'))}, sha1 ${mps(at('sha1'))}`,
      ratio: at('murmur3') / at('md5'),
      target: '(info)',
      ok: true,
    },
    {
      metric: 'hash: murmur3 max/mean, 1024 buckets',
      strata: mine.toFixed(3),
      baseline: `md5 ${ref.toFixed(3)}`,
      ratio: mine / ref,
      target: '(info)',
      ok: true,
    },
  ];
  for (const a of RING_ALGORITHMS) {
    rows.push({
      metric: `${a}: owners(k,1) rate, 100 workers`,
      strata: mps(at(`${a}/1`)),
      baseline: `murmur3 ${mps(at('murmur3'))}`,
      ratio: at(`${a}/1`) / at('murmur3'),
      target: '≥ 1 M/s',
      ok: at(`${a}/1`) >= 1e6,
    });
    rows.push({
      metric: `${a}: owners(k,3) rate, 100 workers`,
      strata: mps(at(`${a}/3`)),
      baseline: `n=1 ${mps(at(`${a}/1`))}`,
      ratio: at(`${a}/3`) / at(`${a}/1`),
      target: '(info)',
      ok: true,
    });
  }
  return rows;
}

/** What the default settings of the losers would need, or do at best. */
function extraRows(keys: readonly string[]): Row[] {
  const ring = createRing(workers(100), { algorithm: 'ketama', virtualNodes: 1000 });
  const c = [...counts(ring, keys).values()];
  const maxMean = Math.max(...c) / (keys.length / 100);
  // Jump's good case: the joining worker's id sorts last, so its buckets are appended.
  const ten = workers(10);
  const before = primaries(createRing(ten, { algorithm: 'jump' }), keys);
  const after = primaries(createRing([...ten, { id: 'worker-999', weight: 1 }], { algorithm: 'jump' }), keys);
  const moved = movedFraction(before, after);
  return [
    {
      metric: 'ketama@1000 vnodes: max/mean, 100 workers',
      strata: `${Math.max(...c)} max`,
      baseline: `${keys.length / 100} mean`,
      ratio: maxMean,
      target: '(info)',
      ok: true,
    },
    {
      metric: 'jump: keys moved, joiner sorts last',
      strata: pct(moved),
      baseline: `ideal ${pct(1 / 11)}`,
      ratio: moved / (1 / 11),
      target: '(info)',
      ok: true,
    },
  ];
}

export function runRingBench(argv: string[] = process.argv.slice(2)): Row[] {
  const { values } = parseArgs({ args: argv, options: { keys: { type: 'string' } }, strict: false });
  const keys = samplePaths(Number(values.keys ?? 1_000_000));
  const placement = RING_ALGORITHMS.flatMap((a) => placementRows(a, keys));
  return [...placement, ...extraRows(keys), ...rateRows(keys)];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable(`Strata ring benchmark (${new Date().toISOString()})`, runRingBench());
}
