import type { MountOptions } from '../../client/types.js';
import { redactUri } from '../../ufs/factory.js';
import { defineCommand, flag, keyValues, listOption, print } from '../command.js';
import { json } from '../format.js';
import {
  JSON_OPTION,
  SYNC_INTERVAL_OPTION,
  syncIntervalMs,
  WRITE_TYPE_OPTION,
  writeType,
} from '../options.js';

export default defineCommand({
  words: ['fs', 'mount'],
  summary: 'mount an under-store (file, s3, http) at a path',
  usage:
    'fs mount [--readonly] [--fallback-to-ufs] [--sync-interval MS] [--write-type T] [--option k=v]... [--json] PATH URI',
  description:
    'Adds PATH → URI to the mount table. Connector options (endpoint, region, accessKeyId, secretAccessKey, pathStyle, timeoutMs…) go in --option; secrets are never echoed back.',
  examples: [
    'strata fs mount /local file:///srv/data',
    'strata fs mount /s3 s3://bucket/prefix --option region=eu-west-1 --option endpoint=http://127.0.0.1:9000 --option pathStyle=true',
    'strata fs mount --readonly --sync-interval 10m /web https://example.org/datasets',
  ],
  options: {
    readonly: { type: 'boolean', help: 'refuse writes under this mount' },
    'fallback-to-ufs': {
      type: 'boolean',
      help: 'clients read the store directly when all owning workers fail',
    },
    'sync-interval': SYNC_INTERVAL_OPTION,
    'write-type': WRITE_TYPE_OPTION,
    option: { type: 'string', multiple: true, valueName: 'k=v', help: 'connector option (repeatable)' },
    json: JSON_OPTION,
  },
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [path, uri] = ctx.positionals as [string, string];
    const opts: { -readonly [K in keyof MountOptions]: MountOptions[K] } = {};
    if (flag(ctx, 'readonly')) opts.readOnly = true;
    if (flag(ctx, 'fallback-to-ufs')) opts.fallbackToUfs = true;
    const sync = syncIntervalMs(ctx);
    if (sync !== undefined) opts.syncIntervalMs = sync;
    const wt = writeType(ctx);
    if (wt !== undefined) opts.writeType = wt;
    const options = keyValues(listOption(ctx, 'option'));
    if (Object.keys(options).length > 0) opts.options = options;
    const info = await (await ctx.fs()).mount(path, uri, opts);
    await print(
      ctx.io.stdout,
      flag(ctx, 'json') ? json(info) : `mounted ${redactUri(info.uri)} at ${info.path}\n`,
    );
    return 0;
  },
});
