import { isStrataError, StrataError } from '../../core/errors.js';
import { defineCommand, flag, print } from '../command.js';
import { json } from '../format.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['fs', 'location'],
  summary: 'print the worker(s) that own a path, primary first, one per line',
  usage: 'fs location [--json] PATH',
  description:
    'Shows where a path lives on the consistent-hash ring: the primary owner first, then the replicas a client falls back to. Each line is "ID ADDRESS".',
  examples: ['strata fs location /sales/2024/07/part-00042.parquet'],
  options: { json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const fs = await ctx.fs();
    const path = ctx.positionals[0]!;
    if (fs.location === undefined) throw new StrataError('UNSUPPORTED', 'this client cannot locate paths');
    await fs.status(path).catch((err: unknown) => {
      // Location is defined for any path; only a malformed one is an error.
      if (isStrataError(err, 'INVALID_PATH') || isStrataError(err, 'NAME_TOO_LONG')) throw err;
    });
    const owners = await fs.location(path);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json')
        ? json(owners.map((o) => ({ id: o.id, address: o.address })))
        : owners.map((o) => `${o.id} ${o.address}\n`).join(''),
    );
    return 0;
  },
});
