import type { WriteType } from '../../client/types.js';
import { defineCommand, print } from '../command.js';
import { READ_TYPE_OPTION, readType, WRITE_TYPE_OPTION, writeType } from '../options.js';

export default defineCommand({
  words: ['fs', 'cp'],
  summary: 'copy a file within the namespace (also across mounts)',
  usage: 'fs cp [--read-type T] [--write-type T] SRC DST',
  examples: ['strata fs cp /s3/raw/a.csv /local/a.csv', 'strata fs cp --write-type THROUGH /hot/x /cold/x'],
  options: { 'read-type': READ_TYPE_OPTION, 'write-type': WRITE_TYPE_OPTION },
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [src, dst] = ctx.positionals as [string, string];
    const rt = readType(ctx);
    const wt = writeType(ctx);
    const fs = await ctx.fs();
    const info = await fs.status(src);
    const stream = await fs.read(src, rt === undefined ? {} : { readType: rt });
    const opts: { writeType?: WriteType; size: number } = { size: info.size };
    if (wt !== undefined) opts.writeType = wt;
    try {
      const written = await fs.write(dst, stream, opts);
      await print(ctx.io.stdout, `copied ${src} to ${dst} (${written.size} bytes)\n`);
    } finally {
      stream.destroy();
    }
    return 0;
  },
});
