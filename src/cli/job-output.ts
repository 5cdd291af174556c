import type { JobInfo, JobsClient } from '../client/jobs-client.js';
import { isErrorCode, StrataError } from '../core/errors.js';
import { type CommandContext, flag, type OptionSpec, print } from './command.js';
import { humanBytes } from './format.js';

/** Output and waiting shared by the `strata job …` commands. */

export const WAIT_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'wait until the job has ended; exit 0 only if it SUCCEEDED',
};

/** One line: `ID STATE kind path: 12/300 files, 1.2 MiB/40 MiB (4 %), 0 failed`. */
export function progressLine(job: JobInfo): string {
  const pct = job.bytesTotal > 0 ? Math.floor((job.bytesDone / job.bytesTotal) * 100) : 0;
  const skipped = job.filesSkipped > 0 ? `, ${job.filesSkipped} skipped` : '';
  const error = job.error === undefined ? '' : ` (${job.error.code}: ${job.error.message})`;
  return `${job.id} ${job.state} ${job.kind} ${job.path}: ${job.filesDone}/${job.filesTotal} files, ${humanBytes(job.bytesDone)}/${humanBytes(job.bytesTotal)} (${pct} %)${skipped}, ${job.filesFailed} failed${error}\n`;
}

/** JSON lines when asked (--json) or when stdout is not a terminal. */
export function wantsJson(ctx: CommandContext): boolean {
  return flag(ctx, 'json') || (ctx.io.stdout as { isTTY?: boolean }).isTTY !== true;
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

/** Submits a job and prints its id (or the job as JSON); with --wait, waits and exits by its end. */
export async function submitAndReport(
  ctx: CommandContext,
  kind: string,
  options: Record<string, unknown>,
): Promise<number> {
  const client: JobsClient = ctx.jobs();
  const path = ctx.positionals[0] ?? '';
  let job = await client.submit(kind, path, options);
  if (flag(ctx, 'wait')) job = await client.wait(job.id);
  await print(ctx.io.stdout, flag(ctx, 'json') ? `${JSON.stringify(job)}\n` : `${job.id}\n`);
  if (flag(ctx, 'wait')) {
    const e = endedCode(job);
    if (e !== undefined) throw e;
  }
  return 0;
}
