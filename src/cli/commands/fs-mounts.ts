import { defineCommand, flag, print } from '../command.js';
import { json, mountRows, table } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'mounts'],
  summary: 'list the mount table',
  usage: 'fs mounts [--json]',
  examples: ['strata fs mounts', 'strata fs mounts --json'],
  options: { json: JSON_OPTION },
  args: { min: 0, max: 0 },
  remote: true,
  async run(ctx) {
    const mounts = await (await ctx.fs()).mounts();
    await print(ctx.io.stdout, flag(ctx, 'json') ? json(mounts) : table(mountRows(mounts)));
    return 0;
  },
});
