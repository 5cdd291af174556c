import { StrataError } from '../core/errors.js';
import { shareableBuffer } from '../core/io-thread.js';

/** Whether a buffer is all of its ArrayBuffer (keeping it keeps nothing more alive). */
function ownsMemory(buf: Buffer): boolean {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.length;
}

/**
 * Cuts one store read of pages [first, lastPage] of a `size`-byte file into pages, handing each to
 * `page` as soon as its bytes are in. FINGERPRINT_CHANGED when the store returns more or fewer
 * bytes than those pages hold (the file changed under the read).
 */
export async function cutIntoPages(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  first: number,
  lastPage: number,
  pageSize: number,
  size: number,
  page: (index: number, bytes: Buffer) => void,
): Promise<void> {
  const ps = pageSize;
  let index = first;
  let buf = shareableBuffer(Math.min(ps, size - index * ps));
  let filled = 0;
  for await (const chunk of source) {
    let at = 0;
    if (filled === 0 && index <= lastPage && chunk.length === buf.length && ownsMemory(chunk)) {
      // A chunk that is exactly this page and its own allocation (a small store read) is
      // the page: no copy, and the cache retains no larger buffer through it.
      page(index, chunk);
      index++;
      if (index <= lastPage) buf = shareableBuffer(Math.min(ps, size - index * ps));
      continue;
    }
    while (at < chunk.length) {
      if (index > lastPage)
        throw new StrataError('FINGERPRINT_CHANGED', 'the store returned more bytes than the file had');
      const n = Math.min(chunk.length - at, buf.length - filled);
      chunk.copy(buf, filled, at, at + n);
      filled += n;
      at += n;
      if (filled === buf.length) {
        page(index, buf);
        index++;
        if (index <= lastPage) buf = shareableBuffer(Math.min(ps, size - index * ps));
        filled = 0;
      }
    }
  }
  if (index <= lastPage) {
    const length = Math.min(size, (lastPage + 1) * ps) - first * ps;
    throw new StrataError(
      'FINGERPRINT_CHANGED',
      `the store returned ${(index - first) * ps + filled} of ${length} bytes`,
    );
  }
}
