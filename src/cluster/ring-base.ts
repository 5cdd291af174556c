/**
 * What every ring algorithm shares: input validation, a canonical node order (sorted by id, so the
 * result never depends on the order nodes were given in), and the `owners()` contract (distinct,
 * primary first, capped). Algorithms implement `primaryIndex()` and `collect()` only.
 */
import { StrataError } from '../core/errors.js';
import type { HashRing, RingAlgorithm, RingNode } from './ring.js';

/** Validates and sorts nodes by id (code-unit order, not locale, so every client agrees). */
export function canonicalNodes(nodes: readonly RingNode[]): readonly RingNode[] {
  const sorted = nodes.map((n) => {
    if (typeof n.id !== 'string' || n.id.length === 0)
      throw new StrataError('INVALID_ARGUMENT', 'ring node id must be a non-empty string');
    if (!Number.isFinite(n.weight) || n.weight <= 0)
      throw new StrataError('INVALID_ARGUMENT', `ring node ${n.id}: weight must be a finite number > 0`, {
        details: { id: n.id, weight: n.weight },
      });
    return Object.freeze({ id: n.id, weight: n.weight });
  });
  sorted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i]!.id === sorted[i - 1]!.id)
      throw new StrataError('INVALID_ARGUMENT', `ring node ${sorted[i]!.id} is listed twice`, {
        details: { id: sorted[i]!.id },
      });
  return Object.freeze(sorted);
}

export abstract class RingBase implements HashRing {
  abstract readonly algorithm: RingAlgorithm;
  readonly nodes: readonly RingNode[];
  protected readonly ids: readonly string[];
  // Distinctness check without allocating a Set per call: seen[i] === stamp means "taken".
  private readonly seen: Uint32Array;
  private stamp = 0;

  protected constructor(nodes: readonly RingNode[]) {
    this.nodes = nodes;
    this.ids = nodes.map((n) => n.id);
    this.seen = new Uint32Array(nodes.length);
  }

  owners(key: string, n = 1): string[] {
    if (Number.isNaN(n)) throw new StrataError('INVALID_ARGUMENT', 'owners(): n must be a number');
    const want = Math.min(Math.floor(n), this.ids.length);
    if (want < 1) return [];
    if (want === 1) return [this.ids[this.primaryIndex(key)]!];
    if (++this.stamp === 0xffffffff) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    const out: number[] = [];
    this.collect(key, want, out);
    // Safety net for nodes an algorithm cannot reach (e.g. a tiny weight that got no Maglev slot):
    // the contract promises `want` distinct owners, so append the rest in id order.
    for (let i = 0; out.length < want && i < this.ids.length; i++) this.take(out, i, want);
    return out.map((i) => this.ids[i]!);
  }

  primary(key: string): string | undefined {
    return this.ids.length === 0 ? undefined : this.ids[this.primaryIndex(key)];
  }

  /** Index (into `ids`) of the primary owner of `key`. Only called with at least one node. */
  protected abstract primaryIndex(key: string): number;

  /** Pushes distinct owner indices, primary first, via `take()`, until `out.length === want` or it gives up. */
  protected abstract collect(key: string, want: number, out: number[]): void;

  /** Adds node `i` to `out` unless already there; returns true once `out` holds `want` owners. */
  protected take(out: number[], i: number, want: number): boolean {
    if (this.seen[i] !== this.stamp) {
      this.seen[i] = this.stamp;
      out.push(i);
    }
    return out.length >= want;
  }
}
