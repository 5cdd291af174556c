// Kept hand-written (docs/libraries.md): async-mutex has no keyed lock, and a Map of its Mutexes is 5–9× slower (1.9–3.2 µs vs 0.35 µs a run).
/**
 * Serialises async work per key; different keys run in parallel; idle keys are forgotten. The
 * page store uses it so a put, an eviction's unlink and a corrupt page's removal never interleave
 * on one file; the metadata store for read-modify-write of one record.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev === undefined ? mine : prev.then(() => mine);
    this.tails.set(key, tail);
    try {
      if (prev !== undefined) await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}

/** Bounds how many async tasks run at once (disk writes, the startup scan). */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
