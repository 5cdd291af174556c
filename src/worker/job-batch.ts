import type { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import { abortError, throwIfAborted } from '../core/abort.js';
import { StrataError, toStrataError } from '../core/errors.js';
import type {
  CallOptions,
  FileInfo,
  JobBatchOp,
  JobBatchOptions,
  JobBatchRequest,
  JobBatchResult,
  JobSummary,
  SyncOption,
} from '../core/file-system.js';
import { parseJobBatchRequest } from '../core/job-batch.js';
import { normalizePath } from '../core/paths.js';
import { Semaphore } from '../core/semaphore.js';
import { cachedPercentOf } from './file-info.js';
import type { MetadataSync } from './metadata-sync.js';
import type { Persister } from './persister.js';
import type { CountedReadOptions, LoadedWhole } from './read-path.js';

/**
 * Paths handled at once by default, across every batch the worker runs: small files are
 * latency-bound (one I/O-thread trip each way), 64 lanes measured 1.4× faster than 16. The bound
 * is the worker's, not a batch's, so a scheduler keeping several batches in flight (the next
 * one queued while the last files of one finish) does not multiply the reads in flight.
 */
export const DEFAULT_JOB_BATCH_CONCURRENCY = 64;

/** What the batch runner uses of the worker's file system. */
export interface JobBatchParts {
  readonly status: (path: string, options: SyncOption) => Promise<FileInfo>;
  readonly list: (path: string, options: SyncOption) => Promise<readonly FileInfo[]>;
  /** `whenStored` (the read path's): settles once the pages the read fetched are stored. */
  readonly read: (
    path: string,
    options: CountedReadOptions,
  ) => Promise<Readable & { readonly whenStored?: () => Promise<void> }>;
  /** ReadPath.loadWhole: a file of at most `maxBytes` loaded without a stream; undefined if larger. */
  readonly loadWhole?: (
    path: string,
    options: CountedReadOptions & { maxBytes: number },
  ) => Promise<LoadedWhole | undefined>;
  readonly free: (path: string, options: CallOptions) => Promise<JobSummary>;
  readonly persister: Pick<Persister, 'persistNow' | 'stagedBelow'>;
  readonly sync: Pick<MetadataSync, 'locate' | 'cacheIdOf'>;
  readonly pages: Pick<PageStore, 'cachedPages' | 'cachedBytes' | 'verify' | 'pageSize'>;
  /** Paths handled at once. Default DEFAULT_JOB_BATCH_CONCURRENCY. */
  readonly concurrency?: number;
}

type Done = Extract<JobBatchResult, { outcome: unknown }>;

/**
 * The worker's side of a job batch (StrataFileSystem.jobBatch): the scheduler sends each owner
 * the files it owns, and this runs them with bounded concurrency, answering one result per path
 * in order. A path's failure is its result, so one missing file never fails its neighbours;
 * only the signal (cancel, shutdown) rejects the whole call.
 */
export class JobBatchRunner {
  private readonly concurrency: number;
  /** The worker's lanes, shared by every batch in flight. */
  private readonly lanes: Semaphore;

  constructor(private readonly o: JobBatchParts) {
    this.concurrency = Math.max(1, o.concurrency ?? DEFAULT_JOB_BATCH_CONCURRENCY);
    this.lanes = new Semaphore(this.concurrency);
  }

  async run(request: JobBatchRequest, options: CallOptions = {}): Promise<JobBatchResult[]> {
    const { op, paths, options: opts = {} } = parseJobBatchRequest(request);
    const signal = options.signal;
    throwIfAborted(signal);
    const results = new Array<JobBatchResult>(paths.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < paths.length) {
        try {
          await this.lanes.acquire(signal);
        } catch {
          throw abortError(signal!);
        }
        try {
          if (next >= paths.length) return;
          const i = next++;
          results[i] = await this.one(op, paths[i]!, opts, signal);
        } finally {
          this.lanes.release();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, paths.length) }, lane));
    return results;
  }

  private async one(
    op: JobBatchOp,
    path: string,
    opts: JobBatchOptions,
    signal: AbortSignal | undefined,
  ): Promise<JobBatchResult> {
    try {
      throwIfAborted(signal);
      const p = normalizePath(path);
      if (op === 'load') return { ...(await this.load(p, opts, signal)), path };
      if (op === 'free') return { ...(await this.free(p, signal)), path };
      return { ...(await this.persist(p, signal)), path };
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      const e = toStrataError(err);
      return { path, error: { code: e.code, message: e.message, retryable: e.retryable } };
    }
  }

  private async load(p: string, opts: JobBatchOptions, signal: AbortSignal | undefined): Promise<Done> {
    const call = signal ? { signal } : {};
    if (opts.metadataOnly === true) {
      const info = await this.o.status(p, { ...call, syncIntervalMs: 0 });
      if (info.type === 'directory') await this.o.list(p, { ...call, syncIntervalMs: 0 });
      return outcome('done', info, 0);
    }
    const repairedPages = opts.verify === true ? await this.verify(p, signal) : 0;
    const extra = opts.verify === true ? { repairedPages } : {};
    if (opts.skipIfCached === true && repairedPages === 0) {
      const share = await this.cachedShare(p, signal);
      if (share.type === 'file' && share.cachedPercent === 100)
        return { ...outcome('skipped', share, 0), ...extra };
    }
    let storeBytesRead = 0;
    const read = {
      ...call,
      readType: 'CACHE' as const,
      onStoreBytes: (n: number) => {
        storeBytesRead += n;
      },
    };
    // A file of one page (most of a many-small-files dataset) is loaded without a stream.
    const whole = await this.o.loadWhole?.(p, { ...read, maxBytes: this.o.pages.pageSize });
    if (whole === undefined) {
      const stream = await this.o.read(p, read);
      for await (const _chunk of stream) {
        // Read through: the pages land in the cache on the way.
      }
      // A page reaches its reader before its put ends: done means stored, and it bounds the puts
      // in flight by the batch's concurrency (else a fast store piles them up behind the disk).
      await stream.whenStored?.();
    }
    // A whole load knows the file's identity: no second lookup of its record.
    const info =
      whole === undefined
        ? await this.cachedShare(p, signal)
        : {
            path: p,
            type: 'file' as const,
            size: whole.size,
            cachedPercent: cachedPercentOf('file', whole.size, this.o.pages.cachedBytes(whole.cacheId)),
          };
    if (info.cachedPercent < 100) {
      throw new StrataError(
        'CACHE_FULL',
        `only ${info.cachedPercent} % of ${p} is cached after loading it (the cache has no room for the rest)`,
        { details: { path: p, cachedPercent: info.cachedPercent, size: info.size } },
      );
    }
    return { ...outcome('done', info, storeBytesRead), ...extra };
  }

  /**
   * What a load reports of a file: its size and cached share, from its record and the page
   * store (no attributes read: a status() here cost a metadata-store read per file).
   */
  private async cachedShare(p: string, signal: AbortSignal | undefined): Promise<Share> {
    const located = await this.o.sync.locate(p, undefined, signal);
    const { type, size } = located.record;
    if (type !== 'file') return { path: p, type, size: 0, cachedPercent: 0 };
    const cached = this.o.pages.cachedBytes(this.o.sync.cacheIdOf(located));
    return { path: p, type, size, cachedPercent: cachedPercentOf(type, size, cached) };
  }

  /** Checks every cached page of the file; how many were bad (dropped, to be fetched again). */
  private async verify(p: string, signal: AbortSignal | undefined): Promise<number> {
    const located = await this.o.sync.locate(p, undefined, signal);
    if (located.record.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    const verify = this.o.pages.verify;
    if (verify === undefined) throw new StrataError('UNSUPPORTED', 'this page store cannot verify pages');
    const cacheId = this.o.sync.cacheIdOf(located);
    let bad = 0;
    for (const index of this.o.pages.cachedPages(cacheId)) {
      throwIfAborted(signal);
      if ((await verify.call(this.o.pages, cacheId, index)) === 'bad') bad++;
    }
    return bad;
  }

  private async free(p: string, signal: AbortSignal | undefined): Promise<Done> {
    const call = signal ? { signal } : {};
    await this.o.free(p, call);
    return outcome('done', await this.o.status(p, call), 0);
  }

  /** A staged file (or the staged files below a directory) uploaded now; 'skipped' when none was. */
  private async persist(p: string, signal: AbortSignal | undefined): Promise<Done> {
    let pushed = await this.o.persister.persistNow(p, signal);
    if (!pushed) {
      for (const staged of this.o.persister.stagedBelow(p)) {
        if (await this.o.persister.persistNow(staged.path, signal)) pushed = true;
      }
    }
    const info = await this.o.status(p, signal ? { signal } : {});
    return outcome(pushed ? 'done' : 'skipped', info, 0);
  }
}

/** The part of a FileInfo a batch result reports. */
type Share = Pick<FileInfo, 'path' | 'type' | 'size' | 'cachedPercent'>;

function outcome(kind: 'done' | 'skipped', info: Share, storeBytesRead: number): Done {
  return {
    path: info.path,
    outcome: kind,
    bytes: info.type === 'file' ? info.size : 0,
    storeBytesRead,
    cachedPercent: info.cachedPercent,
  };
}
