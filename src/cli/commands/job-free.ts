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
  words: ['job', 'free'],
  summary: 'start a job that drops the cached pages of a tree (pinned pages stay)',
  usage: 'job free [--bandwidth RATE] [--wait] [--json] (PATH | --from-list LIST)',
  examples: ['strata job free /s3/training-set', 'strata job free --wait /data/old'],
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
    return submitAndReport(ctx, 'free', bandwidthOption(ctx), target);
  },
});
