/**
 * Ketama: each node places virtual points on a 32-bit circle (count proportional to its weight);
 * a key belongs to the first point clockwise of its hash. Replicas: keep walking clockwise,
 * collecting distinct nodes. A join or leave only moves keys to or from the changed node.
 */
import { StrataError } from '../core/errors.js';
import { hash32 } from './hash.js';
import type { RingNode } from './ring.js';
import { RingBase } from './ring-base.js';

export const DEFAULT_VIRTUAL_NODES = 160;

export class KetamaRing extends RingBase {
  readonly algorithm = 'ketama' as const;
  /** Point positions, ascending. */
  private readonly points: Uint32Array;
  /** owner[i] is the node index of points[i]. */
  private readonly owner: Uint32Array;

  /** `nodes` must be canonical (see canonicalNodes). */
  constructor(nodes: readonly RingNode[], virtualNodes = DEFAULT_VIRTUAL_NODES) {
    super(nodes);
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1)
      throw new StrataError('INVALID_ARGUMENT', 'ketama: virtualNodes must be an integer >= 1');
    const mean = nodes.reduce((s, n) => s + n.weight, 0) / Math.max(1, nodes.length);
    const pts: { pos: number; node: number }[] = [];
    nodes.forEach((n, node) => {
      const count = Math.max(1, Math.round((virtualNodes * n.weight) / mean));
      for (let v = 0; v < count; v++) pts.push({ pos: hash32(`${n.id}#${v}`), node });
    });
    // Ties (rare 32-bit collisions) break by node index, which is canonical, so all clients agree.
    pts.sort((a, b) => a.pos - b.pos || a.node - b.node);
    this.points = Uint32Array.from(pts, (p) => p.pos);
    this.owner = Uint32Array.from(pts, (p) => p.node);
  }

  /** Index of the first point at or after `h`, wrapping to 0 past the end. */
  private slot(h: number): number {
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === pts.length ? 0 : lo;
  }

  protected primaryIndex(key: string): number {
    return this.owner[this.slot(hash32(key))]!;
  }

  protected collect(key: string, want: number, out: number[]): void {
    const len = this.points.length;
    const start = this.slot(hash32(key));
    for (let i = 0; i < len; i++) {
      const at = start + i < len ? start + i : start + i - len;
      if (this.take(out, this.owner[at]!, want)) return;
    }
  }
}
