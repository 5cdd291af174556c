import { StrataError } from './errors.js';
import {
  DEFAULT_LIST_PAGE,
  type FileInfo,
  type ListPageOptions,
  MAX_LIST_PAGE,
  type StrataFileSystem,
} from './file-system.js';

/** The page options as given, checked (INVALID_ARGUMENT): the one check every implementation runs. */
export function checkListPage(options: ListPageOptions): { startAfter: string; limit: number } {
  const limit = options.limit ?? DEFAULT_LIST_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_PAGE)
    throw new StrataError(
      'INVALID_ARGUMENT',
      `list page limit must be an integer from 1 to ${MAX_LIST_PAGE}, got ${limit}`,
      {
        details: { limit },
      },
    );
  const startAfter = options.startAfter ?? '';
  if (typeof startAfter !== 'string' || startAfter.includes('/') || startAfter.includes('\0'))
    throw new StrataError(
      'INVALID_ARGUMENT',
      `startAfter must be a child name (no "/" or NUL): ${JSON.stringify(startAfter)}`,
      {
        details: { startAfter: String(startAfter) },
      },
    );
  return { startAfter, limit };
}

/** Every child of a directory, one page at a time (what a caller streams instead of list()). */
export async function* listPages(
  fs: Pick<StrataFileSystem, 'listPage'>,
  path: string,
  options: ListPageOptions = {},
): AsyncGenerator<readonly FileInfo[]> {
  let startAfter = options.startAfter ?? '';
  for (;;) {
    const page = await fs.listPage(path, { ...options, startAfter });
    if (page.entries.length > 0) yield page.entries;
    if (page.nextStartAfter === undefined) return;
    startAfter = page.nextStartAfter;
  }
}
