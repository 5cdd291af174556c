import { StrataError } from '../../core/errors.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['job', 'copy'],
  summary: `copy a tree through the cache (not built yet: UNSUPPORTED)`,
  usage: 'job copy PATH...',
  examples: ['strata job copy /data'],
  options: {},
  args: { min: 0, max: 8 },
  remote: true,
  async run() {
    throw new StrataError('UNSUPPORTED', 'job kind copy is not implemented yet (only load and free are)');
  },
});
