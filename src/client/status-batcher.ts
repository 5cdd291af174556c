import { throwIfAborted } from '../core/abort.js';
import { type ErrorCode, isErrorCode, StrataError } from '../core/errors.js';
import { type FileInfo, MAX_STATUS_BATCH_PATHS } from '../core/file-system.js';

/** One path's answer in a status-batch response. */
export type StatusBatchResult =
  | { readonly info: FileInfo }
  | { readonly error: { readonly code: string; readonly message: string; readonly details?: unknown } };

interface Waiting {
  readonly path: string;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (info: FileInfo) => void;
  readonly reject: (err: unknown) => void;
}

export interface StatusBatcherParts {
  /** One status call (GET status): a lone request, or the fallback for a worker without batches. */
  readonly one: (path: string, syncIntervalMs: number | undefined, signal?: AbortSignal) => Promise<FileInfo>;
  /** One status-batch call; undefined when the worker does not know the route. */
  readonly many: (
    paths: readonly string[],
    syncIntervalMs: number | undefined,
  ) => Promise<readonly StatusBatchResult[] | undefined>;
}

/**
 * Status calls to one worker issued in the same event-loop turn go as one request: a client
 * stat'ing many files at once (an `ls -l`, a data loader, a 64-deep stat storm) paid one HTTP
 * round trip — and ~80 µs of client CPU — per file. A call alone in its turn goes as a plain
 * GET status, so a single stat waits for nobody. An aborted call rejects alone; the batch goes on.
 */
export class StatusBatcher {
  /** Waiting calls by sync interval (the batch call carries one). */
  private readonly queues = new Map<number | undefined, Waiting[]>();
  private scheduled = false;
  private batches = true;

  constructor(private readonly o: StatusBatcherParts) {}

  status(path: string, syncIntervalMs: number | undefined, signal?: AbortSignal): Promise<FileInfo> {
    throwIfAborted(signal);
    return new Promise<FileInfo>((resolve, reject) => {
      let queue = this.queues.get(syncIntervalMs);
      if (queue === undefined) {
        queue = [];
        this.queues.set(syncIntervalMs, queue);
      }
      queue.push({ path, signal, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    for (const [interval, queue] of queues) {
      for (let i = 0; i < queue.length; i += MAX_STATUS_BATCH_PATHS)
        void this.send(queue.slice(i, i + MAX_STATUS_BATCH_PATHS), interval);
    }
  }

  private async send(calls: Waiting[], interval: number | undefined): Promise<void> {
    const live = calls.filter((c) => !c.signal?.aborted);
    for (const c of calls) if (c.signal?.aborted) c.reject(c.signal.reason);
    if (live.length === 0) return;
    if (live.length === 1 || !this.batches) {
      for (const c of live) this.o.one(c.path, interval, c.signal).then(c.resolve, c.reject);
      return;
    }
    let results: readonly StatusBatchResult[] | undefined;
    try {
      results = await this.o.many(
        live.map((c) => c.path),
        interval,
      );
    } catch (err) {
      for (const c of live) c.reject(err);
      return;
    }
    if (results === undefined) {
      this.batches = false; // an older worker: one call per path from now on
      for (const c of live) this.o.one(c.path, interval, c.signal).then(c.resolve, c.reject);
      return;
    }
    if (results.length !== live.length) {
      const err = new StrataError(
        'INTERNAL',
        `status-batch answered ${results.length} results for ${live.length} paths`,
      );
      for (const c of live) c.reject(err);
      return;
    }
    for (const [i, c] of live.entries()) {
      const r = results[i]!;
      if (c.signal?.aborted) c.reject(c.signal.reason);
      else if ('info' in r) c.resolve(r.info);
      else c.reject(errorOf(r.error));
    }
  }
}

function errorOf(e: { code: string; message: string; details?: unknown }): StrataError {
  const code: ErrorCode = isErrorCode(e.code) ? e.code : 'INTERNAL';
  const details =
    typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {};
  return new StrataError(code, e.message, { details });
}
