import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';
import { compareUtf8 } from '../core/utf8-order.js';

/**
 * The jobs' deterministic traversal: depth first; in each directory its files first, then its
 * subdirectories, each group in UTF-8 order. One directory is listed at a time; while a
 * subdirectory is walked, its ancestors keep only the paths of their remaining subdirectories.
 */

/** Order of two paths in the traversal (negative: `a` comes first). */
export function compareTraversal(a: string, b: string): number {
  if (a === b) return 0;
  const x = a.split('/');
  const y = b.split('/');
  const n = Math.min(x.length, y.length);
  for (let i = 1; i < n; i++) {
    if (x[i] === y[i]) continue;
    const xFile = i === x.length - 1;
    const yFile = i === y.length - 1;
    // At the level where they part, a file of that directory comes before any subdirectory.
    if (xFile !== yFile) return xFile ? -1 : 1;
    return compareUtf8(x[i]!, y[i]!);
  }
  return x.length - y.length;
}

const byName = (p: FileInfo, q: FileInfo) => compareUtf8(p.name, q.name);

/**
 * Files below `dir` in traversal order, only those after `after` (a file path below `dir`) when
 * given. A directory that cannot be listed (it vanished meanwhile) goes to `onError` and is passed
 * over; the listing of `dir` itself failing is thrown.
 */
export async function* walk(
  fs: StrataFileSystem,
  dir: string,
  after: string | undefined,
  call: CallOptions,
  onError: (path: string, err: unknown) => void,
): AsyncGenerator<FileInfo> {
  const rest = after === undefined ? undefined : after.slice(dir === '/' ? 1 : dir.length + 1).split('/');
  yield* walkDir(fs, dir, rest, call, onError, true);
}

async function* walkDir(
  fs: StrataFileSystem,
  dir: string,
  after: string[] | undefined,
  call: CallOptions,
  onError: (path: string, err: unknown) => void,
  top: boolean,
): AsyncGenerator<FileInfo> {
  let subdirs: Array<{ name: string; path: string }>;
  {
    let entries: readonly FileInfo[];
    try {
      entries = await fs.list(dir, call);
    } catch (err) {
      if (top || call.signal?.aborted) throw err;
      onError(dir, err);
      return;
    }
    const files = entries.filter((e) => e.type === 'file').sort(byName);
    subdirs = entries
      .filter((e) => e.type === 'directory')
      .sort(byName)
      .map((d) => ({ name: d.name, path: d.path }));
    const mark = after?.length === 1 ? after[0]! : undefined;
    if (after === undefined || mark !== undefined) {
      for (const f of files) if (mark === undefined || compareUtf8(f.name, mark) > 0) yield f;
    }
  }
  for (const d of subdirs) {
    if (after === undefined || after.length === 1) {
      yield* walkDir(fs, d.path, undefined, call, onError, false);
      continue;
    }
    const c = compareUtf8(d.name, after[0]!);
    if (c < 0) continue;
    yield* walkDir(fs, d.path, c === 0 ? after.slice(1) : undefined, call, onError, false);
  }
}
