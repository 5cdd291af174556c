import type { FileInfo, StrataFileSystem } from '../../client/types.js';
import { type ErrorCode, isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import type { DirEntry } from './listing.js';

/**
 * A large directory's children in S3 key order, read from the worker a page at a time.
 *
 * The worker lists in name order, S3 in key order, where a directory's key is "name/": a
 * directory sorts after the names that extend its own with a byte below '/' ("a" < "a-b" by
 * name, but "a-b" < "a/" as keys). Every later name is greater than the current one and so is
 * every later key, so a directory can be emitted once a name greater than its key has been seen:
 * directories wait in a small sorted buffer until then (a chain of names each extending the
 * previous with such a byte: a few at most).
 *
 * Seeking to a key bound b: names ≥ b are read with startAfter; the names below b whose key is
 * still ≥ b are prefixes of b cut before a byte below '/' (or b minus a trailing '/'), and b
 * itself: each of those is one status() call, not a scan.
 */

/** Children fetched per worker call. */
export const STREAM_PAGE = 1000;

export async function* sortedPages(
  fs: Pick<StrataFileSystem, 'listPage' | 'status'>,
  dir: string,
  bound: string,
): AsyncGenerator<DirEntry[]> {
  const pending: DirEntry[] = [];
  const base = dir === '/' ? '' : dir;
  for (const name of seekCandidates(bound)) {
    const info = await childStatus(fs, `${base}/${name}`);
    if (!info) continue;
    const entry = entryOf(info);
    if (compareUtf8(entry.sortKey, bound) >= 0) insert(pending, entry);
  }
  // Names after the bound (a bound ending in '/' is not a name: start after the part before it).
  let startAfter = bound.endsWith('/') ? bound.slice(0, -1) : bound;
  const nul = startAfter.indexOf('\0');
  if (nul >= 0) startAfter = startAfter.slice(0, nul);
  for (;;) {
    const page = await fs.listPage(dir, { startAfter, limit: STREAM_PAGE });
    const out: DirEntry[] = [];
    for (const info of page.entries) {
      while (pending.length > 0 && compareUtf8(pending[0]!.sortKey, info.name) < 0)
        out.push(pending.shift()!);
      const entry = entryOf(info);
      if (compareUtf8(entry.sortKey, bound) < 0) continue;
      if (info.type === 'directory') insert(pending, entry);
      else out.push(entry);
    }
    if (page.nextStartAfter === undefined) {
      out.push(...pending.splice(0));
      if (out.length > 0) yield out;
      return;
    }
    if (out.length > 0) yield out;
    startAfter = page.nextStartAfter;
  }
}

/** Names below-or-at `bound` whose S3 key may still be ≥ it (see above). */
export function seekCandidates(bound: string): string[] {
  const out: string[] = [];
  for (let k = 1; k < bound.length; k++) {
    const c = bound.charCodeAt(k);
    if (c < 0x2f || (c === 0x2f && k === bound.length - 1)) out.push(bound.slice(0, k));
  }
  if (bound !== '' && !bound.includes('/')) out.push(bound);
  return out.filter((n) => !n.includes('/') && !n.includes('\0'));
}

function entryOf(info: FileInfo): DirEntry {
  return { name: info.name, sortKey: info.type === 'directory' ? `${info.name}/` : info.name, info };
}

/** Into the small pending buffer, kept sorted by key. */
function insert(pending: DirEntry[], e: DirEntry): void {
  let i = pending.length;
  while (i > 0 && compareUtf8(pending[i - 1]!.sortKey, e.sortKey) > 0) i--;
  pending.splice(i, 0, e);
}

/** The status of a path, or undefined when there is none (or the name cannot exist). */
export async function childStatus(
  fs: Pick<StrataFileSystem, 'status'>,
  path: string,
): Promise<FileInfo | undefined> {
  try {
    return await fs.status(path);
  } catch (err) {
    if (
      ['NOT_FOUND', 'INVALID_PATH', 'NOT_A_DIRECTORY'].some((code) => isStrataError(err, code as ErrorCode))
    )
      return undefined;
    throw err;
  }
}
