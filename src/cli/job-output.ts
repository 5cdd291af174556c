import type { JobInfo, JobsClient } from '../client/jobs-client.js';
import { isErrorCode, StrataError } from '../core/errors.js';
import { parseRate } from '../core/units.js';
import {
  type CommandContext,
  type CommandSpec,
  flag,
  type OptionSpec,
  print,
  stringOption,
  UsageError,
} from './command.js';
import { humanBytes } from './format.js';
import { isTty, untilInterrupted, watchJob } from './job-watch.js';
import { JSON_OPTION } from './options.js';

/** Output, flags and waiting shared by the `strata job …` commands. */

export const WAIT_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'wait until the job has ended (a progress bar on stderr when it is a terminal); exit 0 only if it SUCCEEDED',
};
export const BANDWIDTH_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'RATE',
  help: 'limit for the whole job across the cluster: 20MiB/s, 100MB/s, 1.5GiB/s, or bytes/s; 0 = unlimited (binary units: 1MB = 1MiB). Submitting the job again with another RATE changes it',
};
export const FROM_LIST_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'LIST',
  help: 'a Strata path of a text file listing the paths to handle, one per line (instead of PATH)',
};

/** One line: `ID STATE kind path: 12/300 files, 1.2 MiB/40 MiB (4 %), 0 failed`. */
export function progressLine(job: JobInfo): string {
  const pct = job.bytesTotal > 0 ? Math.floor((job.bytesDone / job.bytesTotal) * 100) : 0;
  const skipped = job.filesSkipped > 0 ? `, ${job.filesSkipped} skipped` : '';
  const error = job.error === undefined ? '' : ` (${job.error.code}: ${job.error.message})`;
  return `${job.id} ${job.state} ${job.kind} ${job.path}: ${job.filesDone}/${job.filesTotal} files, ${humanBytes(job.bytesDone)}/${humanBytes(job.bytesTotal)} (${pct} %)${skipped}, ${job.filesFailed} failed${error}\n`;
}

/**
 * After the bar of an ended job: its notes (what it did differently from what was asked) and its
 * listed failures, one per line (the record keeps at most 100).
 */
export function failureLines(job: JobInfo, max = 10): string {
  const lines = (job.notes ?? []).map((n) => `  note: ${n}\n`);
  for (const f of job.failures.slice(0, max)) lines.push(`  failed: ${f.path}: ${f.code}: ${f.message}\n`);
  const more = job.filesFailed - Math.min(max, job.failures.length);
  if (more > 0) lines.push(`  … and ${more} more failed (strata job status --json ${job.id})\n`);
  return lines.join('');
}

/** JSON lines when asked (--json) or when stdout is not a terminal. */
export function wantsJson(ctx: CommandContext): boolean {
  return flag(ctx, 'json') || !isTty(ctx.io.stdout);
}

/** The exit code of an ended job: 0 for SUCCEEDED, else the table's code for why it did not. */
export function endedCode(job: JobInfo): StrataError | undefined {
  if (job.state === 'SUCCEEDED') return undefined;
  if (job.state === 'CANCELLED') return new StrataError('CANCELLED', `job ${job.id} was cancelled`);
  const first = job.error ?? job.failures[0];
  const code = first !== undefined && isErrorCode(first.code) ? first.code : 'INTERNAL';
  const why = first === undefined ? '' : `: ${first.code}: ${first.message}`;
  return new StrataError(
    code,
    `job ${job.id} ended ${job.state} (${job.filesFailed} of ${job.filesTotal} files failed)${why}`,
  );
}

/** `--bandwidth RATE` as the API's `bandwidth` option (bytes per second), when given. */
export function bandwidthOption(ctx: CommandContext): { bandwidth?: number } {
  const text = stringOption(ctx, 'bandwidth');
  if (text === undefined) return {};
  try {
    return { bandwidth: parseRate(text, '--bandwidth') };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `--replicas N`: a whole number ≥ 1, when given. */
export function replicasOption(ctx: CommandContext): { replicas?: number } {
  const text = stringOption(ctx, 'replicas');
  if (text === undefined) return {};
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`--replicas must be a whole number ≥ 1, got "${text}"`);
  return { replicas: Number(text) };
}

/** What a job starts from: PATH, or --from-list LIST (exactly one of them). */
export interface JobTarget {
  readonly path: string;
  readonly extra: { dst?: string; fromList?: string };
}

export function pathOrList(ctx: CommandContext): JobTarget {
  const list = stringOption(ctx, 'from-list');
  const path = ctx.positionals[0];
  if (list !== undefined && path !== undefined)
    throw new UsageError('give either PATH or --from-list LIST, not both');
  if (list !== undefined) {
    if (list === '') throw new UsageError('--from-list needs a Strata path');
    return { path: '', extra: { fromList: list } };
  }
  if (path === undefined) throw new UsageError('missing PATH (or --from-list LIST)');
  return { path, extra: {} };
}

/** SRC DST of copy and move. */
export function sourceAndDestination(ctx: CommandContext): JobTarget {
  const [src, dst] = ctx.positionals;
  if (src === undefined || dst === undefined) throw new UsageError('copy and move take SRC and DST');
  return { path: src, extra: { dst } };
}

/**
 * Follows a submitted job to its end without printing it on stdout: a progress bar on stderr
 * when stderr is a terminal. Ctrl-C stops the waiting (exit 130), not the job.
 */
export function waitQuietly(ctx: CommandContext, client: JobsClient, id: string): Promise<JobInfo> {
  const mode = isTty(ctx.io.stderr) ? 'bar' : 'quiet';
  return untilInterrupted((signal) => watchJob(client, id, ctx.io.stderr, mode, { signal }), id);
}

/**
 * Submits a job and prints its id (with --json: the job as one JSON object). With --wait it then
 * follows the job (bar on stderr) and exits by how it ended; --json then prints the ended job.
 */
export async function submitAndReport(
  ctx: CommandContext,
  kind: string,
  options: Record<string, unknown>,
  target: JobTarget,
): Promise<number> {
  const client: JobsClient = ctx.jobs();
  const json = flag(ctx, 'json');
  let job = await client.submit(kind, target.path, options, target.extra);
  if (!json) await print(ctx.io.stdout, `${job.id}\n`);
  if (flag(ctx, 'wait')) {
    job = await waitQuietly(ctx, client, job.id);
    if (isTty(ctx.io.stderr)) await print(ctx.io.stderr, failureLines(job));
  }
  if (json) await print(ctx.io.stdout, `${JSON.stringify(job)}\n`);
  if (flag(ctx, 'wait')) {
    const e = endedCode(job);
    if (e !== undefined) throw e;
  }
  return 0;
}

/** The options and run of a kind that takes PATH or --from-list (free, persist). */
export function pathJob(kind: string): Pick<CommandSpec, 'options' | 'args' | 'remote' | 'run'> {
  return {
    options: {
      bandwidth: BANDWIDTH_OPTION,
      'from-list': FROM_LIST_OPTION,
      wait: WAIT_OPTION,
      json: JSON_OPTION,
    },
    args: { min: 0, max: 1 },
    remote: true,
    run: (ctx) => submitAndReport(ctx, kind, bandwidthOption(ctx), pathOrList(ctx)),
  };
}

/** The options and run of copy and move (SRC DST, --overwrite). */
export function copyJob(kind: 'copy' | 'move'): Pick<CommandSpec, 'options' | 'args' | 'remote' | 'run'> {
  return {
    options: {
      overwrite: { type: 'boolean', help: 'replace destination files that exist (default: refuse them)' },
      bandwidth: BANDWIDTH_OPTION,
      wait: WAIT_OPTION,
      json: JSON_OPTION,
    },
    args: { min: 2, max: 2 },
    remote: true,
    run(ctx) {
      const target = sourceAndDestination(ctx);
      return submitAndReport(
        ctx,
        kind,
        { ...(flag(ctx, 'overwrite') ? { overwrite: true } : {}), ...bandwidthOption(ctx) },
        target,
      );
    },
  };
}
