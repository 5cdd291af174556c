import { StrataError } from '../../core/errors.js';
import { parseDuration } from '../../core/units.js';
import { defineCommand, oneOf, stringOption } from '../command.js';

export default defineCommand({
  words: ['fs', 'ttl'],
  summary: 'set or clear the time-to-live of a file or tree',
  usage: 'fs ttl [--action free|delete] PATH DURATION|off',
  description:
    'After DURATION (500ms, 30s, 10m, 2h, 1d, or plain milliseconds) the cached data is freed (default) or the file deleted. "off" removes the TTL.',
  examples: [
    'strata fs ttl /scratch 1d --action delete',
    'strata fs ttl /s3/hot 2h',
    'strata fs ttl /s3/hot off',
  ],
  options: { action: { type: 'string', valueName: 'A', help: 'free (default) or delete' } },
  args: { min: 2, max: 2 },
  remote: true,
  async run(ctx) {
    const [path, duration] = ctx.positionals as [string, string];
    const action = oneOf(stringOption(ctx, 'action')?.toLowerCase(), ['free', 'delete'] as const, '--action');
    let ttl: number | null = null;
    if (duration !== 'off') {
      ttl = parseDuration(duration, 'DURATION');
      if (!Number.isSafeInteger(ttl) || ttl < 0)
        throw new StrataError('INVALID_ARGUMENT', 'DURATION must not be negative');
    }
    const fs = await ctx.fs();
    if (action === undefined) await fs.setTtl(path, ttl);
    else await fs.setTtl(path, ttl, action);
    return 0;
  },
});
