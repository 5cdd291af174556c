import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { toStrataError } from '../../core/errors.js';
import { defineCommand } from '../command.js';
import { READ_TYPE_OPTION, readType } from '../options.js';

export default defineCommand({
  words: ['fs', 'get'],
  summary: 'download a path to a local file (or stdout)',
  usage: 'fs get [--read-type T] PATH LOCAL|-',
  description:
    'Streams PATH into LOCAL through a temporary file renamed at the end, so a failed download never leaves a short file behind.',
  examples: ['strata fs get /data/a.parquet ./a.parquet', 'strata fs get /data/a.csv - | wc -l'],
  options: { 'read-type': READ_TYPE_OPTION },
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [path, local] = ctx.positionals as [string, string];
    const rt = readType(ctx);
    const stream = await (await ctx.fs()).read(path, rt === undefined ? {} : { readType: rt });
    if (local === '-') {
      await pipeline(stream, ctx.io.stdout, { end: false });
      return 0;
    }
    const tmp = join(dirname(local), `.${basename(local)}.strata-${randomBytes(4).toString('hex')}`);
    try {
      await pipeline(stream, createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, local);
    } catch (err) {
      await rm(tmp, { force: true });
      throw toStrataError(err);
    }
    return 0;
  },
});
