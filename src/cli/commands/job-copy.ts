import { defineCommand, flag } from '../command.js';
import {
  BANDWIDTH_OPTION,
  bandwidthOption,
  sourceAndDestination,
  submitAndReport,
  WAIT_OPTION,
} from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'copy'],
  summary: 'start a job that copies a file or tree to another path, between any two mounts',
  usage: 'job copy [--overwrite] [--bandwidth RATE] [--wait] [--json] SRC DST',
  description:
    'Copies SRC (a file, or a directory and everything below it) to DST through the cache, e.g. from a file:// mount to an s3:// one. An existing destination file is an error unless --overwrite.',
  examples: [
    'strata job copy /local/exports /s3/archive/exports',
    'strata job copy --overwrite --wait /data/a.parquet /s3/b/a.parquet',
  ],
  options: {
    overwrite: { type: 'boolean', help: 'replace destination files that exist (default: refuse them)' },
    bandwidth: BANDWIDTH_OPTION,
    wait: WAIT_OPTION,
    json: JSON_OPTION,
  },
  args: { min: 2, max: 2 },
  remote: true,
  run(ctx) {
    const target = sourceAndDestination(ctx);
    return submitAndReport(
      ctx,
      'copy',
      { ...(flag(ctx, 'overwrite') ? { overwrite: true } : {}), ...bandwidthOption(ctx) },
      target,
    );
  },
});
