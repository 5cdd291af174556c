/**
 * A disk tier: one file per page at `<dir>/<fileId[0..2]>/<fileId>/<index>.page`, written to a
 * temporary name and renamed so a crash never leaves a torn page under the real name. Only async
 * fs calls. The in-memory index (`index`) is the source of truth for accounting; open() rebuilds
 * it with scan().
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isStrataError, StrataError, toStrataError } from '../core/errors.js';
import { Limiter } from '../core/key-lock.js';
import { decodePageFile, encodePageHeader, PAGE_HEADER_BYTES } from './page-file.js';
import type { EvictionPolicyName } from './page-store.js';
import { type TierEntry, TierIndex } from './tier-index.js';

export interface DiskEntry extends TierEntry {
  /** False while the file is being written: not readable, not evictable. */
  ready: boolean;
}

export interface ScannedPage {
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
  readonly mtimeMs: number;
}

export interface ScanResult {
  readonly pages: ScannedPage[];
  /** Files too short to hold a header: deleted during the scan. */
  readonly badPages: number;
  readonly tempFilesRemoved: number;
}

const PAGE_NAME = /^(0|[1-9][0-9]{0,15})\.page$/;
const FILE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TEMP_SUFFIX = '.tmp';

/** Errors of a disk (or a quota on it) with no room left. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** Whether a page write failed because the disk had no room (CACHE_FULL caused by ENOSPC/EDQUOT). */
export function isDiskFull(err: unknown): boolean {
  if (!isStrataError(err, 'CACHE_FULL')) return false;
  return NO_SPACE.has((err.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export type ReadResult = { ok: true; data: Buffer } | { ok: false; missing: boolean; reason: string };

export class DiskTier {
  readonly kind = 'disk';
  readonly index: TierIndex<DiskEntry>;
  /** Bytes of pages being written: reserved, not yet evictable. */
  writingBytes = 0;
  /** The configured quota; `index.capacityBytes` is lower while the disk holds less (ENOSPC). */
  readonly quotaBytes: number;
  /** When the capacity was last measured against the disk (Date.now()); 0 = never. */
  measuredAtMs = 0;
  /** Bytes of pages dropped from the index whose files are not deleted yet (still on the disk). */
  unlinkingBytes = 0;
  private tempSeq = 0;
  private readonly tempTag = randomBytes(4).toString('hex');

  constructor(
    name: string,
    readonly dir: string,
    capacityBytes: number,
    policy: EvictionPolicyName,
    private readonly fsync: boolean,
  ) {
    this.index = new TierIndex(name, capacityBytes, policy);
    this.quotaBytes = capacityBytes;
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
    const perPage = Math.ceil((pageSize + PAGE_HEADER_BYTES) / fsStats.bsize) * fsStats.bsize;
    const room = spare > 0 ? Math.floor((spare * pageSize) / perPage) : spare;
    return Math.max(0, Math.min(this.quotaBytes, onDisk + room));
  }

  get name(): string {
    return this.index.name;
  }

  fileDir(fileId: string): string {
    return join(this.dir, fileId.slice(0, 2), fileId);
  }

  pagePath(fileId: string, index: number): string {
    return join(this.fileDir(fileId), `${index}.page`);
  }

  /** Writes header + payload with one writev (no copy of the payload), then renames into place. */
  async writePage(fileId: string, index: number, data: Buffer): Promise<void> {
    const header = encodePageHeader(index, data);
    const final = this.pagePath(fileId, index);
    const temp = `${final}.${this.tempTag}.${++this.tempSeq}${TEMP_SUFFIX}`;
    // Page 0 usually starts a new file: its directory is made first (one mkdir, no failed open).
    // Other pages try the directory and create it on ENOENT: saves a mkdir per page, and covers
    // deleteFile removing an emptied directory between our mkdir and open.
    if (index === 0) await this.makeFileDir(fileId);
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
        await rename(temp, final);
        return;
      } catch (err) {
        if (created) await unlink(temp).catch(() => {});
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) {
          await this.makeFileDir(fileId);
          continue;
        }
        throw writeError(err);
      }
    }
  }

  /** A file's page directory: one mkdir when its prefix directory exists (the common case). */
  private async makeFileDir(fileId: string): Promise<void> {
    const dir = this.fileDir(fileId);
    try {
      await mkdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      try {
        if (code === 'ENOENT') await mkdir(dir, { recursive: true });
        else throw err;
      } catch (mkdirErr) {
        throw writeError(mkdirErr);
      }
    }
  }

  async readPage(fileId: string, index: number): Promise<ReadResult> {
    let file: Buffer;
    try {
      file = await readFile(this.pagePath(fileId, index));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { ok: false, missing: true, reason: 'missing' };
      throw toStrataError(err, 'INTERNAL');
    }
    const payload = decodePageFile(file, index);
    return typeof payload === 'string'
      ? { ok: false, missing: false, reason: payload }
      : { ok: true, data: payload };
  }

  async unlinkPage(fileId: string, index: number): Promise<void> {
    await unlink(this.pagePath(fileId, index)).catch(ignoreMissing);
  }

  /** Removes a file's directory (and its prefix directory) when empty; a race with a put is harmless. */
  async removeFileDir(fileId: string): Promise<void> {
    const dir = this.fileDir(fileId);
    try {
      await rmdir(dir);
      await rmdir(join(this.dir, fileId.slice(0, 2)));
    } catch {
      // ENOTEMPTY / ENOENT: another page or file still lives there.
    }
  }

  /**
   * Lists every page under the directory: readdir of the two directory levels, one stat per page
   * (bounded concurrency). Headers are not read here — a page's length is validated from its
   * size and its checksum on first read. Temporary files (crash leftovers) are deleted.
   */
  async scan(concurrency = 64): Promise<ScanResult> {
    await mkdir(this.dir, { recursive: true });
    // Two limiters: a directory job waits on stat jobs, so they must not share slots.
    const dirLimiter = new Limiter(Math.max(1, concurrency >> 2));
    const statLimiter = new Limiter(concurrency);
    const pages: ScannedPage[] = [];
    let badPages = 0;
    let tempFilesRemoved = 0;

    const scanPage = async (path: string, fileId: string, index: number): Promise<void> => {
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile()) return;
      if (st.size < PAGE_HEADER_BYTES) {
        badPages++;
        await unlink(path).catch(ignoreMissing);
        return;
      }
      pages.push({ fileId, index, bytes: st.size - PAGE_HEADER_BYTES, mtimeMs: st.mtimeMs });
    };

    const scanFileDir = async (fileId: string): Promise<void> => {
      const fileDir = this.fileDir(fileId);
      const names = await readdir(fileDir).catch(() => [] as string[]);
      const jobs: Promise<void>[] = [];
      let pageNames = 0;
      for (const name of names) {
        const path = join(fileDir, name);
        if (name.endsWith(TEMP_SUFFIX)) {
          tempFilesRemoved++;
          jobs.push(statLimiter.run(() => unlink(path).catch(ignoreMissing)));
          continue;
        }
        const m = PAGE_NAME.exec(name);
        if (m === null) continue;
        pageNames++;
        jobs.push(statLimiter.run(() => scanPage(path, fileId, Number(m[1]))));
      }
      await Promise.all(jobs);
      if (pageNames === 0) await this.removeFileDir(fileId);
    };

    const dirJobs: Promise<void>[] = [];
    for (const prefix of await readdirDirs(this.dir)) {
      for (const fileId of await readdirDirs(join(this.dir, prefix))) {
        if (!FILE_ID.test(fileId) || fileId.slice(0, 2) !== prefix) continue;
        dirJobs.push(dirLimiter.run(() => scanFileDir(fileId)));
      }
    }
    await Promise.all(dirJobs);
    return { pages, badPages, tempFilesRemoved };
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
