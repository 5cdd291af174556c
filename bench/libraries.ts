/**
 * Hand-written modules that docs/libraries.md keeps, measured against the npm packages that could
 * replace them, in one run on one machine. The packages are not dependencies of Strata; install
 * them beside it first, without saving:
 *
 *   npm install --no-save murmurhash@2.0.1 murmurhash3js-revisited@3.0.0 imurmurhash@0.1.4 \
 *     murmurhash3js@3.0.1 async-mutex@0.5.0
 *   npx tsc -p tsconfig.json && node dist/bench/libraries.js
 *
 * A package that is not installed is skipped. Rows:
 *   hash     : MurmurHash3_x86_32 of data-lake paths, hashes/s, and whether every output equals
 *              hash32's (placement must stay bit-identical), on ASCII and non-ASCII keys
 *   key lock : KeyLock.run() vs a Map of async-mutex Mutexes (the least a keyed lock needs on it)
 */
import { createRequire } from 'node:module';
import { hash32 } from '../src/cluster/hash.js';
import { KeyLock } from '../src/core/key-lock.js';
import { printTable, type Row, row } from './report.js';
import { samplePaths } from './ring.js';

const load = createRequire(import.meta.url);
function optional<T>(name: string): T | undefined {
  try {
    return load(name) as T;
  } catch {
    process.stderr.write(`(${name} not installed: skipped)\n`);
    return undefined;
  }
}

type Hash = (key: string, seed: number) => number;

/** Best rate of each function over `keys`, passes interleaved so all see the same load. */
function rates(keys: readonly string[], fns: Record<string, Hash>, passes = 5): Map<string, number> {
  const best = new Map<string, number>();
  let sink = 0;
  for (let pass = 0; pass < passes; pass++)
    for (const [name, fn] of Object.entries(fns)) {
      const t = performance.now();
      let calls = 0;
      do {
        for (const k of keys) sink ^= fn(k, 0);
        calls += keys.length;
      } while (performance.now() - t < 300);
      best.set(name, Math.max(best.get(name) ?? 0, calls / ((performance.now() - t) / 1000)));
    }
  if (sink === 0.5) process.stdout.write('');
  return best;
}

function hashRows(): Row[] {
  const encoder = new TextEncoder();
  const fns: Record<string, Hash> = { ours: hash32 };
  const mm = optional<{ v3: Hash }>('murmurhash');
  if (mm) fns['murmurhash@2 v3'] = (k, s) => mm.v3(k, s);
  const rev = optional<{ x86: { hash32(b: Uint8Array, s: number): number } }>('murmurhash3js-revisited');
  if (rev) fns['murmurhash3js-revisited@3'] = (k, s) => rev.x86.hash32(encoder.encode(k), s);
  const im = optional<(k: string, s: number) => { result(): number }>('imurmurhash');
  if (im) fns['imurmurhash@0.1'] = (k, s) => im(k, s).result();
  const m3 = optional<{ x86: { hash32: Hash } }>('murmurhash3js');
  if (m3) fns['murmurhash3js@3'] = (k, s) => m3.x86.hash32(k, s);

  const keys = samplePaths(1_000_000);
  const nonAscii = ['ππππππππ', '/ünï côde & space.txt', '/日本語/ファイル.parquet', '/😀/emoji', '/café/x'];
  const seeds = [0, 1, 0x9747b28c, 0xffffffff];
  const got = rates(keys, fns);
  const ours = got.get('ours')!;
  return Object.keys(fns).map((name) => {
    const fn = fns[name]!;
    let asciiDiff = 0;
    for (const k of keys.slice(0, 100_000)) if (fn(k, 0) !== hash32(k, 0)) asciiDiff++;
    let otherDiff = 0;
    for (const k of nonAscii) for (const s of seeds) if (fn(k, s) !== hash32(k, s)) otherDiff++;
    const r = got.get(name)!;
    return row(
      `hash: ${name}`,
      `${(r / 1e6).toFixed(2)} M/s (${(1e9 / r).toFixed(0)} ns)`,
      `differs: ${asciiDiff}/100000 ASCII, ${otherDiff}/${nonAscii.length * seeds.length} non-ASCII`,
      r / ours,
    );
  });
}

interface Mutex {
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  isLocked(): boolean;
}

async function lockRows(): Promise<Row[]> {
  const lib = optional<{ Mutex: new () => Mutex }>('async-mutex');
  const locks: Record<string, () => { run<T>(key: string, fn: () => Promise<T>): Promise<T> }> = {
    ours: () => new KeyLock(),
  };
  if (lib)
    locks['async-mutex@0.5'] = () => {
      const mutexes = new Map<string, Mutex>();
      return {
        async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
          let m = mutexes.get(key);
          if (m === undefined) {
            m = new lib.Mutex();
            mutexes.set(key, m);
          }
          try {
            return await m.runExclusive(fn);
          } finally {
            if (!m.isLocked() && mutexes.get(key) === m) mutexes.delete(key);
          }
        },
      };
    };
  const work = async () => 1;
  const n = 200_000;
  const best = new Map<string, { distinct: number; shared: number }>();
  for (let pass = 0; pass < 5; pass++)
    for (const [name, make] of Object.entries(locks)) {
      const b = best.get(name) ?? { distinct: 0, shared: 0 };
      for (const keys of [0, 10]) {
        const lock = make();
        const t = performance.now();
        for (let i = 0; i < n; i += 1000) {
          const batch: Promise<number>[] = [];
          for (let j = 0; j < 1000; j++) batch.push(lock.run(`k${keys === 0 ? i + j : j % keys}`, work));
          await Promise.all(batch);
        }
        const rate = n / ((performance.now() - t) / 1000);
        if (keys === 0) b.distinct = Math.max(b.distinct, rate);
        else b.shared = Math.max(b.shared, rate);
      }
      best.set(name, b);
    }
  const ours = best.get('ours')!;
  return [...best].map(([name, b]) =>
    row(
      `key lock: ${name}`,
      `${(b.distinct / 1e6).toFixed(2)} M runs/s (${(1e9 / b.distinct).toFixed(0)} ns), distinct keys`,
      `${(b.shared / 1e6).toFixed(2)} M runs/s on 10 keys`,
      b.distinct / ours.distinct,
    ),
  );
}

printTable('Kept hand-written modules vs npm packages (ratio: package rate ÷ ours)', [
  ...hashRows(),
  ...(await lockRows()),
]);
