/**
 * Eviction policies at scale: one evict + one insert (and an access every third step) on a full
 * tier of 100,000 pages, per policy, against the floor of a bare Map set + delete of the same keys.
 * (A policy built on a Map's insertion order paid 17–39 µs here: V8 walks deleted slots to reach
 * the first key.)
 */
import { createEvictionPolicy } from '../src/cache/eviction.js';
import type { EvictionPolicyName } from '../src/cache/page-store.js';
import { printTable, type Row, row } from './report.js';

const PAGES = 100_000;
const STEPS = 200_000;

function perStepMicros(step: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) step(i);
  return ((performance.now() - t0) * 1000) / STEPS;
}

function floor(): number {
  const m = new Map<string, true>();
  for (let i = 0; i < PAGES; i++) m.set(`f${i}:0`, true);
  let n = PAGES;
  return perStepMicros((i) => {
    m.delete(`f${i}:0`);
    m.set(`f${n++}:0`, true);
  });
}

/** Slots as a tier hands them out: the evicted page's slot goes to the new page. */
function policy(name: EvictionPolicyName): number {
  const p = createEvictionPolicy(name, PAGES);
  for (let i = 0; i < PAGES; i++) p.onInsert(i);
  const inserted = new Int32Array(STEPS);
  return perStepMicros((i) => {
    const victim = p.victim();
    p.onRemove(victim);
    p.onInsert(victim);
    inserted[i] = victim;
    if (i % 3 === 0 && i >= 50) p.onAccess(inserted[i - 50]!);
  });
}

export async function runEvictionBench(_argv: string[]): Promise<Row[]> {
  const base = floor();
  return (['LRU', 'LFU', 'FIFO'] as const).map((name) => {
    const us = policy(name);
    return row(
      `${name}: evict + insert, full tier of ${PAGES.toLocaleString('en')} pages ÷ bare Map set + delete`,
      `${us.toFixed(2)} µs`,
      `${base.toFixed(2)} µs`,
      us / base,
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) printTable('eviction', await runEvictionBench([]));
