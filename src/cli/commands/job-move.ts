import { StrataError } from '../../core/errors.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['job', 'move'],
  summary: `move a tree (copy, then delete the source) (not built yet: UNSUPPORTED)`,
  usage: 'job move PATH...',
  examples: ['strata job move /data'],
  options: {},
  args: { min: 0, max: 8 },
  remote: true,
  async run() {
    throw new StrataError('UNSUPPORTED', 'job kind move is not implemented yet (only load and free are)');
  },
});
