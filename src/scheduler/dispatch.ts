import { setTimeout as sleep } from 'node:timers/promises';
import { StrataError, toStrataError } from '../core/errors.js';
import {
  type CallOptions,
  type FileInfo,
  type JobBatchCallOptions,
  type JobBatchRequest,
  type JobBatchResult,
  MAX_JOB_BATCH_PATHS,
  type StrataFileSystem,
} from '../core/file-system.js';
import type { Semaphore } from '../core/semaphore.js';
import type { JobKind, JobTarget } from './job-kinds.js';
import type { TokenBucket } from './token-bucket.js';

/**
 * Sending one batch of a job's files to the workers that own them. At dispatch time (every
 * round, so a worker that joined gets its share and a dead one's paths go to the new owners) the
 * files are grouped by owner — `fs.location(path)[k]` for the k-th copy of `replicas` — and each
 * group goes as one `fs.jobBatch` call to its worker (cut in chunks of a quarter second of the
 * bandwidth when the job has a limit; each chunk takes its bytes from the job's token bucket
 * before it is sent). Per-path results map to outcomes; a retryable error is retried in the next
 * round, re-grouped, with backoff. Where the file system has no batch call, the same groups run
 * file by file through the kind's `file` handler.
 */

type JobBatchFn = (request: JobBatchRequest, options?: JobBatchCallOptions) => Promise<JobBatchResult[]>;

/** The batch call of a file system, when it has one. */
export function jobBatchOf(fs: StrataFileSystem): JobBatchFn | undefined {
  return fs.jobBatch === undefined ? undefined : fs.jobBatch.bind(fs);
}

/** What one file came to once every copy asked for is settled. */
export type FileResult =
  | { readonly outcome: 'done' | 'skipped'; readonly repairedPages: number }
  | { readonly code: string; readonly message: string };

export interface DispatchOptions {
  readonly fs: StrataFileSystem;
  readonly kind: JobKind;
  readonly kindName: string;
  /** The job's root and destination (the per-file handlers of copy and move need them). */
  readonly target: JobTarget;
  /** The job's options as they are now (bandwidth may change while the job runs). */
  readonly options: () => Readonly<Record<string, unknown>>;
  readonly signal: AbortSignal;
  readonly bucket: TokenBucket;
  readonly calls: Semaphore;
  /** Tries for a retryable error other than a worker failure (default 3). */
  readonly attempts: number;
  readonly backoffMs: number;
  /** A worker that fails (UNAVAILABLE, TIMEOUT) is retried this long: until its lease expires and the ring moves its paths. */
  readonly retryWindowMs: number;
  /** Files at once per group on the per-file fallback. */
  readonly fileConcurrency: number;
  /** Something the job did differently from what was asked (not a failure). */
  readonly note: (text: string) => void;
  /** A chunk was sent (the bandwidth test measures from the first one). */
  readonly onDispatch?: () => void;
}

interface Task {
  readonly file: FileInfo;
  /** Which copy: 0 = the primary owner, k = the (k+1)-th owner. */
  readonly copy: number;
  tries: number;
  /** When a worker failure was first seen for this task. */
  firstWorkerFailureMs?: number;
}

type TaskAnswer =
  | { readonly ok: true; readonly outcome: 'done' | 'skipped'; readonly repairedPages: number }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly retryable: boolean };

const MAX_BACKOFF_MS = 1000;
/** Each bandwidth-limited call carries about this much of the rate. */
const CHUNK_SECONDS = 0.25;

function workerFailure(code: string): boolean {
  return code === 'UNAVAILABLE' || code === 'TIMEOUT';
}

/**
 * Runs one batch to the end: every file done, skipped or failed (per path, in `files` order).
 * Returns undefined when the job was halted first (the batch is then redone on resume).
 */
export async function dispatchBatch(
  d: DispatchOptions,
  files: readonly FileInfo[],
): Promise<Map<string, FileResult> | undefined> {
  const replicas = d.kind.op === 'load' ? Math.max(1, Number(d.options().replicas ?? 1)) : 1;
  const copies = new Map<string, Array<TaskAnswer | undefined>>();
  let pending: Task[] = [];
  for (const file of files) {
    copies.set(file.path, new Array<TaskAnswer | undefined>(replicas).fill(undefined));
    for (let copy = 0; copy < replicas; copy++) pending.push({ file, copy, tries: 0 });
  }
  const batch = jobBatchOf(d.fs);
  for (let round = 0; pending.length > 0; round++) {
    if (d.signal.aborted) return undefined;
    if (round > 0) {
      try {
        await sleep(Math.min(MAX_BACKOFF_MS, d.backoffMs * 2 ** (round - 1)), undefined, {
          signal: d.signal,
        });
      } catch {
        return undefined;
      }
    }
    const groups = new Map<string, { worker: string | undefined; tasks: Task[] }>();
    const missing = new Set<number>();
    for (const t of pending) {
      const owners = d.fs.location?.(t.file.path);
      let worker: string | undefined;
      if (owners !== undefined) {
        const owner = owners[t.copy];
        if (owner === undefined) {
          if (t.copy === 0) {
            settle(t, {
              ok: false,
              code: 'UNAVAILABLE',
              message: 'no live workers in the cluster',
              retryable: true,
            });
          } else {
            // Fewer live owners than copies asked: the file counts as done on all that exist.
            copies.get(t.file.path)![t.copy] = { ok: true, outcome: 'skipped', repairedPages: 0 };
            missing.add(owners.length);
          }
          continue;
        }
        worker = owner.id;
      }
      const key = worker ?? '';
      const g = groups.get(key) ?? { worker, tasks: [] };
      g.tasks.push(t);
      groups.set(key, g);
    }
    for (const live of missing)
      d.note(`replicas ${replicas} asked, ${live} live worker${live === 1 ? '' : 's'}: cached on ${live}`);
    const retry: Task[] = [];
    const settleOrRetry = (t: Task, a: TaskAnswer): void => {
      if (!a.ok && a.retryable) {
        t.tries++;
        const now = Date.now();
        if (workerFailure(a.code)) t.firstWorkerFailureMs ??= now;
        const again = workerFailure(a.code)
          ? now - t.firstWorkerFailureMs! < d.retryWindowMs
          : t.tries < d.attempts;
        if (again) {
          retry.push(t);
          return;
        }
      }
      settle(t, a);
    };
    await Promise.all([...groups.values()].map((g) => sendGroup(d, batch, g.worker, g.tasks, settleOrRetry)));
    if (d.signal.aborted) return undefined;
    pending = retry;
  }
  if (d.signal.aborted) return undefined;
  const out = new Map<string, FileResult>();
  for (const f of files) {
    const answers = copies.get(f.path)!;
    const failed = answers.find((a) => a !== undefined && !a.ok);
    if (failed !== undefined && !failed.ok) {
      const i = answers.indexOf(failed);
      out.set(f.path, {
        code: failed.code,
        message: replicas > 1 ? `copy ${i + 1} of ${replicas}: ${failed.message}` : failed.message,
      });
      continue;
    }
    const oks = answers.filter((a): a is Extract<TaskAnswer, { ok: true }> => a?.ok === true);
    out.set(f.path, {
      // Done when any copy had work to do; skipped only when every copy was already in place.
      outcome: oks.some((a) => a.outcome === 'done') ? 'done' : 'skipped',
      repairedPages: oks.reduce((s, a) => s + a.repairedPages, 0),
    });
  }
  return out;

  function settle(t: Task, a: TaskAnswer): void {
    copies.get(t.file.path)![t.copy] = a;
  }
}

/** One owner's share of a round: chunks by bandwidth, each taking its bytes from the bucket, then one call. */
async function sendGroup(
  d: DispatchOptions,
  batch: JobBatchFn | undefined,
  worker: string | undefined,
  tasks: readonly Task[],
  answer: (t: Task, a: TaskAnswer) => void,
): Promise<void> {
  const chunks: Task[][] = [];
  const rate = d.bucket.bytesPerSecond;
  const limit = rate > 0 ? Math.max(1, rate * CHUNK_SECONDS) : Number.POSITIVE_INFINITY;
  let current: Task[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const cost = d.kind.charge(t.file, d.options());
    if (current.length > 0 && (bytes + cost > limit || current.length >= MAX_JOB_BATCH_PATHS)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += cost;
  }
  if (current.length > 0) chunks.push(current);
  const calls: Promise<void>[] = [];
  for (const chunk of chunks) {
    try {
      await d.calls.acquire(d.signal);
    } catch {
      break;
    }
    try {
      await d.bucket.take(
        chunk.reduce((s, t) => s + d.kind.charge(t.file, d.options()), 0),
        d.signal,
      );
    } catch {
      d.calls.release();
      break;
    }
    d.onDispatch?.();
    calls.push(sendChunk(d, batch, worker, chunk, answer).finally(() => d.calls.release()));
  }
  await Promise.all(calls);
}

async function sendChunk(
  d: DispatchOptions,
  batch: JobBatchFn | undefined,
  worker: string | undefined,
  chunk: readonly Task[],
  answer: (t: Task, a: TaskAnswer) => void,
): Promise<void> {
  const call: CallOptions = { signal: d.signal };
  const o = d.options();
  // Kinds without a batch op (copy, move) run file by file here, as does a file system without the call.
  if (batch === undefined || d.kind.op === undefined) return sendFileByFile(d, chunk, answer);
  const options = {
    ...(o.metadataOnly === true ? { metadataOnly: true } : {}),
    ...(o.skipIfCached === true ? { skipIfCached: true } : {}),
    ...(o.verify === true ? { verify: true } : {}),
  };
  let results: JobBatchResult[];
  try {
    results = await batch(
      {
        op: d.kind.op!,
        paths: chunk.map((t) => t.file.path),
        ...(Object.keys(options).length > 0 ? { options } : {}),
      },
      worker === undefined ? call : { ...call, worker },
    );
  } catch (err) {
    if (d.signal.aborted) return;
    // The whole call failed (the worker is unreachable…): every path in it gets the error.
    const e = toStrataError(err);
    const retryable = e.retryable || workerFailure(e.code);
    for (const t of chunk) answer(t, { ok: false, code: e.code, message: e.message, retryable });
    return;
  }
  const byPath = new Map(results.map((r) => [r.path, r]));
  for (const t of chunk) {
    const r = byPath.get(t.file.path);
    if (r === undefined) {
      answer(t, {
        ok: false,
        code: 'INTERNAL',
        message: 'the worker answered no result for this path',
        retryable: true,
      });
    } else if ('error' in r) {
      answer(t, { ok: false, ...r.error });
    } else if (
      d.kind.op === 'load' &&
      o.metadataOnly !== true &&
      r.outcome === 'done' &&
      r.cachedPercent < 100
    ) {
      // Honest completion: a load is done only when every page is cached.
      answer(t, {
        ok: false,
        code: 'CACHE_FULL',
        message: `only ${r.cachedPercent} % of the file is cached after loading`,
        retryable: false,
      });
    } else {
      answer(t, { ok: true, outcome: r.outcome, repairedPages: r.repairedPages ?? 0 });
    }
  }
}

/** The fallback where the file system has no batch call: the kind's per-file handler, a few at a time. */
async function sendFileByFile(
  d: DispatchOptions,
  chunk: readonly Task[],
  answer: (t: Task, a: TaskAnswer) => void,
): Promise<void> {
  const handle = d.kind.file;
  if (handle === undefined)
    throw new StrataError('UNSUPPORTED', `job kind ${d.kindName} needs the owners’ batch call`);
  let next = 0;
  const lane = async () => {
    while (next < chunk.length && !d.signal.aborted) {
      const t = chunk[next++]!;
      try {
        const outcome = await handle(d.fs, t.file, d.options(), { signal: d.signal }, d.target);
        answer(t, { ok: true, outcome, repairedPages: 0 });
      } catch (err) {
        if (d.signal.aborted) return;
        const e = toStrataError(err);
        answer(t, { ok: false, code: e.code, message: e.message, retryable: e.retryable });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(d.fileConcurrency, chunk.length) }, lane));
}
