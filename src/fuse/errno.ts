import { constants } from 'node:os';
import { ERROR_TABLE, toStrataError } from '../core/errors.js';

/** Negative errno for a failure; the symbol comes only from the error table (src/core/errors.ts). */
export function errnoOf(err: unknown): number {
  const spec = ERROR_TABLE[toStrataError(err).code];
  return -errnoNumber(spec.errno);
}

/** Linux errno number of a symbol such as "ENOENT" (EIO when unknown). */
export function errnoNumber(symbol: string): number {
  const table = constants.errno as Readonly<Record<string, number>>;
  return table[symbol] ?? table.EIO ?? 5;
}
