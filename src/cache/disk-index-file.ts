/**
 * A disk tier's index kept across a clean restart, so a tier with millions of pages starts
 * without walking its directories (one stat per page). close() writes every page it holds —
 * `<fileId> <index> <bytes>` a line, coldest first — to `<dir>/index.v1`; open() reads the file
 * and deletes it before it serves anything. So the file exists only while the tier is closed
 * cleanly: a crash (or kill -9) leaves no file behind and the next start walks the directories
 * as before. A file that fails any check (magic, line syntax, count) is ignored the same way.
 *
 * What the file cannot know is a page file removed by hand while the tier was closed: such a
 * page reads as missing and is dropped on its first read, as it would be after a scan.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const DISK_INDEX_FILE = 'index.v1';
const MAGIC = 'strata-disk-index v1';
const MAX_INDEX = 2 ** 48;
/** Lines are written and read this many bytes at a time (memory bounded by it, not by the index). */
const BLOCK = 1 << 20;
/** Longer than any valid line (a 128-character id and two 16-digit numbers). */
const MAX_LINE = 256;

/** A page as the index file lists it. */
export interface IndexedPage {
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
}

/**
 * Takes each page the file lists, coldest first. Pages come while the file is read: when it
 * turns out bad later on, takeDiskIndex answers false and the caller forgets what it was given.
 */
export type IndexedPageSink = (fileId: string, index: number, bytes: number) => void;

/** Told the number of pages and the size of the file before the first page comes. */
export type IndexSizeHint = (pages: number, fileBytes: number) => void;

/** Writes the index (temp file, fsync, rename) so a crash while writing leaves no half file. */
export async function saveDiskIndex(dir: string, pages: Iterable<IndexedPage>, count: number): Promise<void> {
  const final = join(dir, DISK_INDEX_FILE);
  const temp = `${final}.${process.pid}.tmp`;
  const fh = await open(temp, 'w', 0o600);
  try {
    let chunk = `${MAGIC} ${count}\n`;
    let written = 0;
    for (const p of pages) {
      chunk += `${p.fileId} ${p.index} ${p.bytes}\n`;
      written++;
      if (chunk.length >= BLOCK) {
        await fh.write(chunk);
        chunk = '';
      }
    }
    if (written !== count) throw new Error(`disk index: ${written} pages listed, ${count} expected`);
    await fh.write(`${chunk}end ${count}\n`);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(temp, final);
}

/**
 * Gives `sink` the pages of the index file, which is then deleted. False when there is none, it is
 * not valid (the sink may have had part of it), or it cannot be deleted (a file left in place
 * would be trusted again after a crash). The file is parsed from its bytes as it is read: no line,
 * array or object per page, so a million-page index costs its pages and one block of the file.
 */
export async function takeDiskIndex(
  dir: string,
  sink: IndexedPageSink,
  hint?: IndexSizeHint,
): Promise<boolean> {
  const file = join(dir, DISK_INDEX_FILE);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, 'r');
  } catch {
    return false;
  }
  let valid: boolean;
  try {
    valid = await parse(fh, sink, hint, (await fh.stat()).size);
  } finally {
    await fh.close();
  }
  try {
    await unlink(file);
  } catch {
    return false;
  }
  return valid;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

async function parse(
  fh: Awaited<ReturnType<typeof open>>,
  sink: IndexedPageSink,
  hint: IndexSizeHint | undefined,
  fileBytes: number,
): Promise<boolean> {
  const buf = Buffer.allocUnsafe(BLOCK);
  let filled = 0; // bytes in buf: an unfinished line carried over, then what was read
  let expected: number | undefined;
  let pages = 0;
  let ended = false;
  for (;;) {
    const { bytesRead } = await fh.read(buf, filled, BLOCK - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE, start); nl >= 0 && nl < filled; nl = buf.indexOf(NEWLINE, start)) {
      if (ended) return false; // nothing may follow the end line
      if (expected === undefined) {
        const line = buf.toString('latin1', start, nl);
        if (!line.startsWith(`${MAGIC} `)) return false;
        expected = count(line.slice(MAGIC.length + 1));
        if (expected === undefined) return false;
        hint?.(expected, fileBytes);
      } else if (startsWithEnd(buf, start, nl)) {
        if (count(buf.toString('latin1', start + 4, nl)) !== expected || pages !== expected) return false;
        ended = true;
      } else {
        if (!parseLine(buf, start, nl, sink)) return false;
        pages++;
      }
      start = nl + 1;
    }
    // Carry the unfinished line to the front; a line that long is not one of ours.
    if (filled - start > MAX_LINE) return false;
    buf.copy(buf, 0, start, filled);
    filled -= start;
  }
  return ended && filled === 0;
}

function startsWithEnd(buf: Buffer, start: number, nl: number): boolean {
  return (
    nl - start >= 4 &&
    buf[start] === 0x65 &&
    buf[start + 1] === 0x6e &&
    buf[start + 2] === 0x64 &&
    buf[start + 3] === SPACE
  );
}

/** `<fileId> <index> <bytes>` between `start` and the newline at `nl`. */
function parseLine(buf: Buffer, start: number, nl: number, sink: IndexedPageSink): boolean {
  let i = start;
  while (i < nl && isIdByte(buf[i]!)) i++;
  const idEnd = i;
  if (idEnd === start || idEnd - start > 128 || buf[i] !== SPACE) return false;
  const index = digits(buf, idEnd + 1, nl);
  if (index < 0) return false;
  const indexEnd = idEnd + 1 + digitCount(buf, idEnd + 1, nl);
  if (buf[indexEnd] !== SPACE || index >= MAX_INDEX) return false;
  const bytes = digits(buf, indexEnd + 1, nl);
  if (bytes < 0 || indexEnd + 1 + digitCount(buf, indexEnd + 1, nl) !== nl) return false;
  sink(buf.toString('latin1', start, idEnd), index, bytes);
  return true;
}

function isIdByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x5f
  );
}

function digitCount(buf: Buffer, from: number, limit: number): number {
  let i = from;
  while (i < limit && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i - from;
}

/** The decimal number at `from` (no sign, no leading zero, at most 16 digits, safe); -1 if none. */
function digits(buf: Buffer, from: number, limit: number): number {
  const n = digitCount(buf, from, limit);
  if (n === 0 || n > 16 || (n > 1 && buf[from] === 0x30)) return -1;
  let v = 0;
  for (let i = from; i < from + n; i++) v = v * 10 + (buf[i]! - 0x30);
  return Number.isSafeInteger(v) ? v : -1;
}

function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
