import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'pin'],
  summary: 'keep a file or tree in the cache (never evicted)',
  usage: 'fs pin PATH',
  examples: ['strata fs pin /models/current.bin'],
  options: {},
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    await (await ctx.fs()).pin(ctx.positionals[0] ?? '', true);
    return 0;
  },
});
