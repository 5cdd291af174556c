import { StrataError } from '../core/errors.js';
import { compareUtf8 } from '../core/utf8-order.js';

/**
 * Listing helpers shared by connectors that read a whole directory and page it themselves (file,
 * http). Names sort in Unicode code point order, which equals UTF-8 byte order — the order S3
 * lists keys in — so every connector pages the same way.
 */

export const DEFAULT_LIST_LIMIT = 1000;

/** The page token is the last name handed out, opaque to callers. */
export function encodeToken(lastName: string): string {
  return Buffer.from(lastName, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (name === '' || encodeToken(name) !== token) throw new StrataError('INVALID_ARGUMENT', 'bad list token');
  return name;
}

/**
 * Picks one page out of names already sorted with compareUtf8: those after the token's name,
 * at most `limit`. `more` says whether names remain after the page.
 */
export function pageOf<T extends { readonly name: string }>(
  sorted: readonly T[],
  token: string | undefined,
  limit: number | undefined,
): { page: T[]; more: boolean } {
  let start = 0;
  if (token !== undefined) {
    const after = decodeToken(token);
    // Binary search for the first name > after; names deleted since the last page do not matter.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUtf8(sorted[mid]!.name, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const end = Math.min(sorted.length, start + (limit ?? DEFAULT_LIST_LIMIT));
  return { page: sorted.slice(start, end), more: end < sorted.length };
}

/** Runs `fn` over items with at most `concurrency` in flight; results keep the input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
