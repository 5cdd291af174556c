import { defineCommand, flag, print } from '../command.js';
import { formatDuration, humanBytes, isoTime, json } from '../format.js';
import { JSON_OPTION, SYNC_INTERVAL_OPTION, syncOption } from '../options.js';

export default defineCommand({
  words: ['fs', 'stat'],
  summary: 'show one file or directory, with how much of it is cached',
  usage: 'fs stat [--json] [--sync-interval MS] PATH',
  examples: ['strata fs stat /data/a.parquet', 'strata fs stat --json /data/a.parquet | jq .cachedPercent'],
  options: { json: JSON_OPTION, 'sync-interval': SYNC_INTERVAL_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  async run(ctx) {
    const info = await (await ctx.fs()).status(ctx.positionals[0] ?? '/', syncOption(ctx));
    if (flag(ctx, 'json')) {
      await print(ctx.io.stdout, json(info));
      return 0;
    }
    const lines: Array<[string, string]> = [
      ['path', info.path],
      ['type', info.type],
      ['size', `${info.size} bytes (${humanBytes(info.size)})`],
      ['cached', `${info.cachedBytes} bytes (${info.cachedPercent}%)`],
      ['mtime', isoTime(info.mtimeMs)],
      ['fingerprint', info.fingerprint],
      ['pinned', info.pinned ? 'yes' : 'no'],
      [
        'ttl',
        info.ttlMs === undefined
          ? 'none'
          : `${formatDuration(info.ttlMs)} (then ${info.ttlAction ?? 'free'})`,
      ],
      ['persistence', info.persistence],
      ['mount', info.mount],
    ];
    if (info.etag !== undefined) lines.splice(6, 0, ['etag', info.etag]);
    await print(ctx.io.stdout, lines.map(([k, v]) => `${`${k}:`.padEnd(13)}${v}\n`).join(''));
    return 0;
  },
});
