import { isFinal, JOB_STATES, type JobFailure, type JobInfo, type JobState } from '../core/jobs.js';
import type { JobRecord } from '../registry/registry.js';

/**
 * A job's record in the registry (`jobs/<id>`): what to do, where it got to, and how it ended.
 * Never one entry per file: whatever the size of the tree, the serialised record stays under
 * MAX_RECORD_BYTES (see boundRecord) — counters are numbers, the cursor is a few paths, and the
 * failure list keeps at most MAX_LISTED_FAILURES entries and then only counts.
 */

export { isFinal, JOB_STATES, type JobFailure, type JobState };

/** Hard bound of a serialised record (JSON, UTF-8 bytes); etcd allows 1.5 MiB per value. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** Failures listed with their path; past it they are only counted (`failedFiles`). */
export const MAX_LISTED_FAILURES = 100;
/** A failure's message is cut to this many characters. */
export const MAX_FAILURE_MESSAGE = 200;

/** A batch finished beyond the watermark: the first and last path it held, in traversal order. */
export interface DoneBatch {
  readonly id: number;
  readonly first: string;
  readonly last: string;
}

/**
 * Where the listing got to. Traversal order is deterministic: depth first; in each directory its
 * files first, then its subdirectories, each group in UTF-8 order. Batches are cut from that
 * sequence (`batchSize` files each, numbered from 1), so each batch is a contiguous range.
 * - `after`: every file up to and including this path is handled (done, skipped or failed);
 *   undefined before the first batch completes. Resuming lists only what follows it: the
 *   ancestors' directories are listed again, entries up to `after` are passed over.
 * - `nextBatch`: the id the next batch cut after `after` gets.
 * - `done`: batches beyond `after` that completed while an earlier one was still in flight
 *   (at most the engine's concurrency); their files are passed over on resume.
 * The cursor is at most (1 + 2 × concurrency) paths of ≤ 4 KiB each.
 */
export interface JobCursor {
  readonly after?: string;
  readonly nextBatch: number;
  readonly done: readonly DoneBatch[];
}

export interface JobCounters {
  /** Files and bytes listed so far (the total grows while the listing runs). */
  readonly listedFiles: number;
  readonly listedBytes: number;
  /** Files done (for load: fully cached; for free: freed) and their bytes. */
  readonly doneFiles: number;
  readonly doneBytes: number;
  /** Files passed over because nothing was to do (load with skipIfCached: already cached). */
  readonly skippedFiles: number;
  readonly failedFiles: number;
  /** Bytes of the files handled (done, skipped or failed): where the listed total restarts on resume. */
  readonly handledBytes: number;
  /** load with verify: cached pages whose checksum failed, dropped and fetched again (absent in old records). */
  readonly repairedPages?: number;
}

/** At most this many notes (things the job could not do as asked but that are not failures). */
export const MAX_NOTES = 10;

export interface SchedulerJob extends JobRecord {
  readonly id: string;
  readonly kind: string;
  readonly path: string;
  /** copy, move: where to. */
  readonly dst?: string;
  /** The job's files come from this text file (one Strata path a line) instead of `path`'s tree. */
  readonly fromList?: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly state: JobState;
  /**
   * The engine instance running the job (set when it takes the record). An engine whose write is
   * refused re-reads the record: still its runner and not final → someone changed the options
   * (bandwidth), which it adopts; otherwise it lost the record (cancelled, or taken over).
   */
  readonly runner?: string;
  readonly counters: JobCounters;
  readonly cursor: JobCursor;
  /** The listing of this run has ended: the listed counters are the job's totals. */
  readonly listingDone?: boolean;
  /** At most MAX_LISTED_FAILURES; `counters.failedFiles` counts them all. */
  readonly failures: readonly JobFailure[];
  /** E.g. "replicas 3 asked, 2 live workers": what the job did differently from what was asked (≤ MAX_NOTES). */
  readonly notes?: readonly string[];
  /** Why a job failed as a whole (its path vanished, a registry conflict…). */
  readonly error?: { readonly code: string; readonly message: string };
  readonly createdAtMs: number;
  readonly startedAtMs?: number;
  readonly updatedAtMs: number;
  readonly endedAtMs?: number;
}

export const ZERO_COUNTERS: JobCounters = {
  listedFiles: 0,
  listedBytes: 0,
  doneFiles: 0,
  doneBytes: 0,
  skippedFiles: 0,
  failedFiles: 0,
  handledBytes: 0,
  repairedPages: 0,
};

export function newJobRecord(
  id: string,
  kind: string,
  path: string,
  options: Readonly<Record<string, unknown>>,
  nowMs = Date.now(),
  extra: { readonly dst?: string; readonly fromList?: string } = {},
): SchedulerJob {
  return {
    id,
    kind,
    path,
    ...(extra.dst === undefined ? {} : { dst: extra.dst }),
    ...(extra.fromList === undefined ? {} : { fromList: extra.fromList }),
    options,
    state: 'PENDING',
    counters: ZERO_COUNTERS,
    cursor: { nextBatch: 1, done: [] },
    failures: [],
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
}

export function recordBytes(job: JobRecord): number {
  return Buffer.byteLength(JSON.stringify(job));
}

/** Adds a failure, listed while the list has room (the counter is the caller's). */
export function withFailure(failures: readonly JobFailure[], f: JobFailure): readonly JobFailure[] {
  if (failures.length >= MAX_LISTED_FAILURES) return failures;
  return [...failures, { ...f, message: f.message.slice(0, MAX_FAILURE_MESSAGE) }];
}

/** Adds a note once (notes are few and distinct). */
export function withNote(notes: readonly string[] | undefined, note: string): readonly string[] {
  const list = notes ?? [];
  if (list.includes(note) || list.length >= MAX_NOTES) return list;
  return [...list, note.slice(0, MAX_FAILURE_MESSAGE)];
}

/**
 * The record as it is stored: if it would pass MAX_RECORD_BYTES (only long failure paths can make
 * it — everything else is bounded far below), listed failures are dropped from the end until it
 * fits; they stay counted in `failedFiles`.
 */
export function boundRecord(job: SchedulerJob): SchedulerJob {
  let out = job;
  while (recordBytes(out) > MAX_RECORD_BYTES && out.failures.length > 0) {
    out = { ...out, failures: out.failures.slice(0, Math.floor(out.failures.length / 2)) };
  }
  return out;
}

/**
 * A job as the admin API and `strata job … --json` show it: the record's what and how it ended,
 * with the counters flattened (files and bytes done and total). While the listing runs the
 * totals grow; once the job has ended they are the tree's.
 */
export function jobJson(job: SchedulerJob): JobInfo {
  const c = job.counters;
  return {
    id: job.id,
    kind: job.kind,
    path: job.path,
    ...(job.dst === undefined ? {} : { dst: job.dst }),
    ...(job.fromList === undefined ? {} : { fromList: job.fromList }),
    options: job.options,
    state: job.state,
    filesDone: c.doneFiles,
    filesSkipped: c.skippedFiles,
    filesFailed: c.failedFiles,
    filesTotal: c.listedFiles,
    listingDone: job.listingDone === true || isFinal(job.state),
    bytesDone: c.doneBytes,
    bytesTotal: c.listedBytes,
    pagesRepaired: c.repairedPages ?? 0,
    failures: job.failures,
    ...(job.notes === undefined || job.notes.length === 0 ? {} : { notes: job.notes }),
    ...(job.error === undefined ? {} : { error: job.error }),
    createdAtMs: job.createdAtMs,
    ...(job.startedAtMs === undefined ? {} : { startedAtMs: job.startedAtMs }),
    updatedAtMs: job.updatedAtMs,
    ...(job.endedAtMs === undefined ? {} : { endedAtMs: job.endedAtMs }),
  };
}
