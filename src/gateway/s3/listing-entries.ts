import type { FileInfo } from '../../client/types.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import type { DirEntry } from './listing.js';

/** The listing cache's entry arithmetic (listing.ts): sorting, comparing and patching listings. */

/**
 * `infos` with each written file's info in place of its name's (added when absent); undefined when
 * a directory stands at one of the names.
 */
export function patchInfos(
  infos: readonly FileInfo[],
  written: readonly (readonly [string, { readonly info: FileInfo }])[],
): FileInfo[] | undefined {
  const byName = new Map(written.map(([n, w]) => [n, w.info]));
  const out: FileInfo[] = [];
  for (const x of infos) {
    const w = byName.get(x.name);
    if (w === undefined) out.push(x);
    else if (x.type !== 'file') return undefined;
    else {
      out.push(w);
      byName.delete(x.name);
    }
  }
  for (const w of byName.values()) out.push(w);
  return out;
}

/** A listing's entries in S3 order (directories sort as "name/"). */
export function sortEntries(infos: readonly FileInfo[]): DirEntry[] {
  return infos
    .map((info) => ({
      name: info.name,
      sortKey: info.type === 'directory' ? `${info.name}/` : info.name,
      info,
    }))
    .sort((a, b) => compareUtf8(a.sortKey, b.sortKey));
}

/**
 * Whether two listings describe the same children. In process the worker hands out the same
 * objects (identity); over the RPC they are new objects, compared by what a listing shows.
 */
export function sameInfos(a: readonly FileInfo[] | undefined, b: readonly FileInfo[]): boolean {
  if (a === b) return true;
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x !== y &&
      (x.path !== y.path ||
        x.type !== y.type ||
        x.size !== y.size ||
        x.mtimeMs !== y.mtimeMs ||
        x.fingerprint !== y.fingerprint ||
        x.etag !== y.etag)
    )
      return false;
  }
  return true;
}
