import { defineCommand, flag, print } from '../command.js';
import { progressLine } from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'cancel'],
  summary: 'cancel a job (one that has ended stays as it ended)',
  usage: 'job cancel [--json] ID',
  examples: ['strata job cancel 3f6c…'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const job = await ctx.jobs().cancel(ctx.positionals[0] ?? '');
    await print(ctx.io.stdout, flag(ctx, 'json') ? `${JSON.stringify(job)}\n` : progressLine(job));
    return 0;
  },
});
