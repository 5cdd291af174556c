import type { FileInfo, StrataFileSystem, SyncOption } from '../../client/types.js';
import { listPages } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { defineCommand, flag, print } from '../command.js';
import { lsRow, table } from '../format.js';
import { JSON_OPTION, SYNC_INTERVAL_OPTION, syncOption } from '../options.js';

export default defineCommand({
  words: ['fs', 'ls'],
  summary: 'list a directory (type, size, cached %, mtime, name)',
  usage: 'fs ls [-R] [-h] [--json] [--sync-interval MS] [PATH]',
  description:
    'Lists PATH (default "/") like ls -l. Columns: type (d directory, - file; p pinned), size, share of the file in the cache, modification time, name. Output streams a page of entries at a time (columns are aligned within a page), so a directory of millions of entries lists in bounded memory.',
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
    const recursive = flag(ctx, 'recursive');
    const out = flag(ctx, 'json') ? new JsonArrayWriter((s) => print(ctx.io.stdout, s)) : undefined;
    const rows = (entries: readonly FileInfo[]) =>
      table(
        entries.map((e) => lsRow(e, human)),
        [1, 2],
      );
    // Directories still to list (-R): paths only, breadth first as before.
    const queue: string[] = [];
    let first = true;
    for (let dir: string | undefined = path; dir !== undefined; dir = queue.shift()) {
      if (recursive && !out) await print(ctx.io.stdout, `${dir}:\n`);
      for await (const entries of first ? pagesOrSelf(fs, path, sync) : listPages(fs, dir, sync)) {
        if (out) await out.write(entries);
        else await print(ctx.io.stdout, rows(entries));
        if (recursive) for (const e of entries) if (e.type === 'directory') queue.push(e.path);
      }
      first = false;
      if (recursive && !out) await print(ctx.io.stdout, '\n');
      if (!recursive) break;
    }
    await out?.end();
    return 0;
  },
});

/** ls of a file shows the file, as ls does. */
async function* pagesOrSelf(
  fs: StrataFileSystem,
  path: string,
  sync: SyncOption,
): AsyncGenerator<readonly FileInfo[]> {
  try {
    yield* listPages(fs, path, sync);
  } catch (err) {
    if (isStrataError(err, 'NOT_A_DIRECTORY')) yield [await fs.status(path, sync)];
    else throw err;
  }
}

/** A JSON array written a page at a time, byte for byte what JSON.stringify(all, null, 2) gives. */
class JsonArrayWriter {
  #count = 0;
  constructor(private readonly emit: (text: string) => Promise<void>) {}

  async write(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return;
    let text = '';
    for (const item of items) {
      const body = JSON.stringify(item, null, 2).replace(/\n/g, '\n  ');
      text += `${this.#count === 0 ? '[\n' : ',\n'}  ${body}`;
      this.#count++;
    }
    await this.emit(text);
  }

  async end(): Promise<void> {
    await this.emit(this.#count === 0 ? '[]\n' : '\n]\n');
  }
}
