import { StrataError } from '../core/errors.js';
import type { JobSummary } from '../core/file-system.js';
import { type CommandContext, print } from './command.js';
import { endedCode, waitQuietly } from './job-output.js';

/**
 * `strata fs load` / `fs free` as a job on the scheduler, waited for (a progress bar on stderr
 * when it is a terminal), so they show in `strata job ls` and survive a scheduler restart. Where
 * no scheduler runs (an etcd cluster without `strata scheduler`) the client does the work itself,
 * as before, and says so on stderr: scripts keep working.
 */

export interface FsJobResult extends JobSummary {
  /** The job's id; absent when the client did the work itself. */
  readonly job?: string;
}

/** The jobs API has no scheduler behind it: the cases where the direct loop still works. */
function noScheduler(err: unknown): err is StrataError {
  // JobsClient: no live scheduler in the registry ("start one: strata scheduler --registry URI").
  return err instanceof StrataError && err.code === 'UNAVAILABLE' && /strata scheduler/.test(err.message);
}

export async function runAsJob(
  ctx: CommandContext,
  kind: 'load' | 'free',
  path: string,
): Promise<FsJobResult> {
  let client: ReturnType<CommandContext['jobs']>;
  try {
    client = ctx.jobs();
  } catch (err) {
    if (!noScheduler(err)) throw err;
    return direct(ctx, kind, path, err);
  }
  let submitted: Awaited<ReturnType<typeof client.submit>>;
  try {
    submitted = await client.submit(kind, path);
  } catch (err) {
    if (!noScheduler(err)) throw err;
    return direct(ctx, kind, path, err);
  }
  const job = await waitQuietly(ctx, client, submitted.id);
  const e = endedCode(job);
  if (e !== undefined) throw e;
  return { files: job.filesDone + job.filesSkipped, bytes: job.bytesDone, job: job.id };
}

async function direct(
  ctx: CommandContext,
  kind: 'load' | 'free',
  path: string,
  why: StrataError,
): Promise<FsJobResult> {
  await print(
    ctx.io.stderr,
    `strata: no scheduler to run a ${kind} job (${why.message}); this client does it directly instead\n`,
  );
  const fs = await ctx.fs();
  return kind === 'load' ? fs.load(path) : fs.free(path);
}
