/**
 * The small in-memory history behind the dashboard's charts, so they work without Prometheus: a
 * bounded ring of cumulative counters sampled every `intervalMs` (default 5 s for 1 h = 720
 * samples, ~60 KB). Rates are the browser's business (differences of neighbours).
 */

/** One sample: cumulative counters since the process started, and the cache's use at `t`. */
export interface HistorySample {
  /** Epoch ms of the sample. */
  readonly t: number;
  readonly hitBytes: number;
  readonly missBytes: number;
  readonly storeReadBytes: number;
  readonly storeWriteBytes: number;
  readonly evictions: number;
  readonly usedBytes: number;
}

export type SampleSource = () => Promise<Omit<HistorySample, 't'>>;

export interface HistoryOptions {
  readonly intervalMs?: number;
  /** Samples kept (default: one hour of intervals). */
  readonly capacity?: number;
  readonly now?: () => number;
}

export const DEFAULT_SAMPLE_INTERVAL_MS = 5000;

export class MetricsHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly #ring: HistorySample[] = [];
  /** Index of the oldest sample once the ring is full. */
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(
    private readonly source: SampleSource,
    options: HistoryOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    this.capacity = options.capacity ?? Math.max(2, Math.ceil(3_600_000 / this.intervalMs));
    this.#now = options.now ?? Date.now;
  }

  /** Takes one sample now, then one every interval; the timer does not keep the process up. */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Adds one sample (a failed read of the counters is skipped: the chart shows a gap). */
  async sample(): Promise<void> {
    let values: Omit<HistorySample, 't'>;
    try {
      values = await this.source();
    } catch {
      return;
    }
    this.push({ t: this.#now(), ...values });
  }

  push(sample: HistorySample): void {
    if (this.#ring.length < this.capacity) {
      this.#ring.push(sample);
      return;
    }
    this.#ring[this.#head] = sample;
    this.#head = (this.#head + 1) % this.capacity;
  }

  /** Oldest first; only those after `sinceMs` when given. */
  samples(sinceMs = -Infinity): HistorySample[] {
    const ordered = [...this.#ring.slice(this.#head), ...this.#ring.slice(0, this.#head)];
    return sinceMs === -Infinity ? ordered : ordered.filter((s) => s.t > sinceMs);
  }
}

const FIELDS = [
  'hitBytes',
  'missBytes',
  'storeReadBytes',
  'storeWriteBytes',
  'evictions',
  'usedBytes',
] as const;

/**
 * Several workers' histories as one: time cut into buckets of `intervalMs`, each worker's latest
 * sample at or before a bucket's end carried forward (so a worker sampled a little later than
 * another does not make the sum dip), counters summed. A worker contributes from its first sample.
 */
export function mergeHistories(
  histories: readonly (readonly HistorySample[])[],
  intervalMs: number,
): HistorySample[] {
  const live = histories.filter((h) => h.length > 0);
  if (live.length === 1) return [...live[0]!];
  if (live.length === 0) return [];
  const ends = new Set<number>();
  for (const h of live) for (const s of h) ends.add(Math.ceil(s.t / intervalMs) * intervalMs);
  const cursors = live.map(() => -1);
  const out: HistorySample[] = [];
  for (const end of [...ends].sort((a, b) => a - b)) {
    const sum: Record<(typeof FIELDS)[number], number> = {
      hitBytes: 0,
      missBytes: 0,
      storeReadBytes: 0,
      storeWriteBytes: 0,
      evictions: 0,
      usedBytes: 0,
    };
    live.forEach((h, i) => {
      while (cursors[i]! + 1 < h.length && h[cursors[i]! + 1]!.t <= end) cursors[i]!++;
      const s = h[cursors[i]!];
      if (s === undefined) return;
      for (const f of FIELDS) sum[f] += s[f];
    });
    out.push({ t: end, ...sum });
  }
  return out;
}
