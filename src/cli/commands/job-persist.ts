import { defineCommand } from '../command.js';
import { pathJob } from '../job-output.js';

export default defineCommand({
  words: ['job', 'persist'],
  summary: 'start a job that uploads files written ASYNC_THROUGH or MUST_CACHE to the store',
  usage: 'job persist [--bandwidth RATE] [--wait] [--json] (PATH | --from-list LIST)',
  description:
    'Pushes every pending write under PATH to its store and ends once each is durable there (a file with nothing pending is counted as skipped).',
  examples: ['strata job persist --wait /data/scratch', 'strata job persist --bandwidth 50MiB/s /s3/out'],
  ...pathJob('persist'),
});
