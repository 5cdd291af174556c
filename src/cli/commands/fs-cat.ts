import { pipeline } from 'node:stream/promises';
import { defineCommand } from '../command.js';
import { READ_TYPE_OPTION, readType } from '../options.js';

export default defineCommand({
  words: ['fs', 'cat'],
  summary: 'write files to stdout',
  usage: 'fs cat [--read-type T] PATH...',
  examples: [
    'strata fs cat /data/readme.txt',
    'strata fs cat /logs/big.log | head -n 20',
    'strata fs cat --read-type NO_CACHE /s3/x.csv',
  ],
  options: { 'read-type': READ_TYPE_OPTION },
  args: { min: 1, max: Number.POSITIVE_INFINITY },
  remote: true,
  async run(ctx) {
    const fs = await ctx.fs();
    const rt = readType(ctx);
    for (const path of ctx.positionals) {
      const stream = await fs.read(path, rt === undefined ? {} : { readType: rt });
      try {
        await pipeline(stream, ctx.io.stdout, { end: false });
      } catch (err) {
        // The reader went away (`| head`): that is success, not an error.
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
        throw err;
      }
    }
    return 0;
  },
});
