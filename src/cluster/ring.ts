/**
 * The hash ring: maps a path to the worker(s) that own it (DESIGN.md, "Placement").
 *
 * Three algorithms behind one interface (ring-ketama.ts, ring-maglev.ts, ring-jump.ts), all on
 * MurmurHash3_x86_32 of the UTF-8 path (hash.ts). The default was picked by `node dist/bench/ring.js`
 * (1 M paths like /sales/2024/07/part-00042.parquet; Node 20, 2 shared cores). "Stray" = keys moved
 * between two workers that did not change.
 *
 *   metric                                   ketama (160 vn)   maglev (65537)    jump
 *   keys moved, 1 joins 10 (ideal 9.09%)     8.17%  stray 0    9.34% stray 0.27% 53.70% stray 44.6%
 *   keys moved, 1 of 11 leaves (arbitrary)   7.81%  stray 0    9.35% stray 0.28% 53.70% stray 44.6%
 *   max/mean keys, 100 workers (≤ 1.1)       1.23  NO          1.02              1.03
 *   2× weight on half: worst/expected (≤1.1) 1.18  NO          1.03              1.04
 *   n=3 sets losing a survivor on a leave    0%                2.4%              82.7%
 *   owners(k,1), 100 workers (≥ 1 M/s)       4.0 M/s           6.5 M/s           6.0 M/s
 *   owners(k,3), 100 workers                 3.3 M/s           4.2 M/s           2.6 M/s
 *   build, 100 workers                       12 ms             12 ms             0.1 ms
 *   (bare murmur3 10.7 M/s per key; node:crypto md5 0.55 M/s, sha1 0.48 M/s; same bucket spread)
 *
 * Default: maglev. It is the only one meeting every target: balance within 2-3% (ketama needs ~1000
 * points per node to get under 1.1, and then 100k points for 100 nodes), weights tracked within 3%,
 * disruption 1.03× the ideal, and the fastest lookups (one hash, one array read). Its cost: a
 * membership change also moves ~0.3% of keys between unchanged workers, and a rebuild fills a
 * 65537-slot table (12 ms). Jump balances well but cannot lose or gain a worker that is not last
 * in id order without moving about half the keys, which a registry of arbitrary ids cannot avoid.
 * Ketama remains the choice when exactly-minimal movement matters more than balance.
 * Maglev's table should stay ≥ 100× the worker count for 1 % balance; at 3,000 workers the default
 * table still tracks weights within 3 % and rebuilds in ~5 ms, but a join moves 7× the ideal share
 * (bench/scale.ts, docs/scale.md). The size is part of placement: change it on every client at once.
 */
import { StrataError } from '../core/errors.js';
import { canonicalNodes } from './ring-base.js';
import { JumpRing } from './ring-jump.js';
import { KetamaRing } from './ring-ketama.js';
import { MaglevRing } from './ring-maglev.js';

export { DEFAULT_VIRTUAL_NODES } from './ring-ketama.js';
export { DEFAULT_MAGLEV_TABLE_SIZE } from './ring-maglev.js';

export interface RingNode {
  readonly id: string;
  /** Relative weight, e.g. capacity in bytes; > 0. Only ratios between nodes matter. */
  readonly weight: number;
}

export type RingAlgorithm = 'ketama' | 'maglev' | 'jump';

export const RING_ALGORITHMS: readonly RingAlgorithm[] = ['ketama', 'maglev', 'jump'];

/**
 * An immutable placement of keys on a node set. Build a new ring when membership changes
 * (construction is cheap: about a millisecond or two for 100 nodes).
 */
export interface HashRing {
  readonly algorithm: RingAlgorithm;
  /** The nodes, sorted by id. */
  readonly nodes: readonly RingNode[];
  /**
   * The first `n` DISTINCT owners of `key`, primary first (n capped at nodes.length; default 1).
   * Deterministic for the same node set, independent of the order nodes were given in.
   */
  owners(key: string, n?: number): string[];
  /** owners(key, 1)[0]; undefined when there are no nodes */
  primary(key: string): string | undefined;
}

export interface RingOptions {
  /** Placement algorithm. Default: DEFAULT_RING_ALGORITHM. */
  algorithm?: RingAlgorithm;
  /** ketama: virtual points for a node of mean weight (scaled by weight/mean, min 1). Default 160. */
  virtualNodes?: number;
  /** maglev: lookup table size; a prime ≥ the node count (ideally ≥ 100×). Default 65537. */
  tableSize?: number;
}

/** Measured pick; see the table at the top of this file. */
export const DEFAULT_RING_ALGORITHM: RingAlgorithm = 'maglev';

/**
 * Builds a ring. Throws StrataError INVALID_ARGUMENT on duplicate ids, a weight that is not a
 * finite number > 0, or a bad option.
 *
 * @example
 * const ring = createRing([{ id: 'w1', weight: 1 }, { id: 'w2', weight: 2 }]);
 * ring.owners('/sales/2024/07/part-00042.parquet', 2); // e.g. ['w2', 'w1']
 */
export function createRing(nodes: readonly RingNode[], options: RingOptions = {}): HashRing {
  const sorted = canonicalNodes(nodes);
  const algorithm = options.algorithm ?? DEFAULT_RING_ALGORITHM;
  switch (algorithm) {
    case 'ketama':
      return new KetamaRing(sorted, options.virtualNodes);
    case 'maglev':
      return new MaglevRing(sorted, options.tableSize);
    case 'jump':
      return new JumpRing(sorted);
    default:
      throw new StrataError('INVALID_ARGUMENT', `unknown ring algorithm: ${String(algorithm)}`);
  }
}
