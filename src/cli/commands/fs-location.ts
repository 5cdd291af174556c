import { defineCommand, flag, print } from '../command.js';
import { json } from '../format.js';
import { JSON_OPTION } from '../options.js';

/** A file system that can say which workers own a path (the cluster client, or one worker). */
interface Locating {
  location(
    path: string,
  ): Promise<Array<{ id: string; address: string }>> | Array<{ id: string; address: string }>;
}

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
    const fs = (await ctx.fs()) as unknown as Partial<Locating>;
    const path = ctx.positionals[0]!;
    if (typeof fs.location !== 'function') throw new Error('this client cannot locate paths');
    await (fs as unknown as { status(p: string): Promise<unknown> }).status(path).catch((err: unknown) => {
      // Location is defined for any path; only a malformed one is an error.
      if (
        (err as { code?: string }).code === 'INVALID_PATH' ||
        (err as { code?: string }).code === 'NAME_TOO_LONG'
      )
        throw err;
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
