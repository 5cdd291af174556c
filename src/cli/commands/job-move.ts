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
  words: ['job', 'move'],
  summary: 'start a job that moves a file or tree: copy, verify, then delete each source file',
  usage: 'job move [--overwrite] [--bandwidth RATE] [--wait] [--json] SRC DST',
  description:
    'Like job copy, but each source file is deleted only after its copy is verified. A move onto itself or into its own tree is refused.',
  examples: [
    'strata job move /scratch/run-7 /s3/results/run-7',
    'strata job move --wait --json /data/old /archive/old | jq .state',
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
      'move',
      { ...(flag(ctx, 'overwrite') ? { overwrite: true } : {}), ...bandwidthOption(ctx) },
      target,
    );
  },
});
