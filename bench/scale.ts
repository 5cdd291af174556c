/**
 * Scale benchmark (issue 17, "3,000 workers, 30,000 clients"): the ring and the client side of a
 * 3,000-worker cluster in one process, and membership against a real local etcd
 * (bench/scale-etcd.ts). docs/scale.md holds the model these figures feed.
 *
 *   ring build      : createRing() of 3,000 capacity-weighted workers (1–4 TB), best of 7 warm builds
 *   one joins       : createRing() of the 3,001-worker set (a rebuild; best of 7 different joiners)
 *   balance         : worst worker's share of 300k keys ÷ its weighted share (info)
 *   lookups         : owners(key, 1) and owners(key, 3) per second on the 3,000-worker ring (info)
 *   client memory   : heap + array buffers an OwnerRouter holds for 3,000 workers, measured in a
 *                     child process after GC (node --expose-gc), so nothing else is counted
 *
 * Usage: node dist/bench/scale.js [--workers 3000] [--watchers 5000] [--no-etcd]
 *        node --expose-gc dist/bench/scale.js --child-memory N   (internal: prints one JSON line)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { OwnerRouter } from '../src/client/owner-router.js';
import {
  createRing,
  DEFAULT_RING_ALGORITHM,
  type RingAlgorithm,
  type RingNode,
} from '../src/cluster/ring.js';
import { MaglevRing } from '../src/cluster/ring-maglev.js';
import type { WorkerInfo } from '../src/registry/registry.js';
import { printTable, type Row, row } from './report.js';
import { samplePaths } from './ring.js';
import { runEtcdScale, scaleWorkers } from './scale-etcd.js';

const TB = 1e12;

const ringNodes = (ws: readonly WorkerInfo[]): RingNode[] =>
  ws.map((w) => ({ id: w.id, weight: w.capacityBytes }));

// Best of N, as bench/ring.ts does for rates: on 2 cores shared with other work, the slower runs
// measure the neighbours, not the ring.
const best = (xs: number[]): number => Math.min(...xs);

function timeMs(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** Build and join times of one algorithm, plus the cold (first, un-JITted) build. */
export function ringTimes(
  nodes: readonly RingNode[],
  algorithm: RingAlgorithm,
  runs = 7,
): { coldMs: number; buildMs: number; joinMs: number } {
  const coldMs = timeMs(() => createRing(nodes, { algorithm }));
  const builds: number[] = [];
  const joins: number[] = [];
  for (let r = 0; r < runs; r++) {
    builds.push(timeMs(() => createRing(nodes, { algorithm })));
    const joiner = { id: `w-joiner-${r}`, weight: 2 * TB };
    joins.push(timeMs(() => createRing([...nodes, joiner], { algorithm })));
  }
  return { coldMs, buildMs: best(builds), joinMs: best(joins) };
}

function ratePerSec(keys: readonly string[], op: (k: string) => unknown): number {
  let best = 0;
  let sink = 0;
  for (let pass = 0; pass < 3; pass++) {
    const t = performance.now();
    let calls = 0;
    do {
      for (const k of keys) if (op(k) !== undefined) sink++;
      calls += keys.length;
    } while (performance.now() - t < 300);
    best = Math.max(best, calls / ((performance.now() - t) / 1000));
  }
  if (sink < 0) process.stdout.write('');
  return best;
}

/** Child-process half of the memory row: heap + buffers held by a router following `count` workers. */
function childMemory(count: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const workers = scaleWorkers(count);
  gc();
  gc();
  const before = process.memoryUsage();
  // A client learns the membership as JSON from etcd: parse it, as the registry does.
  const parsed = workers.map((w) => JSON.parse(JSON.stringify(w)) as WorkerInfo);
  const router = new OwnerRouter({});
  router.setWorkers(parsed);
  gc();
  gc();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  // A client that has talked to every worker also holds one RemoteFileSystem (HTTP pool) each;
  // created here without connecting, so sockets and TLS state are not counted.
  for (const w of router.liveWorkers()) router.client(w);
  gc();
  gc();
  const pools = process.memoryUsage();
  const poolBytes = pools.heapUsed - after.heapUsed + (pools.arrayBuffers - after.arrayBuffers);
  process.stdout.write(`${JSON.stringify({ bytes, poolBytes, size: router.size })}\n`);
}

export function clientMemoryBytes(count: number): { bytes: number; poolBytes: number } {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, ['--expose-gc', script, '--child-memory', String(count)], {
    encoding: 'utf8',
  });
  const { bytes, poolBytes, size } = JSON.parse(out.trim().split('\n').pop()!) as {
    bytes: number;
    poolBytes: number;
    size: number;
  };
  if (size !== count) throw new Error(`child router holds ${size} workers, expected ${count}`);
  return { bytes, poolBytes };
}

/** Worst node's slots ÷ its weighted share of the table, at the given table size (exact, no key noise). */
function tableBalance(nodes: readonly RingNode[], tableSize?: number): number {
  const ring = createRing(
    nodes,
    tableSize === undefined ? { algorithm: 'maglev' } : { algorithm: 'maglev', tableSize },
  );
  if (!(ring instanceof MaglevRing)) throw new Error('expected a Maglev ring');
  const counts = ring.slotCounts();
  const total = ring.nodes.reduce((s, n) => s + n.weight, 0);
  let worst = 0;
  ring.nodes.forEach((n, i) => {
    worst = Math.max(worst, counts[i]! / ((ring.tableSize * n.weight) / total));
  });
  return worst;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

export async function runScaleBench(argv: string[]): Promise<Row[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '3000' },
      watchers: { type: 'string', default: '5000' },
      'no-etcd': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.workers);
  const workers = scaleWorkers(count);
  const nodes = ringNodes(workers);
  const rows: Row[] = [];
  const alg = DEFAULT_RING_ALGORITHM;

  const t = ringTimes(nodes, alg);
  rows.push(
    row(
      `ring build, ${count} weighted workers (${alg}, default)`,
      ms(t.buildMs),
      'target 50 ms',
      t.buildMs / 50,
      {
        max: 1,
      },
    ),
    row(`ring build, first in the process (${alg}, cold JIT)`, ms(t.coldMs), 'target 50 ms', t.coldMs / 50),
    row(`ring: 1 worker joins ${count} (${alg} rebuild)`, ms(t.joinMs), 'target 10 ms', t.joinMs / 10, {
      max: 1,
    }),
  );
  for (const other of ['jump', 'ketama'] as const) {
    const o = ringTimes(nodes, other, 3);
    rows.push(
      row(
        `ring build / join, ${count} workers (${other})`,
        `${ms(o.buildMs)} / ${ms(o.joinMs)}`,
        'target 50 / 10 ms',
        o.buildMs / 50,
      ),
    );
  }

  const keys = samplePaths(300_000);
  // Maglev's table size is part of the placement contract; a larger one would balance better.
  for (const size of [undefined, 655_373]) {
    const worst = tableBalance(nodes, size);
    const label = size === undefined ? 'default table 65537' : `table ${size}`;
    rows.push(
      row(
        `maglev balance, ${count} workers at 1–4 TB, ${label}: worst ÷ weighted share`,
        worst.toFixed(3),
        'ideal 1',
        worst,
      ),
    );
  }
  const big = best(
    [0, 1, 2].map(() => timeMs(() => createRing(nodes, { algorithm: 'maglev', tableSize: 655_373 }))),
  );
  rows.push(row('maglev build with table 655373 (10× default)', ms(big), 'target 50 ms', big / 50));

  // Disruption at this size: Maglev's stray moves (between unchanged workers) grow with N.
  {
    const joiner = { id: 'w-joiner', weight: 2 * TB };
    const before = createRing(nodes);
    const after = createRing([...nodes, joiner]);
    let moved = 0;
    let stray = 0;
    for (const k of keys) {
      const a = before.primary(k);
      const b = after.primary(k);
      if (a !== b) {
        moved++;
        if (b !== joiner.id) stray++;
      }
    }
    const ideal = joiner.weight / (nodes.reduce((s, n) => s + n.weight, 0) + joiner.weight);
    const f = moved / keys.length;
    rows.push(
      row(
        `keys moved when 1 joins ${count} (${alg})`,
        `${(f * 100).toFixed(3)}% (stray ${((stray / keys.length) * 100).toFixed(3)}%)`,
        `ideal ${(ideal * 100).toFixed(3)}%`,
        f / ideal,
      ),
    );
  }

  const ring = createRing(nodes);
  const one = ratePerSec(keys, (k) => ring.primary(k));
  const three = ratePerSec(keys, (k) => ring.owners(k, 3));
  rows.push(
    row(
      `ring lookups owners(k,1), ${count} workers`,
      `${(one / 1e6).toFixed(2)} M/s`,
      'target 1 M/s',
      one / 1e6,
      { min: 1 },
    ),
    row(`ring lookups owners(k,3), ${count} workers`, `${(three / 1e6).toFixed(2)} M/s`, 'info', three / 1e6),
  );

  const mem = clientMemoryBytes(count);
  const mib = mem.bytes / 2 ** 20;
  rows.push(
    row(
      `client memory for the ${count}-worker ring (router + WorkerInfo)`,
      `${mib.toFixed(2)} MiB`,
      'target 50 MiB',
      mib / 50,
      {
        max: 1,
      },
    ),
  );

  const poolMib = mem.poolBytes / 2 ** 20;
  rows.push(
    row(
      `client: + one RemoteFileSystem per worker (${count}, unconnected)`,
      `${poolMib.toFixed(2)} MiB`,
      'info',
      poolMib,
    ),
  );

  if (!values['no-etcd']) {
    rows.push(...(await runEtcdScale({ workers: count, watchers: Number(values.watchers) })));
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const child = process.argv.indexOf('--child-memory');
  if (child >= 0) childMemory(Number(process.argv[child + 1]));
  else printTable('Scale benchmark (ratios against the targets)', await runScaleBench(process.argv.slice(2)));
}
