/**
 * Point reads coalesced into LevelDB getMany calls: the reads issued in one event-loop turn (the
 * 64 stats in flight of a scan, a status-batch RPC) cost one native call and one thread-pool job
 * per `max` keys instead of one each, and no promise of the engine per key (issue 17: promise and
 * binding internals were 39 % of a random stat). A batch goes when it is full or at the end of the
 * turn (setImmediate), so a lone read waits no more than one turn.
 *
 * Each read's result is mapped (decoded, cached) in the caller's own promise; an error of the
 * engine fails every read of its batch, a mapping error only its own read.
 */
interface Waiter {
  readonly map: (raw: string | undefined) => unknown;
  readonly ok: (value: unknown) => void;
  readonly fail: (err: unknown) => void;
}

export class BatchedReads {
  #keys: string[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;

  constructor(
    private readonly getMany: (keys: string[]) => Promise<(string | undefined)[]>,
    private readonly max = 16,
  ) {}

  /** map(the value at key) once the batch holding it has been read. */
  get<T>(key: string, map: (raw: string | undefined) => T): Promise<T> {
    return new Promise<T>((ok, fail) => {
      this.#keys.push(key);
      this.#waiters.push({ map, ok: ok as (value: unknown) => void, fail });
      if (this.#keys.length >= this.max) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#endOfTurn);
      }
    });
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#keys.length === 0) return;
    const keys = this.#keys;
    const waiters = this.#waiters;
    this.#keys = [];
    this.#waiters = [];
    let pending: Promise<(string | undefined)[]>;
    try {
      pending = this.getMany(keys);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (values) => {
        for (let i = 0; i < waiters.length; i++) {
          const w = waiters[i]!;
          try {
            w.ok(w.map(values[i]));
          } catch (err) {
            w.fail(err);
          }
        }
      },
      (err: unknown) => {
        for (const w of waiters) w.fail(err);
      },
    );
  }
}
