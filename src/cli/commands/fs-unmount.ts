import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'unmount'],
  summary: 'remove a mount (its cached data is freed; the store is untouched)',
  usage: 'fs unmount PATH',
  examples: ['strata fs unmount /s3'],
  options: {},
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    await (await ctx.fs()).unmount(ctx.positionals[0] ?? '');
    return 0;
  },
});
