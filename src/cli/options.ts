import { READ_TYPES, type ReadType, type SyncOption, WRITE_TYPES, type WriteType } from '../client/types.js';
import { StrataError } from '../core/errors.js';
import { parseDuration } from '../core/units.js';
import { type CommandContext, type OptionSpec, oneOf, stringOption } from './command.js';

/** Options several commands share, with their parsing. */

export const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'print JSON instead of a table' };
export const READ_TYPE_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'T',
  help: `read type: ${READ_TYPES.join(', ')} (default CACHE)`,
};
export const WRITE_TYPE_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'T',
  help: `write type: ${WRITE_TYPES.join(', ')} (default: the mount's)`,
};
export const SYNC_INTERVAL_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'MS',
  help: "metadata staleness allowed for this call: -1 trust the cache, 0 always check the store, N ms (default: the mount's)",
};

export function readType(ctx: CommandContext): ReadType | undefined {
  return oneOf(stringOption(ctx, 'read-type'), READ_TYPES, '--read-type');
}

export function writeType(ctx: CommandContext): WriteType | undefined {
  return oneOf(stringOption(ctx, 'write-type'), WRITE_TYPES, '--write-type');
}

/** Accepts -1, 0, milliseconds or a duration such as 30s / 10m. */
export function syncIntervalMs(ctx: CommandContext): number | undefined {
  const text = stringOption(ctx, 'sync-interval');
  if (text === undefined) return undefined;
  const ms = parseDuration(text, '--sync-interval');
  if (!Number.isSafeInteger(ms) || ms < -1)
    throw new StrataError('INVALID_ARGUMENT', '--sync-interval must be -1, 0 or a duration');
  return ms;
}

export function syncOption(ctx: CommandContext): SyncOption {
  const ms = syncIntervalMs(ctx);
  return ms === undefined ? {} : { syncIntervalMs: ms };
}
