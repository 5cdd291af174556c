import { defineCommand } from '../command.js';
import { copyJob } from '../job-output.js';

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
  ...copyJob('copy'),
});
