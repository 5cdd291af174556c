import { defineCommand } from '../command.js';
import { copyJob } from '../job-output.js';

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
  ...copyJob('move'),
});
