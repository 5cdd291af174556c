import { defineCommand } from '../command.js';
import { pathJob } from '../job-output.js';

export default defineCommand({
  words: ['job', 'free'],
  summary: 'start a job that drops the cached pages of a tree (pinned pages stay)',
  usage: 'job free [--bandwidth RATE] [--wait] [--json] (PATH | --from-list LIST)',
  examples: ['strata job free /s3/training-set', 'strata job free --wait /data/old'],
  ...pathJob('free'),
});
