import { defineCommand, flag, print } from '../command.js';
import { humanBytes, json } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'load'],
  summary: 'read files into the cache (a directory: everything below it)',
  usage: 'fs load [--json] PATH',
  examples: ['strata fs load /s3/training-set', 'strata fs load --json /data/a.parquet'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const path = ctx.positionals[0] ?? '';
    const job = await (await ctx.fs()).load(path);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json')
        ? json(job)
        : `loaded ${job.files} files, ${job.bytes} bytes (${humanBytes(job.bytes)}) under ${path}\n`,
    );
    return 0;
  },
});
