import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'mv'],
  summary: 'rename a file or directory',
  usage: 'fs mv SRC DST',
  examples: ['strata fs mv /data/tmp.parquet /data/final.parquet'],
  options: {},
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [src, dst] = ctx.positionals as [string, string];
    await (await ctx.fs()).rename(src, dst);
    return 0;
  },
});
