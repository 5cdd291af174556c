import { defineCommand, flag } from '../command.js';

export default defineCommand({
  words: ['fs', 'rm'],
  summary: 'delete files (and directories with -R), in the cache and the store',
  usage: 'fs rm [-R] PATH...',
  examples: ['strata fs rm /data/old.csv', 'strata fs rm -R /scratch/run-42'],
  options: {
    recursive: { type: 'boolean', short: 'R', help: 'delete directories and everything below them' },
  },
  args: { min: 1, max: Number.POSITIVE_INFINITY },
  remote: true,
  async run(ctx) {
    const fs = await ctx.fs();
    for (const path of ctx.positionals) await fs.delete(path, { recursive: flag(ctx, 'recursive') });
    return 0;
  },
});
