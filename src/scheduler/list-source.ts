import { StrataError, toStrataError } from '../core/errors.js';
import type { CallOptions, FileInfo, StrataFileSystem } from '../core/file-system.js';
import { MAX_PATH_BYTES, normalizePath } from '../core/paths.js';

/**
 * A job's files taken from a list instead of a tree: a text file in the Strata namespace with one
 * absolute path per line (UTF-8; blank lines and lines starting with "#" are passed over). The
 * list is read as a stream, a line at a time, so a list of 10 M paths costs no more memory than
 * one line. Entries are numbered by their line (1-based), and the job's cursor for a list is the
 * line number: its traversal key is `lineKey(n)`, which sorts in line order under
 * compareTraversal. Each listed path must be a file; a path that does not exist or is a
 * directory is that entry's failure, not the job's.
 */

export type ListEntry =
  | { readonly line: number; readonly file: FileInfo }
  | { readonly line: number; readonly path: string; readonly error: StrataError };

/** Longest line accepted (a path is at most MAX_PATH_BYTES). */
const MAX_LINE_BYTES = MAX_PATH_BYTES + 256;

/** The traversal key of line `n`: "/" and 12 digits, so keys sort as the lines do. */
export function lineKey(n: number): string {
  return `/${String(n).padStart(12, '0')}`;
}

/** The line number of a key made by lineKey. */
export function lineOfKey(key: string): number {
  return Number(key.slice(1));
}

/** Entries of the list at `listPath` after line `afterLine` (0: from the start), in line order. */
export async function* readList(
  fs: StrataFileSystem,
  listPath: string,
  afterLine: number,
  call: CallOptions,
): AsyncGenerator<ListEntry> {
  const info = await fs.status(listPath, call);
  if (info.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `the list ${listPath} is a directory`);
  let line = 0;
  for await (const text of lines(
    await fs.read(listPath, call.signal ? { signal: call.signal } : {}),
    listPath,
  )) {
    line++;
    if (line <= afterLine) continue;
    const raw = text.endsWith('\r') ? text.slice(0, -1) : text;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let path: string;
    try {
      if (!trimmed.startsWith('/')) throw new StrataError('INVALID_PATH', `not an absolute path: ${trimmed}`);
      path = normalizePath(trimmed);
    } catch (err) {
      yield { line, path: trimmed, error: toStrataError(err) };
      continue;
    }
    try {
      const file = await fs.status(path, call);
      if (file.type !== 'file') {
        yield {
          line,
          path,
          error: new StrataError(
            'IS_A_DIRECTORY',
            `${path} is a directory: list files, or submit the directory`,
          ),
        };
      } else yield { line, file };
    } catch (err) {
      if (call.signal?.aborted) throw err;
      yield { line, path, error: toStrataError(err) };
    }
  }
}

/** The lines of a byte stream (a last line without a newline included); one line held at a time. */
async function* lines(stream: AsyncIterable<Buffer>, what: string): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      size += end - start;
      if (size > MAX_LINE_BYTES)
        throw new StrataError(
          'INVALID_ARGUMENT',
          `a line of the list ${what} is longer than ${MAX_LINE_BYTES} bytes`,
        );
      if (end > start) parts.push(chunk.subarray(start, end));
      if (nl < 0) break;
      yield Buffer.concat(parts).toString('utf8');
      parts = [];
      size = 0;
      start = nl + 1;
    }
  }
  if (parts.length > 0) yield Buffer.concat(parts).toString('utf8');
}
