import { defineCommand, flag, print } from '../command.js';
import { endedCode, progressLine } from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'wait'],
  summary: 'wait until a job has ended; exit 0 only if it SUCCEEDED',
  usage: 'job wait [--json] ID',
  description:
    'Prints the job as it ended. Exit code: 0 for SUCCEEDED; CANCELLED 130; FAILED or COMPLETED_WITH_FAILURES the code of its error or first failure (docs/errors.md).',
  examples: ['strata job wait 3f6c… && echo loaded'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const job = await ctx.jobs().wait(ctx.positionals[0] ?? '');
    await print(ctx.io.stdout, flag(ctx, 'json') ? `${JSON.stringify(job)}\n` : progressLine(job));
    const e = endedCode(job);
    if (e !== undefined) throw e;
    return 0;
  },
});
