import { defineCommand } from '../command.js';
import { submitAndReport, WAIT_OPTION } from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'free'],
  summary: 'start a job that drops the cached pages of a tree (pinned pages stay)',
  usage: 'job free [--wait] [--json] PATH',
  examples: ['strata job free /s3/training-set', 'strata job free --wait /data/old'],
  options: { wait: WAIT_OPTION, json: JSON_OPTION },
  args: { min: 1, max: 1 },
  remote: true,
  run(ctx) {
    return submitAndReport(ctx, 'free', {});
  },
});
