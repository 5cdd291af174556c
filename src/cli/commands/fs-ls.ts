import type { FileInfo, StrataFileSystem, SyncOption } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { defineCommand, flag, print } from '../command.js';
import { json, lsRow, table } from '../format.js';
import { JSON_OPTION, SYNC_INTERVAL_OPTION, syncOption } from '../options.js';

export default defineCommand({
  words: ['fs', 'ls'],
  summary: 'list a directory (type, size, cached %, mtime, name)',
  usage: 'fs ls [-R] [-h] [--json] [--sync-interval MS] [PATH]',
  description:
    'Lists PATH (default "/") like ls -l. Columns: type (d directory, - file; p pinned), size, share of the file in the cache, modification time, name.',
  examples: ['strata fs ls /', 'strata fs ls -R -h /data', 'strata fs ls --json --sync-interval 0 /s3/logs'],
  options: {
    recursive: { type: 'boolean', short: 'R', help: 'list subdirectories too' },
    human: { type: 'boolean', short: 'h', help: 'sizes as KiB, MiB, GiB' },
    json: JSON_OPTION,
    'sync-interval': SYNC_INTERVAL_OPTION,
  },
  args: { min: 0, max: 1 },
  remote: true,
  async run(ctx) {
    const fs = await ctx.fs();
    const path = ctx.positionals[0] ?? '/';
    const sync = syncOption(ctx);
    const human = flag(ctx, 'human');
    const top = await listOrSelf(fs, path, sync);
    if (!flag(ctx, 'recursive')) {
      await print(
        ctx.io.stdout,
        flag(ctx, 'json')
          ? json(top)
          : table(
              top.map((e) => lsRow(e, human)),
              [1, 2],
            ),
      );
      return 0;
    }
    const all: FileInfo[] = [];
    const queue: Array<{ dir: string; entries: readonly FileInfo[] }> = [{ dir: path, entries: top }];
    for (let item = queue.shift(); item; item = queue.shift()) {
      if (flag(ctx, 'json')) all.push(...item.entries);
      else
        await print(
          ctx.io.stdout,
          `${item.dir}:\n${table(
            item.entries.map((e) => lsRow(e, human)),
            [1, 2],
          )}\n`,
        );
      for (const e of item.entries) {
        if (e.type === 'directory') queue.push({ dir: e.path, entries: await fs.list(e.path, sync) });
      }
    }
    if (flag(ctx, 'json')) await print(ctx.io.stdout, json(all));
    return 0;
  },
});

/** ls of a file shows the file, as ls does. */
async function listOrSelf(
  fs: StrataFileSystem,
  path: string,
  sync: SyncOption,
): Promise<readonly FileInfo[]> {
  try {
    return await fs.list(path, sync);
  } catch (err) {
    if (isStrataError(err, 'NOT_A_DIRECTORY')) return [await fs.status(path, sync)];
    throw err;
  }
}
