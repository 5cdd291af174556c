import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { WriteType } from '../../client/types.js';
import { toStrataError } from '../../core/errors.js';
import { defineCommand, flag, print } from '../command.js';
import { humanBytes, json } from '../format.js';
import { JSON_OPTION, WRITE_TYPE_OPTION, writeType } from '../options.js';

export default defineCommand({
  words: ['fs', 'put'],
  summary: 'upload a local file (or stdin) to a path',
  usage: 'fs put [--write-type T] [--json] LOCAL|- PATH',
  description: 'Streams LOCAL (or stdin when "-") to PATH, creating or replacing it.',
  examples: [
    'strata fs put ./a.parquet /data/a.parquet',
    'strata fs put --write-type MUST_CACHE ./tmp.bin /scratch/tmp.bin',
    'gzip -c log | strata fs put - /logs/today.gz',
  ],
  options: { 'write-type': WRITE_TYPE_OPTION, json: JSON_OPTION },
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [local, path] = ctx.positionals as [string, string];
    const wt = writeType(ctx);
    const fs = await ctx.fs();
    const opts: { writeType?: WriteType; size?: number } = {};
    if (wt !== undefined) opts.writeType = wt;
    let source = ctx.io.stdin;
    if (local !== '-') {
      try {
        const s = await stat(local);
        if (s.isFile()) opts.size = s.size;
      } catch (err) {
        throw toStrataError(err);
      }
      source = createReadStream(local, { highWaterMark: 1024 * 1024 });
    }
    const info = await fs.write(path, source, opts);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json') ? json(info) : `wrote ${path} (${info.size} bytes, ${humanBytes(info.size)})\n`,
    );
    return 0;
  },
});
