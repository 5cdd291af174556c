/**
 * Group commit of durable metadata writes (issue 16): the `sync: true` puts and deletes that
 * arrive in one event-loop turn, or while the previous synced batch is still being written, go to
 * the engine as ONE `batch(ops, { sync: true })` — one fsync of the write-ahead log for all of them
 * instead of one each. Every caller's promise settles only after the batch holding its write was
 * synced (or failed: then every caller of that batch gets the error), so what an acknowledged
 * write promises is unchanged. Operations keep their arrival order inside a batch, and batches
 * are written one at a time, so a later write of a key always lands after an earlier one.
 */

export type GroupOp =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'del'; readonly key: string };

/** The engine call a batch becomes (LevelDB: `db.batch(ops, { sync: true })`). */
export type SyncedBatch = (ops: GroupOp[]) => Promise<void>;

type Waiter = { ok: () => void; fail: (err: unknown) => void };

export class GroupCommit {
  readonly #write: SyncedBatch;
  #ops: GroupOp[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  #inFlight = false;
  #current: Promise<void> = Promise.resolve();
  /** Batches written, and the operations they held (for tests and metrics). */
  batches = 0;
  ops = 0;

  constructor(write: SyncedBatch) {
    this.#write = write;
  }

  put(key: string, value: string): Promise<void> {
    return this.#add({ type: 'put', key, value });
  }

  del(key: string): Promise<void> {
    return this.#add({ type: 'del', key });
  }

  /** Settles once every write queued before this call was written (or failed). */
  async drain(): Promise<void> {
    while (this.#inFlight || this.#ops.length > 0 || this.#scheduled) {
      if (!this.#inFlight) await new Promise<void>((ok) => setImmediate(ok));
      else await this.#current;
    }
  }

  #add(op: GroupOp): Promise<void> {
    return new Promise<void>((ok, fail) => {
      this.#ops.push(op);
      this.#waiters.push({ ok, fail });
      this.#schedule();
    });
  }

  /** The next batch starts after this turn's callers queued (setImmediate), never beside another. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#current = this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#inFlight || this.#ops.length === 0) return;
    const ops = this.#ops;
    const waiters = this.#waiters;
    this.#ops = [];
    this.#waiters = [];
    this.#inFlight = true;
    this.batches++;
    this.ops += ops.length;
    try {
      await this.#write(ops);
      for (const w of waiters) w.ok();
    } catch (err) {
      for (const w of waiters) w.fail(err);
    } finally {
      this.#inFlight = false;
      // What queued while this batch was being synced goes out as the next batch at once.
      if (this.#ops.length > 0) this.#schedule();
    }
  }
}
