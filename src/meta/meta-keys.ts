/**
 * Key layout of the metadata KV store. One keyspace, one leading tag byte per kind:
 *
 *   s + parent + '\0' + name   → FileRecord   (status; root '/' is the bare key 's\0')
 *   l + dir                    → {syncedAtMs} (listing marker: the children range of dir is complete)
 *   a + path                   → FileAttrs    (authoritative, written with sync)
 *   j + id                     → journal value (authoritative, written with sync)
 *
 * Because a status key is parent + '\0' + name, a directory's children form one contiguous range
 * [s+dir+'\0', s+dir+'\x01'). '\0' cannot occur in a normalised path and sorts below every other
 * byte, so '/a' + '\0' never shares a prefix with '/ab' or '/a-b' children: listings are exact.
 * Subtrees are two ranges per kind: the path itself plus [path+'/', path+'0') — '0' is the byte
 * after '/', so siblings such as '/a-b' (0x2D < '/') or '/ab' are never inside them.
 */
import { StrataError } from '../core/errors.js';
import { baseName, parentOf } from '../core/paths.js';

export const SEP = '\x00';
const SEP_END = '\x01';

export interface KeyRange {
  readonly gte: string;
  readonly lt: string;
}

/** Paths are normalised by callers; this guards the key layout, not path syntax in general. */
export function checkPath(path: string): void {
  if (!path.startsWith('/') || path.includes(SEP) || (path.length > 1 && path.endsWith('/'))) {
    throw new StrataError('INVALID_PATH', `metadata store needs a normalised path: ${JSON.stringify(path)}`, {
      details: { path },
    });
  }
}

export function statusKey(path: string): string {
  return path === '/' ? `s${SEP}` : `s${parentOf(path)}${SEP}${baseName(path)}`;
}

/** Inverse of statusKey. */
export function pathOfStatusKey(key: string): string {
  const i = key.indexOf(SEP);
  const parent = key.slice(1, i);
  const name = key.slice(i + 1);
  if (name === '') return '/';
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** All direct children of dir. */
export function childrenRange(dir: string): KeyRange {
  return { gte: `s${dir}${SEP}`, lt: `s${dir}${SEP_END}` };
}

/** The children of dir from a start point (after a name, or at one) to the end of the range. */
export function childrenFrom(
  dir: string,
  from: { readonly startAfter?: string; readonly startAt?: string },
): { gt?: string; gte?: string; lt: string } {
  const { gte, lt } = childrenRange(dir);
  if (from.startAt !== undefined && from.startAt !== '') return { gte: gte + from.startAt, lt };
  if (from.startAfter !== undefined && from.startAfter !== '') return { gt: gte + from.startAfter, lt };
  return { gte, lt };
}

/** The children of dir whose names are in (after, through]; open ends when absent. */
export function childrenBetween(
  dir: string,
  after: string | undefined,
  through: string | undefined,
): { gt?: string; gte?: string; lte?: string; lt?: string } {
  const { gte, lt } = childrenRange(dir);
  return {
    ...(after === undefined ? { gte } : { gt: gte + after }),
    ...(through === undefined ? { lt } : { lte: gte + through }),
  };
}

export function listingKey(dir: string): string {
  return `l${dir}`;
}

export function attrsKey(path: string): string {
  return `a${path}`;
}

export function pathOfAttrsKey(key: string): string {
  return key.slice(1);
}

export function journalKey(id: string): string {
  return `j${id}`;
}

export function idOfJournalKey(key: string): string {
  return key.slice(1);
}

/** Everything of one kind ('s', 'l', 'a', 'j'). */
export function kindRange(tag: 's' | 'l' | 'a' | 'j'): KeyRange {
  return { gte: tag, lt: String.fromCharCode(tag.charCodeAt(0) + 1) };
}

/**
 * Ranges holding everything strictly below `path` (not path's own keys, which the caller
 * deletes as exact keys). Not for the root: there the kind ranges are used.
 */
export function subtreeRanges(path: string): KeyRange[] {
  return [
    // Statuses of path's direct children, then of every deeper descendant.
    { gte: `s${path}${SEP}`, lt: `s${path}${SEP_END}` },
    { gte: `s${path}/`, lt: `s${path}0` },
    { gte: `l${path}/`, lt: `l${path}0` },
    { gte: `a${path}/`, lt: `a${path}0` },
  ];
}
