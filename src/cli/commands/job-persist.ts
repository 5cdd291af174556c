import { StrataError } from '../../core/errors.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  words: ['job', 'persist'],
  summary: `upload files written ASYNC_THROUGH or MUST_CACHE to the store (not built yet: UNSUPPORTED)`,
  usage: 'job persist PATH...',
  examples: ['strata job persist /data'],
  options: {},
  args: { min: 0, max: 8 },
  remote: true,
  async run() {
    throw new StrataError('UNSUPPORTED', 'job kind persist is not implemented yet (only load and free are)');
  },
});
