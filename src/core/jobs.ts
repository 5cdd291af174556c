/**
 * A job as users see it — the admin API's JSON, `strata job … --json` and the TypeScript client —
 * in core because both the scheduler (which makes it) and the client (which reads it) use it.
 */

export const JOB_STATES = [
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'COMPLETED_WITH_FAILURES',
  'CANCELLED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Whether a job in this state has ended (it will not change again). */
export function isFinal(state: string): boolean {
  return state !== 'PENDING' && state !== 'RUNNING';
}

export interface JobFailure {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** A job as the API shows it. */
export interface JobInfo {
  readonly id: string;
  readonly kind: string;
  readonly path: string;
  /** copy, move: the destination. */
  readonly dst?: string;
  /** Set when the job's files come from a list file (one Strata path a line). */
  readonly fromList?: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly state: JobState;
  readonly filesDone: number;
  readonly filesSkipped: number;
  readonly filesFailed: number;
  /** Files listed so far (the tree's total once the job has ended). */
  readonly filesTotal: number;
  /** Whether the listing has ended, so filesTotal and bytesTotal are the job's totals (not only what was found so far). */
  readonly listingDone: boolean;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** load with verify: cached pages found corrupt (checksum), dropped and fetched again. */
  readonly pagesRepaired: number;
  readonly failures: readonly JobFailure[];
  /** What the job did differently from what was asked, not a failure (e.g. fewer live workers than replicas). */
  readonly notes?: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
  readonly createdAtMs: number;
  readonly startedAtMs?: number;
  readonly updatedAtMs: number;
  readonly endedAtMs?: number;
}
