import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['fs', 'mkdir'],
  summary: 'create directories (and their parents)',
  usage: 'fs mkdir PATH...',
  examples: ['strata fs mkdir /data/2024/05'],
  options: {},
  args: { min: 1, max: Number.POSITIVE_INFINITY },
  remote: true,
  async run(ctx) {
    const fs = await ctx.fs();
    for (const path of ctx.positionals) await fs.mkdir(path);
    return 0;
  },
});
