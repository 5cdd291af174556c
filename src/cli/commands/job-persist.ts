import { defineCommand } from '../command.js';
import {
  BANDWIDTH_OPTION,
  bandwidthOption,
  FROM_LIST_OPTION,
  pathOrList,
  submitAndReport,
  WAIT_OPTION,
} from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'persist'],
  summary: 'start a job that uploads files written ASYNC_THROUGH or MUST_CACHE to the store',
  usage: 'job persist [--bandwidth RATE] [--wait] [--json] (PATH | --from-list LIST)',
  description:
    'Pushes every pending write under PATH to its store and ends once each is durable there (a file with nothing pending is counted as skipped).',
  examples: ['strata job persist --wait /data/scratch', 'strata job persist --bandwidth 50MiB/s /s3/out'],
  options: {
    bandwidth: BANDWIDTH_OPTION,
    'from-list': FROM_LIST_OPTION,
    wait: WAIT_OPTION,
    json: JSON_OPTION,
  },
  args: { min: 0, max: 1 },
  remote: true,
  run(ctx) {
    const target = pathOrList(ctx);
    return submitAndReport(ctx, 'persist', bandwidthOption(ctx), target);
  },
});
