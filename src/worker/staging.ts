import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { abortError } from '../core/abort.js';
import { isAbortError, StrataError, toStrataError } from '../core/errors.js';

export interface StagedFile {
  readonly id: string;
  readonly file: string;
  readonly size: number;
}

/** A write small enough to be held in memory instead of a staging file (receiveSmall). */
export interface HeldBody {
  readonly id: string;
  readonly data: Buffer;
}

function newStagingId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/**
 * Local staging files for writes: the durable copy of an ASYNC_THROUGH write until it is
 * persisted, the only copy of a MUST_CACHE file, and a bounded-memory buffer for CACHE_THROUGH
 * (whose cache pages need the store's fingerprint, known only after the store write).
 */
export class StagingArea {
  constructor(readonly dir: string) {}

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Streams `source` into a new staging file; with `durable`, fsyncs before returning. */
  async receive(source: Readable, durable: boolean, signal?: AbortSignal): Promise<StagedFile> {
    const id = newStagingId();
    const file = join(this.dir, id);
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    try {
      await pipeline(source, createWriteStream(file, { flags: 'wx', mode: 0o600 }), signal ? { signal } : {});
      if (durable) {
        const fh = await open(file, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      await rm(file, { force: true });
      if (err instanceof StrataError) throw err;
      // The caller went away (its signal) or the disk is full: say so, not INTERNAL.
      if (signal?.aborted) throw abortError(signal);
      if (isAbortError(err)) throw toStrataError(err);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC')
        throw new StrataError('CACHE_FULL', 'no space left to stage the write', { cause: err });
      if ((err as NodeJS.ErrnoException).code === 'EROFS')
        throw new StrataError('READ_ONLY', 'the staging directory is read-only: cannot stage the write', {
          cause: err,
        });
      throw new StrataError('INTERNAL', 'failed to stage the write', { cause: err });
    }
    return { id, file, size };
  }

  /**
   * Reads a body declared small into memory: a CACHE_THROUGH write of a few KiB then costs no
   * staging file (create, write, close, reopen twice to upload and import, unlink: ~12 syscalls
   * and as many thread-pool round trips). Memory stays bounded: past `max` bytes (a body longer
   * than declared) the rest is staged in a file as usual.
   */
  async receiveSmall(source: Readable, max: number, signal?: AbortSignal): Promise<HeldBody | StagedFile> {
    const id = newStagingId();
    const chunks: Buffer[] = [];
    let size = 0;
    const onAbort = () => source.destroy(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      if (signal?.aborted) throw abortError(signal);
      for (;;) {
        const next = await it.next();
        if (next.done) break;
        chunks.push(next.value);
        size += next.value.length;
        if (size > max) {
          // Longer than declared: what came so far and the rest go to a staging file.
          async function* rest(): AsyncGenerator<Buffer> {
            yield* chunks;
            for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
          }
          return await this.receive(Readable.from(rest(), { objectMode: false }), false, signal);
        }
      }
    } catch (err) {
      if (err instanceof StrataError) throw err;
      if (signal?.aborted) throw abortError(signal);
      if (isAbortError(err)) throw toStrataError(err);
      throw new StrataError('INTERNAL', 'failed to receive the write', { cause: err });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    // One copy of exact length: the page cache keeps this, not the chunks it came in.
    return { id, data: Buffer.concat(chunks, size) };
  }

  read(file: string, offset: number, length: number): Readable {
    if (length === 0) return Readable.from([]);
    const stream = createReadStream(file, {
      start: offset,
      end: offset + length - 1,
      highWaterMark: 1024 * 1024,
    });
    // A stream its consumer never read (a store that refused the write up front) opens the file
    // after the staging file was removed: that late ENOENT must not be an uncaught 'error'. A
    // consumer that reads it attaches its own listeners and still gets every error.
    stream.on('error', () => undefined);
    return stream;
  }

  /** Like read(), but opens the file first, so a missing file is a rejection, not a stream error. */
  async openRange(file: string, offset: number, length: number): Promise<Readable> {
    if (length === 0) return Readable.from([]);
    const fh = await open(file, 'r');
    return fh.createReadStream({
      start: offset,
      end: offset + length - 1,
      highWaterMark: 1024 * 1024,
      autoClose: true,
    });
  }

  /** Reads an exact range of a staging file. */
  async readRange(file: string, offset: number, length: number): Promise<Buffer> {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === length ? buf : buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  async remove(file: string): Promise<void> {
    await rm(file, { force: true });
  }

  /** Staging files not in `keep` are leftovers of writes never acknowledged: removed at startup. */
  async sweep(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const file = join(this.dir, name);
      if (!keep.has(file)) {
        await rm(file, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }
}
