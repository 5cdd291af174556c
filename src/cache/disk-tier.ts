/**
 * A disk tier: one file per page at `<dir>/<fileId[0..2]>/<fileId>.<index>.page` (flat: no
 * directory per file, so a new small file costs no mkdir). A new page is written under its own
 * name: it is not indexed as ready until the write ends, and a crash that cuts it short leaves a
 * file whose length or checksum no longer matches its header — read as a bad page (dropped and
 * fetched again), never served. A page that replaces one already on disk is written to a
 * temporary name and renamed, so readers of the old file never see it half rewritten. Only async
 * fs calls. The in-memory index (`index`) is the source of truth for accounting; open() rebuilds
 * it with scan(), which also moves pages of the older layout (`<fileId>/<index>.page`) in place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isStrataError, StrataError, toStrataError } from '../core/errors.js';
import { ioThread, MAX_IO_THREAD_PAGE_BYTES } from '../core/io-thread.js';
import { Limiter } from '../core/key-lock.js';
import { type IndexedPage, saveDiskIndex, takeDiskIndex } from './disk-index-file.js';
import type { FileTable } from './file-table.js';
import {
  decodePageHeader,
  finishPageHeader,
  isSealedHeader,
  PAGE_FLAG_SEALED,
  PAGE_HEADER_BYTES,
  type PageFileCrcs,
  pageFileCrcRanges,
  pageFileFills,
  splitPageFile,
  startPageHeader,
} from './page-file.js';
import { type PageSealer, SEAL_OVERHEAD_BYTES, type UnsealFailure } from './page-seal.js';
import type { EvictionPolicyName } from './page-store.js';
import { TierIndex } from './tier-index.js';

export interface ScannedPage {
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
  readonly mtimeMs: number;
}

export interface ScanResult {
  /** In no particular order (load() sorts them: oldest, coldest, first). */
  readonly pages: ScannedPage[];
  /** Files too short to hold a header: deleted during the scan. */
  readonly badPages: number;
  /**
   * Of the newest pages after a crash (TORN_CHECK_PAGES), those whose header is bad or whose
   * length is not the header's — a write cut short: deleted before anything is served.
   */
  readonly tornPages: number;
  readonly tempFilesRemoved: number;
  /** Pages of the older layout (a directory per file) moved to the flat one. */
  readonly legacyPagesMoved: number;
  /** Where the pages came from: the index file of a clean close, or a walk of the directories. */
  readonly source: 'index-file' | 'scan';
}

/** What load() gave its sink: a ScanResult whose pages are counted, not listed. */
export type LoadResult = Omit<ScanResult, 'pages'> & { readonly pages: number };

/** Takes each page load() finds, coldest first. */
export type LoadedPageSink = (fileId: string, index: number, bytes: number) => void;

/**
 * What open() found on a disk tier: `source` index-file after a clean close, scan after a crash;
 * pages dropped because a crash cut them short (`badPages`: shorter than a header; `tornPages`:
 * header and length disagree) and temporary files of interrupted replacements removed.
 */
export interface DiskOpenReport {
  readonly tier: string;
  readonly source: 'index-file' | 'scan';
  readonly pages: number;
  readonly badPages: number;
  readonly tornPages: number;
  readonly tempFilesRemoved: number;
}

export function openReportOf(tier: string, scan: LoadResult): DiskOpenReport {
  return {
    tier,
    source: scan.source,
    pages: scan.pages,
    badPages: scan.badPages,
    tornPages: scan.tornPages,
    tempFilesRemoved: scan.tempFilesRemoved,
  };
}

const PAGE_NAME = /^([A-Za-z0-9_-]{1,128})\.(0|[1-9][0-9]{0,15})\.page$/;
/** A page file name in the older layout, inside a directory per file. */
const LEGACY_PAGE_NAME = /^(0|[1-9][0-9]{0,15})\.page$/;
const FILE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TEMP_SUFFIX = '.tmp';
/**
 * After a crash, the headers of this many of the newest pages are read at start: the pages being
 * written when the process died are among the newest (at most the write concurrency of them), so
 * a page cut short is dropped before it is indexed. Older pages are only stat'ed (a million-page
 * tier must start fast); any page that still fails is caught by its checks on first read.
 */
export const TORN_CHECK_PAGES = 256;

/** Errors of a disk (or a quota on it) with no room left. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** Whether a page write failed because the disk had no room (CACHE_FULL caused by ENOSPC/EDQUOT). */
export function isDiskFull(err: unknown): boolean {
  if (!isStrataError(err, 'CACHE_FULL')) return false;
  return NO_SPACE.has((err.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** `unseal`: the page was dropped for its sealing (wrong or no key, forged, plain on an encrypted tier). */
/** `ctimeMs`: the file's ctime as the checked read saw it (a read through the I/O thread). */
export type ReadResult =
  | { ok: true; data: Buffer; ctimeMs?: number }
  | { ok: false; missing: boolean; reason: string; unseal?: UnsealFailure | 'no_key' };

export class DiskTier {
  readonly kind = 'disk';
  readonly index: TierIndex;
  /** Bytes of pages being written: reserved, not yet evictable. */
  writingBytes = 0;
  /** The configured quota; `index.capacityBytes` is lower while the disk holds less (ENOSPC). */
  readonly quotaBytes: number;
  /** When the capacity was last measured against the disk (Date.now()); 0 = never. */
  measuredAtMs = 0;
  /** Bytes of pages dropped from the index whose files are not deleted yet (still on the disk). */
  unlinkingBytes = 0;
  /**
   * Until when (Date.now()) new pages skip this tier: its last write failed for another reason
   * than a full disk (read-only, I/O error). Its pages stay readable meanwhile.
   */
  writeBlockedUntilMs = 0;
  private tempSeq = 0;
  private readonly tempTag = randomBytes(4).toString('hex');

  constructor(
    name: string,
    readonly dir: string,
    capacityBytes: number,
    policy: EvictionPolicyName,
    private readonly fsync: boolean,
    files: FileTable,
    /** Seals every page written and opens every page read (the encrypted tier); none: plain pages. */
    private readonly sealer?: PageSealer,
  ) {
    this.index = new TierIndex(name, capacityBytes, policy, files);
    this.quotaBytes = capacityBytes;
  }

  /** Bytes a page file holds beyond its payload. */
  private get fileOverhead(): number {
    return PAGE_HEADER_BYTES + (this.sealer ? SEAL_OVERHEAD_BYTES : 0);
  }

  /**
   * What this tier can hold on its disk now (never more than its quota): the pages already on
   * it, plus the disk's free space at the cost of a page file per page, less a headroom left free
   * for the metadata store and staging files that share the disk — 1/16 of what the tier could
   * use, at least 4 pages. Below the pages held when the disk has less free space than that.
   */
  async measure(pageSize: number): Promise<number> {
    const fsStats = await statfs(this.dir);
    const free = fsStats.bavail * fsStats.bsize;
    const onDisk = Math.max(0, this.index.usedBytes - this.writingBytes + this.unlinkingBytes);
    const headroom = Math.max(4 * pageSize, Math.floor((onDisk + free) / 16));
    const spare = free - headroom;
    // A page of `pageSize` payload bytes takes its header and whole blocks on disk.
    const perPage = Math.ceil((pageSize + this.fileOverhead) / fsStats.bsize) * fsStats.bsize;
    const room = spare > 0 ? Math.floor((spare * pageSize) / perPage) : spare;
    return Math.max(0, Math.min(this.quotaBytes, onDisk + room));
  }

  get name(): string {
    return this.index.name;
  }

  private prefixDir(fileId: string): string {
    return join(this.dir, fileId.slice(0, 2));
  }

  pagePath(fileId: string, index: number): string {
    return join(this.prefixDir(fileId), `${fileId}.${index}.page`);
  }

  /**
   * Writes header + payload through the I/O thread: every page written in one event-loop turn
   * goes in one message, and a plain page's checksums are computed there, off the event loop
   * (io-thread.ts). `replace`: a file of this page may be on disk and read right now — write a
   * temporary file and rename it into place; otherwise the page is written under its name
   * directly (see the module comment).
   */
  async writePage(fileId: string, index: number, plain: Buffer, replace = false): Promise<void> {
    // Sealed here, before the bytes go to the I/O thread or the pool: nothing plain leaves.
    let header: Buffer;
    let data = plain;
    let fill: ReturnType<typeof pageFileFills> | undefined;
    if (this.sealer) {
      header = startPageHeader(index, plain.length, PAGE_FLAG_SEALED, this.sealer.keyId);
      data = this.sealer.seal(fileId, index, header, plain);
      finishPageHeader(header, data);
    } else {
      header = startPageHeader(index, plain.length);
      fill = pageFileFills(plain.length);
    }
    const final = this.pagePath(fileId, index);
    const temp = replace ? `${final}.${this.tempTag}.${++this.tempSeq}${TEMP_SUFFIX}` : final;
    if (header.length + data.length <= MAX_IO_THREAD_PAGE_BYTES) {
      try {
        await ioThread.write(temp, [header, data], {
          makeParent: true,
          fsync: this.fsync,
          ...(temp === final ? {} : { renameTo: final }),
          ...(fill === undefined ? {} : { fill }),
        });
        return;
      } catch (err) {
        throw writeError(await this.explainMissingParent(err, fileId));
      }
    }
    if (fill !== undefined) finishPageHeader(header, data);
    for (let attempt = 0; ; attempt++) {
      let created = false;
      try {
        const fh = await open(temp, 'w');
        created = true;
        try {
          let off = 0;
          const total = header.length + data.length;
          let chunks: Buffer[] = [header, data];
          while (off < total) {
            const { bytesWritten } = await fh.writev(chunks);
            off += bytesWritten;
            if (off < total) chunks = [Buffer.concat([header, data]).subarray(off)];
          }
          if (this.fsync) await fh.sync();
        } finally {
          await fh.close();
        }
        if (temp !== final) await rename(temp, final);
        return;
      } catch (err) {
        if (created) await unlink(temp).catch(() => {});
        // The prefix directory is made on first use (at most 4,096 of them, never removed).
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !created && attempt < 3) {
          await this.makePrefixDir(fileId);
          continue;
        }
        throw writeError(err);
      }
    }
  }

  /**
   * A recursive mkdir on a read-only disk fails ENOENT, not EROFS: when the parent of a page could
   * not be made, make it once more without `recursive` to learn the real cause.
   */
  private async explainMissingParent(err: unknown, fileId: string): Promise<unknown> {
    if ((err as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') return err;
    try {
      await mkdir(this.prefixDir(fileId));
      return err;
    } catch (real) {
      return (real as NodeJS.ErrnoException).code === 'EEXIST' ? err : real;
    }
  }

  private async makePrefixDir(fileId: string): Promise<void> {
    try {
      await mkdir(this.prefixDir(fileId), { recursive: true });
    } catch (err) {
      throw writeError(await this.explainMissingParent(err, fileId));
    }
  }

  /**
   * The page's payload, checked. `bytes`: its payload length as indexed — then the file is read
   * and its checksums computed on the I/O thread (one message for every page asked for in a
   * turn); a file of another size is read the old way, whose checks say what is wrong with it.
   *
   * `verifiedCtimeMs`: the payload passed its checksum in this process when the file had this
   * ctime. If the file's ctime is still that, only the header is checked: page files are never
   * written in place (a new page is a new file, a replaced one is renamed over), and any write
   * to the file — a torn rewrite, another process, a test flipping a byte — changes its ctime, so
   * the payload is checked again. What this does not catch is the media changing the bytes under
   * an unchanged inode while this process runs; that is caught at the next start (every entry
   * starts unverified) or by `load --verify`, which always checks (verify()).
   */
  async readPage(
    fileId: string,
    index: number,
    bytes?: number,
    into?: Buffer,
    verifiedCtimeMs?: number,
  ): Promise<ReadResult> {
    const path = this.pagePath(fileId, index);
    let file: Buffer;
    let crcs: PageFileCrcs | undefined;
    let ctimeMs: number | undefined;
    try {
      const length = bytes === undefined ? undefined : this.fileOverhead + bytes;
      const [body, header] = length === undefined ? [] : pageFileCrcRanges(length);
      const checked =
        length === undefined || length > MAX_IO_THREAD_PAGE_BYTES
          ? undefined
          : await ioThread.readChecked(
              path,
              length,
              verifiedCtimeMs === undefined ? [body!, header!] : [header!],
              this.sealer === undefined ? into : undefined, // a sealed page is opened into a new buffer anyway
              verifiedCtimeMs === undefined ? undefined : { ctimeMs: verifiedCtimeMs, ranges: [body!] },
            );
      if (checked !== undefined) {
        file = checked.data;
        ctimeMs = checked.ctimeMs;
        crcs =
          verifiedCtimeMs === undefined
            ? { body: checked.crcs[0]!, header: checked.crcs[1]! }
            : { body: checked.crcs[1] ?? 'trusted', header: checked.crcs[0]! };
      } else file = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { ok: false, missing: true, reason: 'missing' };
      throw toStrataError(err, 'INTERNAL');
    }
    const parts = splitPageFile(file, index, crcs);
    if (typeof parts === 'string') return { ok: false, missing: false, reason: parts };
    const sealed = isSealedHeader(parts.header);
    if (!this.sealer) {
      if (!sealed)
        return ctimeMs === undefined
          ? { ok: true, data: parts.body }
          : { ok: true, data: parts.body, ctimeMs };
      return { ok: false, missing: false, reason: 'sealed page, no disk encryption key', unseal: 'no_key' };
    }
    if (!sealed)
      return { ok: false, missing: false, reason: 'plain page on an encrypted tier', unseal: 'not_sealed' };
    const opened = this.sealer.open(fileId, index, file.subarray(0, PAGE_HEADER_BYTES), parts.body);
    if (typeof opened === 'string')
      return { ok: false, missing: false, reason: `sealed page did not open: ${opened}`, unseal: opened };
    return ctimeMs === undefined ? { ok: true, data: opened } : { ok: true, data: opened, ctimeMs };
  }

  async unlinkPage(fileId: string, index: number): Promise<void> {
    await unlink(this.pagePath(fileId, index)).catch(ignoreMissing);
  }

  /**
   * Gives `sink` the pages on disk, oldest first: streamed from the index file a clean close()
   * left (disk-index-file.ts), else listed by scan(). When the index file turns out bad part way,
   * what it gave is dropped from this tier's index (the sink must index into it) and the tier
   * is scanned.
   */
  async load(sink: LoadedPageSink): Promise<LoadResult> {
    let pages = 0;
    const fromFile = await takeDiskIndex(
      this.dir,
      (fileId, index, bytes) => {
        pages++;
        sink(fileId, index, bytes);
      },
      // An upper bound of the ids' bytes: a line is its id and at least ` 0 0\n`.
      (count, fileBytes) => this.index.reserve(count, Math.max(0, fileBytes - count * 5)),
    );
    this.index.trim();
    if (fromFile)
      return {
        pages,
        badPages: 0,
        tornPages: 0,
        tempFilesRemoved: 0,
        legacyPagesMoved: 0,
        source: 'index-file',
      };
    this.index.clear();
    const scanned = await this.scan();
    scanned.pages.sort((a, b) => a.mtimeMs - b.mtimeMs);
    const torn = await this.dropTorn(scanned.pages.slice(-TORN_CHECK_PAGES));
    for (const p of scanned.pages) if (!torn.has(p)) sink(p.fileId, p.index, p.bytes);
    return { ...scanned, pages: scanned.pages.length - torn.size, tornPages: torn.size };
  }

  /** Reads each page's header; deletes the pages whose header is bad or whose length is not its file's. */
  private async dropTorn(pages: readonly ScannedPage[]): Promise<Set<ScannedPage>> {
    const torn = new Set<ScannedPage>();
    const limiter = new Limiter(16);
    await Promise.all(
      pages.map((page) =>
        limiter.run(async () => {
          const path = this.pagePath(page.fileId, page.index);
          const buf = Buffer.alloc(PAGE_HEADER_BYTES);
          let read = 0;
          try {
            const fh = await open(path, 'r');
            try {
              read = (await fh.read(buf, 0, PAGE_HEADER_BYTES, 0)).bytesRead;
            } finally {
              await fh.close();
            }
          } catch {
            return; // gone or unreadable: its first read decides
          }
          const decoded = decodePageHeader(buf.subarray(0, read));
          const body =
            typeof decoded === 'string'
              ? -1
              : decoded.length + (isSealedHeader(decoded) ? SEAL_OVERHEAD_BYTES : 0);
          // Only the length: a page under another page's name is caught on read (its index).
          if (typeof decoded !== 'string' && body === page.bytes + this.bodySlack) return;
          torn.add(page);
          await unlink(path).catch(ignoreMissing);
        }),
      ),
    );
    return torn;
  }

  /** Bytes of a page's body beyond the payload a scan reports (a sealed tier: IV and tag). */
  private get bodySlack(): number {
    return this.fileOverhead - PAGE_HEADER_BYTES;
  }

  /** Writes the index file for the next open(); call once every write and unlink has settled. */
  async saveIndex(): Promise<void> {
    let ready = 0;
    for (const slot of this.index.coldestFirst()) if (this.index.isReady(slot)) ready++;
    await saveDiskIndex(this.dir, this.readyPages(), ready);
  }

  private *readyPages(): IterableIterator<IndexedPage> {
    const index = this.index;
    for (const slot of index.coldestFirst())
      if (index.isReady(slot))
        yield { fileId: index.fileIdOf(slot), index: index.indexOf(slot), bytes: index.bytesOf(slot) };
  }

  /**
   * Lists every page under the directory: one readdir per prefix directory, one stat per page
   * (bounded concurrency). Headers are not read here — a page's length is validated from its
   * size and its checksum on first read. Temporary files (crash leftovers) are deleted; pages of
   * the older layout are renamed into the flat one and their directories removed.
   */
  async scan(concurrency = 64): Promise<ScanResult> {
    await mkdir(this.dir, { recursive: true });
    // Two limiters: a directory job waits on stat jobs, so they must not share slots.
    const dirLimiter = new Limiter(Math.max(1, concurrency >> 2));
    const statLimiter = new Limiter(concurrency);
    const pages: ScannedPage[] = [];
    let badPages = 0;
    let tempFilesRemoved = 0;
    let legacyPagesMoved = 0;

    const scanPage = async (path: string, fileId: string, index: number): Promise<void> => {
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile()) return;
      if (st.size < this.fileOverhead) {
        badPages++;
        await unlink(path).catch(ignoreMissing);
        return;
      }
      pages.push({ fileId, index, bytes: st.size - this.fileOverhead, mtimeMs: st.mtimeMs });
    };

    /** A directory per file (the older layout): its pages move next to it, then it goes. */
    const migrate = async (prefixDir: string, fileId: string): Promise<void> => {
      const fileDir = join(prefixDir, fileId);
      const names = await readdir(fileDir).catch(() => [] as string[]);
      await Promise.all(
        names.map((name) =>
          statLimiter.run(async () => {
            const m = LEGACY_PAGE_NAME.exec(name);
            const from = join(fileDir, name);
            if (m === null) {
              if (name.endsWith(TEMP_SUFFIX)) tempFilesRemoved++;
              await unlink(from).catch(() => undefined);
              return;
            }
            const to = this.pagePath(fileId, Number(m[1]));
            await rename(from, to);
            legacyPagesMoved++;
            await scanPage(to, fileId, Number(m[1]));
          }),
        ),
      );
      await rmdir(fileDir).catch(() => undefined);
    };

    const scanPrefix = async (prefix: string): Promise<void> => {
      const prefixDir = join(this.dir, prefix);
      const entries = await readdir(prefixDir, { withFileTypes: true }).catch(() => []);
      const jobs: Promise<void>[] = [];
      for (const e of entries) {
        const path = join(prefixDir, e.name);
        if (e.isDirectory()) {
          if (FILE_ID.test(e.name) && e.name.slice(0, 2) === prefix) jobs.push(migrate(prefixDir, e.name));
          continue;
        }
        if (e.name.endsWith(TEMP_SUFFIX)) {
          tempFilesRemoved++;
          jobs.push(statLimiter.run(() => unlink(path).catch(ignoreMissing)));
          continue;
        }
        const m = PAGE_NAME.exec(e.name);
        if (m === null || m[1]!.slice(0, 2) !== prefix) continue;
        const fileId = m[1]!;
        const index = Number(m[2]);
        jobs.push(statLimiter.run(() => scanPage(path, fileId, index)));
      }
      await Promise.all(jobs);
    };

    const prefixes = (await readdirDirs(this.dir)).filter((name) => FILE_ID.test(name) && name.length <= 2);
    await Promise.all(prefixes.map((prefix) => dirLimiter.run(() => scanPrefix(prefix))));
    return { pages, badPages, tornPages: 0, tempFilesRemoved, legacyPagesMoved, source: 'scan' };
  }
}

/** A failed page write as a StrataError: CACHE_FULL for a full disk (the cause says which). */
function writeError(err: unknown): StrataError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (NO_SPACE.has(code))
    return new StrataError('CACHE_FULL', `disk tier: ${(err as Error).message}`, { cause: err });
  return toStrataError(err, 'INTERNAL');
}

async function readdirDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
