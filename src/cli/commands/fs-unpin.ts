import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'unpin'],
  summary: 'let a pinned file or tree be evicted again',
  usage: 'fs unpin PATH',
  examples: ['strata fs unpin /models/current.bin'],
  options: {},
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    await (await ctx.fs()).pin(ctx.positionals[0] ?? '', false);
    return 0;
  },
});
