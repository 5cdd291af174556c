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
import type { TierEntry } from './tier-index.js';

export const DISK_INDEX_FILE = 'index.v1';
const MAGIC = 'strata-disk-index v1';
const FILE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_INDEX = 2 ** 48;
/** Lines are written and read this many bytes at a time (memory bounded by it, not by the index). */
const BLOCK = 1 << 20;

/**
 * A page as the index file lists it, in the shape a directory scan gives (disk-tier.ts
 * ScannedPage): `mtimeMs` is its place in the file, coldest first — what open() orders by.
 */
export interface IndexedPage {
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
  readonly mtimeMs: number;
}

/** Writes the index (temp file, fsync, rename) so a crash while writing leaves no half file. */
export async function saveDiskIndex(dir: string, pages: Iterable<TierEntry>, count: number): Promise<void> {
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
 * The pages of the index file, which is deleted first: undefined when there is none, it is not
 * valid, or it cannot be deleted (a file left in place would be trusted again after a crash).
 */
export async function takeDiskIndex(dir: string): Promise<IndexedPage[] | undefined> {
  const file = join(dir, DISK_INDEX_FILE);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, 'r');
  } catch {
    return undefined;
  }
  let pages: IndexedPage[] | undefined;
  try {
    pages = await parse(fh);
  } finally {
    await fh.close();
  }
  try {
    await unlink(file);
  } catch {
    return undefined;
  }
  return pages;
}

async function parse(fh: Awaited<ReturnType<typeof open>>): Promise<IndexedPage[] | undefined> {
  const pages: IndexedPage[] = [];
  const buf = Buffer.allocUnsafe(BLOCK);
  let rest = '';
  let expected: number | undefined;
  let ended = false;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, BLOCK, null);
    if (bytesRead === 0) break;
    const text = rest + buf.toString('latin1', 0, bytesRead);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (ended) return undefined; // nothing may follow the end line
      if (expected === undefined) {
        if (!line.startsWith(`${MAGIC} `)) return undefined;
        expected = count(line.slice(MAGIC.length + 1));
        if (expected === undefined) return undefined;
        continue;
      }
      if (line.startsWith('end ')) {
        if (count(line.slice(4)) !== expected || pages.length !== expected) return undefined;
        ended = true;
        continue;
      }
      const page = parseLine(line, pages.length);
      if (page === undefined) return undefined;
      pages.push(page);
    }
  }
  return ended && rest === '' ? pages : undefined;
}

function parseLine(line: string, order: number): IndexedPage | undefined {
  const [fileId, index, bytes, extra] = line.split(' ');
  if (extra !== undefined || fileId === undefined || !FILE_ID.test(fileId)) return undefined;
  const i = count(index);
  const b = count(bytes);
  if (i === undefined || b === undefined || i >= MAX_INDEX) return undefined;
  return { fileId, index: i, bytes: b, mtimeMs: order };
}

function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
