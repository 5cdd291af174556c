import { StrataError } from '../core/errors.js';

/**
 * A job's bandwidth limit: a token bucket in bytes per second, shared by every transfer the job
 * starts (the scheduler is the one place all of a job's transfers start from, so the limit holds
 * cluster-wide). The burst is small (a tenth of a second of the rate, at least 64 KiB), so the
 * rate holds over short windows too. Takers are served first come, first served. A take larger
 * than the burst waits until the bucket is full and then leaves it in debt: the next takers pay
 * for it, so over any window the bytes granted are at most rate × time + one take.
 * The rate can change while takers wait (a job's `bandwidth` updated live); 0 means unlimited.
 */

const MIN_BURST = 64 * 1024;
const BURST_SECONDS = 0.1;

interface Waiter {
  readonly n: number;
  readonly startMs: number;
  readonly resolve: (waitedMs: number) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class TokenBucket {
  private rate = 0;
  private burst = MIN_BURST;
  private tokens = MIN_BURST;
  private lastMs: number;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the queue last became non-empty (undefined while it is empty). */
  private throttledSinceMs: number | undefined;
  private throttledDoneMs = 0;

  constructor(
    bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastMs = now();
    this.setRate(bytesPerSecond);
    this.tokens = this.burst;
  }

  /** Bytes per second; 0 = unlimited. */
  get bytesPerSecond(): number {
    return this.rate;
  }

  /** Changes the rate now; waiting takers are re-timed at the new rate (0 releases them all). */
  setRate(bytesPerSecond: number): void {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0)
      throw new StrataError('INVALID_ARGUMENT', `a bandwidth must be a number ≥ 0 (got ${bytesPerSecond})`);
    this.refill();
    this.rate = bytesPerSecond;
    this.burst = Math.max(MIN_BURST, bytesPerSecond * BURST_SECONDS);
    this.tokens = Math.min(this.tokens, this.burst);
    this.pump();
  }

  /**
   * Waits until `n` bytes may be moved; resolves with the milliseconds waited. Rejects with the
   * signal's reason when it aborts first (the tokens are not taken then).
   */
  take(n: number, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (n <= 0) return Promise.resolve(0);
    if (this.rate === 0) return Promise.resolve(0);
    this.refill();
    if (this.queue.length === 0 && this.tokens >= Math.min(n, this.burst)) {
      this.tokens -= n;
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        n,
        startMs: this.now(),
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          this.settleThrottle();
          reject(signal!.reason);
          this.pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      if (this.queue.length === 0) this.throttledSinceMs = this.now();
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Total milliseconds during which at least one taker was waiting (wall time, not summed per taker). */
  throttledMs(): number {
    const open = this.throttledSinceMs === undefined ? 0 : this.now() - this.throttledSinceMs;
    return this.throttledDoneMs + open;
  }

  /** Rejects every waiter (the job ended). */
  close(reason: unknown = new StrataError('CANCELLED', 'the bandwidth limit was closed')): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(reason);
    }
    this.settleThrottle();
  }

  private refill(): void {
    const t = this.now();
    if (this.rate > 0)
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.lastMs) / 1000) * this.rate);
    this.lastMs = t;
  }

  private settleThrottle(): void {
    if (this.queue.length > 0 || this.throttledSinceMs === undefined) return;
    this.throttledDoneMs += this.now() - this.throttledSinceMs;
    this.throttledSinceMs = undefined;
  }

  /** Grants waiters at the head while the bucket allows; else sleeps until the head's turn. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.refill();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const need = Math.min(head.n, this.burst);
      if (this.rate > 0 && this.tokens < need) {
        const ms = Math.max(1, ((need - this.tokens) / this.rate) * 1000);
        this.timer = setTimeout(() => this.pump(), ms);
        return;
      }
      this.queue.shift();
      if (this.rate > 0) this.tokens -= head.n;
      head.signal?.removeEventListener('abort', head.onAbort);
      const waited = this.now() - head.startMs;
      this.settleThrottle();
      head.resolve(waited);
    }
  }
}
