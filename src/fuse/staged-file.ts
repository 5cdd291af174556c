import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileInfo, StrataFileSystem, WriteType } from '../client/types.js';

/**
 * A file being written through the mount: a local copy (the staging file) that takes writes at any
 * offset, truncation and appends, and is committed whole to Strata with fs.write on flush/fsync/close.
 * One staged file per path is shared by every handle open on it, so they all see the same bytes.
 */
export class StagedFile {
  path: string;
  readonly #file: FileHandle;
  readonly #local: string;
  #size: number;
  dirty: boolean;
  refs = 0;
  #commits: Promise<unknown> = Promise.resolve();

  private constructor(path: string, local: string, file: FileHandle, size: number, dirty: boolean) {
    this.path = path;
    this.#local = local;
    this.#file = file;
    this.#size = size;
    this.dirty = dirty;
  }

  /** New empty staged file (create, O_TRUNC): dirty, so even an empty file is committed. */
  static async empty(dir: string, id: number, path: string): Promise<StagedFile> {
    const local = join(dir, `${id}.staged`);
    const file = await open(local, 'w+');
    return new StagedFile(path, local, file, 0, true);
  }

  /** Staged copy of an existing file (open for writing without O_TRUNC, truncate to a size). */
  static async copyOf(
    dir: string,
    id: number,
    fs: StrataFileSystem,
    path: string,
    signal: AbortSignal,
  ): Promise<StagedFile> {
    const local = join(dir, `${id}.staged`);
    const source = await fs.read(path, { signal });
    await pipeline(source, createWriteStream(local));
    const file = await open(local, 'r+');
    const { size } = await file.stat();
    return new StagedFile(path, local, file, size, false);
  }

  get size(): number {
    return this.#size;
  }

  async write(data: Buffer, offset: number, append: boolean): Promise<number> {
    const at = append ? this.#size : offset;
    this.dirty = true;
    // Extend the known size before awaiting, so concurrent appends and getattr agree.
    this.#size = Math.max(this.#size, at + data.length);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#file.write(data, done, data.length - done, at + done);
      done += bytesWritten;
    }
    return done;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.#size - offset));
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.#file.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async truncate(size: number): Promise<void> {
    await this.#file.truncate(size);
    this.#size = size;
    this.dirty = true;
  }

  /** Writes the whole staged content to Strata; commits of one file run one after another. */
  commit(fs: StrataFileSystem, writeType: WriteType | undefined, signal: AbortSignal): Promise<FileInfo> {
    const run = async (): Promise<FileInfo> => {
      this.dirty = false;
      const size = this.#size;
      const body =
        size === 0 ? Readable.from([]) : createReadStream(this.#local, { start: 0, end: size - 1 });
      try {
        return await fs.write(this.path, body, {
          size,
          signal,
          ...(writeType === undefined ? {} : { writeType }),
        });
      } catch (err) {
        this.dirty = true;
        body.destroy();
        throw err;
      }
    };
    const p = this.#commits.then(run, run);
    this.#commits = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.#file.close().catch(() => undefined);
    await rm(this.#local, { force: true });
  }
}
