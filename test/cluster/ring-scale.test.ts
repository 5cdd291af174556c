/**
 * The Maglev fill was rewritten for 3,000 workers (typed arrays, no `%` in the probe loop; see
 * bench/scale.ts). Placement is a contract every client must agree on, so the new fill must give
 * exactly the table of the original one: this file keeps the original as a reference.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash32 } from '../../src/cluster/hash.js';
import { createRing, DEFAULT_MAGLEV_TABLE_SIZE, type RingNode } from '../../src/cluster/ring.js';
import { canonicalNodes } from '../../src/cluster/ring-base.js';

const OFFSET_SEED = 0x6d61676c;
const SKIP_SEED = 0x65763031;

/** The Maglev fill as first written (commit history of ring-maglev.ts), slot → node index. */
function referenceTable(input: readonly RingNode[], m: number): { ids: string[]; table: Int32Array } {
  const nodes = canonicalNodes(input);
  const table = new Int32Array(m).fill(-1);
  const n = nodes.length;
  const maxWeight = nodes.reduce((w, x) => Math.max(w, x.weight), 0);
  const share = nodes.map((x) => x.weight / maxWeight);
  const pos = new Float64Array(n);
  const skip = new Float64Array(n);
  nodes.forEach((x, i) => {
    pos[i] = hash32(x.id, OFFSET_SEED) % m;
    skip[i] = (hash32(x.id, SKIP_SEED) % (m - 1)) + 1;
  });
  const credit = new Float64Array(n);
  let filled = 0;
  while (filled < m) {
    for (let i = 0; i < n && filled < m; i++) {
      credit[i]! += share[i]!;
      while (credit[i]! >= 1 && filled < m) {
        credit[i]! -= 1;
        let c = pos[i]!;
        while (table[c] !== -1) c = (c + skip[i]!) % m;
        table[c] = i;
        pos[i] = (c + skip[i]!) % m;
        filled++;
      }
    }
  }
  return { ids: nodes.map((x) => x.id), table };
}

function weighted(count: number, prefix = 'w'): RingNode[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16)}-${i}`,
    weight: (1 + (i % 4)) * 1e12 + (i % 7) * 1e9,
  }));
}

/** Checks ring.primary against the reference table for `keys` keys (each hashes to one slot). */
function assertSameTable(nodes: readonly RingNode[], m: number, keys: number): void {
  const ring = createRing(nodes, { algorithm: 'maglev', tableSize: m });
  const ref = referenceTable(nodes, m);
  const slotsSeen = new Set<number>();
  for (let k = 0; k < keys; k++) {
    const key = `/ds/${k % 97}/part-${k}.parquet`;
    const slot = hash32(key) % m;
    slotsSeen.add(slot);
    const want = ref.ids[ref.table[slot]!];
    assert.equal(ring.primary(key), want, `key ${key} (slot ${slot})`);
  }
  // The comparison is only worth something if it touched (nearly) every slot.
  assert.ok(slotsSeen.size >= 0.99 * m, `touched ${slotsSeen.size} of ${m} slots`);
}

test('maglev fill equals the reference fill: 3,000 weighted workers, small table (every slot)', () => {
  assertSameTable(weighted(3000), 30011, 200_000);
});

test('maglev fill equals the reference fill: equal and uneven weights, few nodes', () => {
  assertSameTable([{ id: 'a', weight: 1 }], 4099, 40_000);
  assertSameTable(weighted(7), 4099, 40_000);
  assertSameTable(
    Array.from({ length: 50 }, (_, i) => ({ id: `n${i}`, weight: i === 0 ? 1000 : 1 })),
    4099,
    40_000,
  );
});

test('a join at 3,000 workers: the rebuilt ring equals one built from the joined set in any order', () => {
  const base = weighted(3000);
  const joiner = { id: 'w-joiner', weight: 3e12 };
  const joined = createRing([...base, joiner]);
  const fresh = createRing([joiner, ...[...base].reverse()]);
  const ref = referenceTable([...base, joiner], DEFAULT_MAGLEV_TABLE_SIZE);
  let moved = 0;
  const before = createRing(base);
  for (let k = 0; k < 100_000; k++) {
    const key = `/join/${k}`;
    const p = joined.primary(key);
    assert.equal(p, fresh.primary(key));
    assert.equal(p, ref.ids[ref.table[hash32(key) % DEFAULT_MAGLEV_TABLE_SIZE]!]);
    if (p !== before.primary(key)) moved++;
  }
  // The joiner holds 3 TB of ~7,500 TB: a few thousandths of keys move, not a reshuffle.
  assert.ok(moved > 0 && moved < 0.02 * 100_000, `moved ${moved} of 100,000`);
});
