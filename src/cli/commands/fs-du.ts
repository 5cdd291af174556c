import { defineCommand, flag, print } from '../command.js';
import { json, size, table } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'du'],
  summary: 'total size of a tree, and how much of it is cached',
  usage: 'fs du [-h] [--json] PATH',
  examples: ['strata fs du -h /s3/datasets', 'strata fs du --json /data'],
  options: { human: { type: 'boolean', short: 'h', help: 'sizes as KiB, MiB, GiB' }, json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const path = ctx.positionals[0] ?? '';
    const u = await (await ctx.fs()).du(path);
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json({ path, ...u }));
      return 0;
    }
    const h = flag(ctx, 'human');
    const pct = u.bytes === 0 ? 100 : Math.round((u.cachedBytes / u.bytes) * 100);
    await print(
      ctx.io.stdout,
      table(
        [
          ['SIZE', 'CACHED', 'CACHED%', 'FILES', 'DIRS', 'PATH'],
          [size(u.bytes, h), size(u.cachedBytes, h), `${pct}%`, String(u.files), String(u.directories), path],
        ],
        [0, 1, 2, 3, 4],
      ),
    );
    return 0;
  },
});
