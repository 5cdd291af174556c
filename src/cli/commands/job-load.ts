import { defineCommand, flag } from '../command.js';
import { submitAndReport, WAIT_OPTION } from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'load'],
  summary: 'start a job that loads a tree into the cache (run by the scheduler; resumable)',
  usage: 'job load [--skip-if-cached] [--metadata-only] [--wait] [--json] PATH',
  description:
    'Prints the job id (with --json the job). The scheduler of "strata local" runs it in batches and keeps its progress in the registry: a restart resumes it. Submitting the same load of the same path again answers the job already running.',
  examples: [
    'strata job load /s3/training-set',
    'strata job load --skip-if-cached --wait /s3/training-set',
    'strata job load --wait --json /data | jq .state',
  ],
  options: {
    'skip-if-cached': { type: 'boolean', help: 'pass over files already 100 % cached' },
    'metadata-only': { type: 'boolean', help: 'load the metadata only, no file bytes' },
    wait: WAIT_OPTION,
    json: JSON_OPTION,
  },
  args: { min: 1, max: 1 },
  remote: true,
  run(ctx) {
    return submitAndReport(ctx, 'load', {
      ...(flag(ctx, 'skip-if-cached') ? { skipIfCached: true } : {}),
      ...(flag(ctx, 'metadata-only') ? { metadataOnly: true } : {}),
    });
  },
});
