import { defineCommand, flag } from '../command.js';
import {
  BANDWIDTH_OPTION,
  bandwidthOption,
  FROM_LIST_OPTION,
  pathOrList,
  replicasOption,
  submitAndReport,
  WAIT_OPTION,
} from '../job-output.js';
import { JSON_OPTION } from '../options.js';

export default defineCommand({
  words: ['job', 'load'],
  summary: 'start a job that loads a tree into the cache (run by the scheduler; resumable)',
  usage:
    'job load [--replicas N] [--verify] [--skip-if-cached] [--metadata-only] [--bandwidth RATE] [--wait] [--json] (PATH | --from-list LIST)',
  description:
    'Prints the job id (with --json the job). The scheduler runs it in batches sent to the owners of the files and keeps its progress in the registry: a restart or a new leader resumes it. Submitting the same load of the same path again answers the job already running (with --bandwidth: at that new rate). SUCCEEDED means every listed file is 100 % cached.',
  examples: [
    'strata job load /s3/training-set',
    'strata job load --bandwidth 200MiB/s --wait /s3/training-set',
    'strata job load --replicas 2 --verify /data/hot',
    'strata job load --from-list /data/lists/today.txt',
    'strata job load --wait --json /data | jq .state',
  ],
  options: {
    replicas: { type: 'string', valueName: 'N', help: 'cache each file on its first N owners (default 1)' },
    verify: {
      type: 'boolean',
      help: 're-read every cached page checking its checksum; a corrupt one is dropped and fetched again',
    },
    'skip-if-cached': { type: 'boolean', help: 'pass over files already 100 % cached' },
    'metadata-only': { type: 'boolean', help: 'load statuses and listings only, no file bytes' },
    bandwidth: BANDWIDTH_OPTION,
    'from-list': FROM_LIST_OPTION,
    wait: WAIT_OPTION,
    json: JSON_OPTION,
  },
  args: { min: 0, max: 1 },
  remote: true,
  run(ctx) {
    const target = pathOrList(ctx);
    return submitAndReport(
      ctx,
      'load',
      {
        ...replicasOption(ctx),
        ...(flag(ctx, 'verify') ? { verify: true } : {}),
        ...(flag(ctx, 'skip-if-cached') ? { skipIfCached: true } : {}),
        ...(flag(ctx, 'metadata-only') ? { metadataOnly: true } : {}),
        ...bandwidthOption(ctx),
      },
      target,
    );
  },
});
